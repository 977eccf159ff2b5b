# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Denoising with a diffusion model

# %% tags=["colab-setup"]
# Colab setup: installs tinyddpm (this release, with the book's extras) and turns on Colab's
# widget manager when this notebook runs in Colab; does nothing elsewhere.
import subprocess
import sys

if "google.colab" in sys.modules:
    SPEC = "tinyddpm[book] @ git+https://github.com/tinyddpm/tinyddpm@v0.1.0"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", SPEC], check=True)
    from google.colab import output  # ipywidgets 8 (the playground's controls) need Colab's widget manager

    output.enable_custom_widget_manager()

# %% [markdown]
# Chapter 2 ended with an identity: for a clean digit $x_0$ (model units) and Gaussian noise of
# standard deviation $\sigma$ in pixel units, which is $2\sigma$ in model units,
#
# $$ y = x_0 + 2\sigma\,n \quad\Longrightarrow\quad \sqrt{\bar\alpha_{t^*}}\; y \;\sim\; q(x_{t^*} \mid x_0)
#    \qquad\text{when}\qquad \bar\alpha_{t^*} = \frac{1}{1+4\sigma^2}. $$
#
# A noisy image *is* a point of the forward chain. So the trained reverse chain of chapter 4
# can take over from $t^*$: no new training, no new model. This chapter derives that map, then
# measures what it gives: how the matched start compares with a start step picked by hand, as in
# the project tinyddpm grew out of, over that project's whole range of noise; what the one-step
# posterior mean, deterministic DDIM, ancestral samples and averages of samples each deliver; why
# a sample is *necessarily* worse in squared error than the posterior mean; and where the method
# fails. Symbols are listed on the {doc}`notation` page.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue

import tinyddpm
from tinyddpm import samplers, viz
from tinyddpm.harness import baselines, student
from tinyddpm.harness.book_data import HTMLTable
from tinyddpm.checkpoint import pretrained_path
from tinyddpm.denoise import MAX_PIXEL_SIGMA
from tinyddpm.diffusion import q_sample
from tinyddpm.harness.evaluate import noisy_set
from tinyddpm.metrics import mse, pooled_psnr, predict_labels, psnr
from tinyddpm.schedules import NoiseSchedule
from tinyddpm.harness.train import TrainConfig, sample_timesteps

# %%
model, schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
x, labels = tinyddpm.load_sample()  # 1,000 test digits, 100 per class
print(f"schedule: {schedule.kind}, T = {schedule.T}")

# %% [markdown]
# ## From sigma to t*: the variance-exploding view
#
# Users speak in pixel units (images in $[0, 1]$); the model works in model units, $[-1, 1]$.
# The map $x_0 = 2x - 1$ stretches every distance by two, so a noisy image $x + \sigma n$ becomes
# $2(x + \sigma n) - 1 = x_0 + 2\sigma n$: data in $[-1, 1]$ span twice the pixel range, and so
# does their noise.
#
# The forward chain of chapter 2 is *variance preserving* (VP): $x_t = \sqrt{\bar\alpha_t}\,x_0 +
# \sqrt{1-\bar\alpha_t}\,\epsilon$ shrinks the signal as it adds noise and keeps the total
# variance near one. Karras et al. {cite}`karras2022edm` describe the same noisy images in a
# *variance-exploding* (VE) view. Divide by $\sqrt{\bar\alpha_t}$: the signal stays as it is and
# only the noise grows,
#
# $$ \frac{x_t}{\sqrt{\bar\alpha_t}} = x_0 + \sigma_{\mathrm K}(t)\,\epsilon, \qquad
#    \sigma_{\mathrm K}(t) = \sqrt{\frac{1-\bar\alpha_t}{\bar\alpha_t}} = \frac{1}{\sqrt{\mathrm{SNR}_t}}, $$
#
# from $\sigma_{\mathrm K}(0) = 0$ up to $\sigma_{\mathrm K}(T)$. That is the form of a given
# noisy image. Given $x_0$, both $y$ and $x_t/\sqrt{\bar\alpha_t}$ are Gaussian with mean $x_0$
# and independent pixels, of standard deviation $2\sigma$ and $\sigma_{\mathrm K}(t)$. So they
# have the same distribution at the step $t^*$ where the two agree:
#
# $$ \frac{1-\bar\alpha_{t^*}}{\bar\alpha_{t^*}} = 4\sigma^2
#    \quad\iff\quad \bar\alpha_{t^*} = \frac{1}{1+4\sigma^2},
#    \qquad\text{and then}\qquad x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y \;\sim\; q(x_{t^*} \mid x_0). $$
#
# Multiplying by $\sqrt{\bar\alpha_{t^*}}$ carries the image from the VE view back into the VP
# chain the network was trained on; in the VE view, $2\sigma$ is Karras et al.'s $\sigma$.
#
# The schedule tabulates $\bar\alpha$ at whole steps, and $1/(1+4\sigma^2)$ usually falls between
# two of them. The package interpolates linearly between grid steps,
# $\bar\alpha(k + w) = (1-w)\,\bar\alpha_k + w\,\bar\alpha_{k+1}$ for $0 \le w \le 1$; since
# $\bar\alpha$ decreases, one pair of neighbours brackets the target $\bar\alpha^*$, and
#
# $$ t^* = k + \frac{\bar\alpha_k - \bar\alpha^*}{\bar\alpha_k - \bar\alpha_{k+1}}. $$
#
# `NoiseSchedule.t_from_sigma` solves this for a model-unit $\sigma_{\mathrm K}$, and
# `tinyddpm.start_step` calls it with $2\sigma$. The model, trained on continuous $t$, is
# evaluated at the fractional $t^*$. For a few noise levels (the last column turns
# $\bar\alpha_{t^*}$ back into a pixel sigma, $\sigma_{\mathrm K}(t^*)/2$):

# %%
body = []
for sigma in (0.1, 0.2, 0.3, 0.5, 1.0, 2.0):
    t_star = float(tinyddpm.start_step(sigma, schedule))
    ab = float(schedule.alpha_bar_at(t_star))
    body.append([f"{sigma:.1f}", f"{t_star:.3f}", f"{ab:.4f}", f"{((1 - ab) / ab) ** 0.5 / 2:.4f}"])
HTMLTable(["sigma", "t*", "alpha_bar at t*", "sigma back from alpha_bar"], body)

# %% [markdown]
# Two numerical checks of the derivation. The round trip $\sigma \to t^* \to \sigma$ over the
# whole range the package accepts:

# %%
sig = torch.logspace(-2, 0.5, 200, dtype=torch.float64)  # pixel sigmas from 0.01 to 3.16
back = schedule.sigma_from_t(tinyddpm.start_step(sig, schedule)) / 2  # sigma_K(t*) / 2
print("sigma -> t* -> sigma agrees to a relative 1e-9:", bool(((back - sig).abs() / sig < 1e-9).all()))

# %% [markdown]
# And the distribution: many noisy copies of one digit, scaled by $\sqrt{\bar\alpha_{t^*}}$,
# against as many draws of the forward process $q(x_{t^*} \mid x_0)$ itself. Per pixel, their
# means and standard deviations should agree up to sampling error: measured in standard errors,
# the differences should have a root mean square near one, and far above one if the scaled
# image were the wrong distribution:

# %%
x0, copies = tinyddpm.to_model(x[:1]), 10_000  # one digit, model units
for sigma in (0.3, 2.0):
    t_star = tinyddpm.start_step(sigma, schedule)
    ab = schedule.alpha_bar_at(t_star).float()
    y = x0 + 2 * sigma * torch.randn(copies, 1, 28, 28, generator=tinyddpm.seeded(0))
    n = torch.randn(copies, 1, 28, 28, generator=tinyddpm.seeded(1))
    x_t = q_sample(x0.expand(copies, -1, -1, -1), t_star, n, schedule)  # the forward process at t*
    z_mean = (ab.sqrt() * y.mean(0) - x_t.mean(0)) / (2 * (1 - ab) / copies).sqrt()  # in standard errors
    z_std = (ab.sqrt() * y.std(0) - x_t.std(0)) / ((1 - ab) / copies).sqrt()
    print(f"sigma {sigma}: t* = {float(t_star):.1f}; RMS of the per-pixel differences in standard "
          f"errors:\n  means {float(z_mean.pow(2).mean().sqrt()):.2f}, stds {float(z_std.pow(2).mean().sqrt()):.2f}")

# %% [markdown]
# Two details matter. The chain starts at $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$, not at $y$: the
# forward chain shrinks the signal as it adds noise, and the network expects that. And $y$ is
# never clipped to $[0, 1]$ first: clipping changes the noise (it is no longer Gaussian, and
# smaller), so the identity above would no longer hold.
#
# The idea is not new. SDEdit {cite}`meng2022sdedit` edits an image by noising a guide (a rough
# painting) to an intermediate step and running the reverse chain from there; Ho et al.
# {cite}`ho2020ddpm` had already started the chain in the middle in their figure 7, from noised
# versions of one test image, and found that the samples keep that image's high-level
# attributes. Carlini et al. {cite}`carlini2023certified` use the recipe of this chapter: map
# $\sigma$ to $t^*$, scale $y$ by $\sqrt{\bar\alpha_{t^*}}$ and take one Tweedie step, to denoise
# the Gaussian-noised inputs of randomized smoothing and so certify the robustness of an
# off-the-shelf classifier.
#
# ## One step: the posterior mean
#
# With the noise prediction at $x_{t^*}$, Tweedie's formula {cite}`efron2011tweedie,miyasawa1961`
# gives the minimum-mean-squared-error estimate in one network evaluation:
#
# $$ \hat x_0 = \mathbb E[x_0 \mid y] = \frac{x_{t^*} - \sqrt{1-\bar\alpha_{t^*}}\,\epsilon_\theta(x_{t^*}, t^*)}{\sqrt{\bar\alpha_{t^*}}}. $$
#
# This is `tinyddpm.denoise`'s default method. On all 1,000 bundled digits at $\sigma = 0.3$:

# %%
sigma = 0.3
y = noisy_set(x, sigma)
pick = torch.stack([torch.nonzero(labels == c)[0, 0] for c in range(10)])  # one digit per class
pm = tinyddpm.denoise(y, sigma, model=model, schedule=schedule)
print(f"noisy input:    {float(psnr(y, x).mean()):.2f} dB")
print(f"posterior mean: {float(psnr(pm, x).mean()):.2f} dB  (1,000 digits)")
viz.comparison({"clean": x[pick], "noisy": y[pick], "posterior mean": pm[pick]})

# %% [markdown]
# ## The student's procedure, and what it never met
#
# The project this book answers trained a DDPM on the linear $T = 300$ schedule (32x32 digits,
# a plain U-Net, an L1 loss) and reported: "It works well on the MNISt dataset, it can clear the
# noise I add into the original image" (the student's write-up). Their code made every noisy
# input with the forward process itself, $x_s = \sqrt{\bar\alpha_s}\,x_0 + \sqrt{1-\bar\alpha_s}\,\epsilon$,
# at a step $s$ drawn uniformly from 50 to 299, so every input was already scaled by
# $\sqrt{\bar\alpha_s}$; it started the reverse chain at the true step rounded down to a multiple
# of ten ("manually input"), ran unit ancestral steps down to 0 and clamped to $[-1, 1]$ after
# every one. For the inputs it was given, that procedure is right. What it never met is a plain
# noisy image $y = x + \sigma n$ whose $\sigma$ nobody wrote down.
#
# How much noise did it meet? Each step $s$ of their schedule is a pixel sigma,
# $\sqrt{(1-\bar\alpha_s)/\bar\alpha_s}\,/\,2$ (the map above, read backwards). And how much was
# tinyddpm's own model trained on? Its checkpoint stores its training configuration, and
# `sample_timesteps` redraws its training steps:

# %%
steps = student.procedure_sigmas()  # the steps the student's procedure draws (50 .. 299), as pixel sigma
above = {level: 100 * float((steps > level).double().mean()) for level in (0.5, 1.0)}
print(f"the student's noisy inputs: sigma {float(steps.min()):.2f} to {float(steps.max()):.2f}")
print(f"  above 0.5: {above[0.5]:.1f} %, above 1.0: {above[1.0]:.1f} %")
cfg = TrainConfig.from_dict(tinyddpm.load_model(pretrained_path("ddpm"))[2]["train_config"])
t_train = sample_timesteps(cfg, schedule, 100_000, tinyddpm.seeded(0))  # as training drew them
train_sigma = schedule.sigma_from_t(t_train) / 2
print(f"tinyddpm's model: t_sampling {cfg.t_sampling!r}, a share {cfg.sigma_share} log-uniform\n"
      f"  in sigma {cfg.sigma_range}, the rest uniform in t on [0, {schedule.T}]")
ddpm_above = {level: 100 * float((train_sigma > level).double().mean()) for level in (1.0, 2.0)}
print("  its training draws above sigma 1.0 and 2.0: " + ", ".join(f"{v:.1f} %" for v in ddpm_above.values()))
print(f"tinyddpm.denoise refuses sigma above {MAX_PIXEL_SIGMA}")

# %% [markdown]
# Past the end of its log-uniform range, what does tinyddpm's model still do? Its posterior mean on
# the 1,000 bundled digits, and the share of them the classifier reads as the digit that was
# written:

# %%
far = {}
for sigma in (1.0, 2.0):
    y_far = noisy_set(x, sigma)
    pm_far = tinyddpm.denoise(y_far, sigma, model=model, schedule=schedule)
    far[sigma] = (float(psnr(y_far, x).mean()), float(psnr(pm_far, x).mean()),
                  100 * float((predict_labels(classifier, pm_far) == labels).float().mean()))
    print(f"sigma {sigma}: noisy {far[sigma][0]:.2f} dB, posterior mean {far[sigma][1]:.2f} dB,\n"
          f"  read as the written digit {far[sigma][2]:.1f} %")

# %% tags=["hide-input"]
glue("draw_lo", float(steps.min()), display=False)
glue("draw_hi", float(steps.max()), display=False)
glue("draw_above_05", above[0.5], display=False)
glue("draw_above_10", above[1.0], display=False)
glue("ddpm_share", cfg.sigma_share, display=False)
glue("ddpm_lo", cfg.sigma_range[0], display=False)
glue("ddpm_hi", cfg.sigma_range[1], display=False)
glue("ddpm_above_10", ddpm_above[1.0], display=False)
glue("ddpm_above_20", ddpm_above[2.0], display=False)
glue("max_pixel_sigma", MAX_PIXEL_SIGMA, display=False)
for sigma, (noisy_db, pm_db, same) in far.items():
    glue(f"far_noisy_{sigma}", noisy_db, display=False)
    glue(f"far_pm_{sigma}", pm_db, display=False)
    glue(f"far_same_{sigma}", same, display=False)
info = tinyddpm.load_model(pretrained_path("student"))[2]  # how the shipped student network was trained
glue("student_minutes", info["wall_time_s"] / 60, display=False)
glue("student_epochs", info["steps"] * info["batch_size"] / info["train_digits"], display=False)
glue("student_digits", info["train_digits"], display=False)
glue("student_flips", "with" if info["flips"] else "without", display=False)
glue("student_max_sigma", student.schedule().max_sigma / 2, display=False)

# %% [markdown]
# The student's procedure drew its steps so that the noise ran from $\sigma =$
# {glue:text}`draw_lo:.2f` to {glue:text}`draw_hi:.2f`, the most their schedule reaches:
# {glue:text}`draw_above_05:.1f` % of its noisy inputs lie above $\sigma = 0.5$ and
# {glue:text}`draw_above_10:.1f` % above $1.0$, where this chapter has not yet looked.
# tinyddpm's own model spent {glue:text}`ddpm_share:.0%` of its training draws log-uniform in $\sigma$ from
# {glue:text}`ddpm_lo:.2f` to {glue:text}`ddpm_hi:.2f` and the rest uniform in $t$; its cosine
# schedule reaches far beyond any useful noise level, so above $\sigma =$
# {glue:text}`ddpm_hi:.1f` it saw only the uniform draws: {glue:text}`ddpm_above_10:.1f` % of all
# draws lie above $\sigma = 1.0$, {glue:text}`ddpm_above_20:.1f` % above $2.0$. Its targeted range
# ends at $\sigma =$ {glue:text}`ddpm_hi:.1f`, and `tinyddpm.denoise` refuses any $\sigma$ above
# {glue:text}`max_pixel_sigma:.1f`. Past the targeted range its posterior mean reaches
# {glue:text}`far_pm_1.0:.1f` dB at $\sigma = 1.0$, with {glue:text}`far_same_1.0:.1f` % of the
# digits read as written, and {glue:text}`far_pm_2.0:.1f` dB at $\sigma = 2.0$, with
# {glue:text}`far_same_2.0:.1f` %: at $\sigma = 2.0$ a noisy image holds little of its digit, and
# the posterior mean is a blur of the digits it could have been.
#
# `tinyddpm.harness.student` rebuilds the student's recipe from the facts of their code, and the package
# ships a network like theirs: the student's U-Net at 3/8 of its channel widths (so that the
# weights stay small), trained here with their recipe (L1 loss, Adam, their schedule, steps
# uniform over all of it, so up to $\sigma =$ {glue:text}`student_max_sigma:.2f`) for
# {glue:text}`student_minutes:.0f` minutes on a CPU: about {glue:text}`student_epochs:.0f` passes
# over the {glue:text}`student_digits:,d` training digits, {glue:text}`student_flips` flips,
# where the student trained the full width for 300 epochs (`benchmarks/student.py` says how).
# Three ways to use it on the same four digits: **(a)** their own kind of input, made by the
# forward process at the step equivalent to $\sigma$, with their chain; **(b)** a plain noisy
# image fed their way, unscaled, from the step whose noise *looks* like $\sigma$ (its
# $\sqrt{1-\bar\alpha_s}$ equals $2\sigma$, model units); **(c)** the same network the tinyddpm
# way: $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$ at the matched $t^*$ and one posterior-mean step.
# The noise is drawn at 32x32 on the resized digit and PSNR is measured there, in the network's
# own space, against the resized digit.

# %%
net, _ = tinyddpm.pretrained("student")  # a network like theirs
lin = student.schedule()  # their linear T = 300 schedule
ab_s = lin.alpha_bar[1:].float()  # the student's steps s = 0 .. 299
few = torch.stack([torch.nonzero(labels == c)[0, 0] for c in (2, 5, 6, 8)])
x32 = student.to_student(x[few])  # their data: 32x32 in [-1, 1]

# %% [markdown]
# The three settings share one draw of the noise $n$ and one seed for the chain's fresh noise:

# %%
def three_settings(sigma):
    """(y, a, b, c) for the four digits at pixel noise sigma, all 32x32 in model units."""
    n = torch.randn(x32.shape, generator=tinyddpm.seeded(0))
    k = round(student.equivalent_step(sigma))
    x_s = ab_s[k].sqrt() * x32 + (1 - ab_s[k]).sqrt() * n  # (a): the forward process at the equivalent step
    y = x32 + 2 * sigma * n  # (b), (c): plain noise, the same n
    a, _ = student.student_chain(net, x_s, k // 10 * 10, lin, tinyddpm.seeded(1))
    eye = student.by_eye_step(sigma)  # (b): the step that looks as noisy as y, unscaled y
    b, _ = student.student_chain(net, y.clamp(-1, 1), eye // 10 * 10, lin, tinyddpm.seeded(1))
    c = student.matched_posterior_mean(net, y, sigma)  # (c): one step from the matched t*
    return y, a, b, c


# %% [markdown]
# First at the noise levels of the rest of this chapter, then at the top of the student's range
# (their chains from there run for nearly all of their steps, four digits at a time):

# %%
outputs = {sigma: three_settings(sigma) for sigma in (0.1, 0.3, 0.5, 1.0, 2.0)}


# %% tags=["hide-input"]
def db32(v):  # PSNR at 32x32 against the resized digit
    return float(psnr(((v + 1) / 2).clamp(0, 1), (x32 + 1) / 2).mean())


rows, rows_high, body = {"clean": x[few]}, {"clean": x[few]}, []
for sigma, settings in outputs.items():
    s_eq, eye = student.equivalent_step(sigma), student.by_eye_step(sigma)
    db = [db32(v) for v in settings]
    body.append([f"{sigma}", f"{s_eq:.0f}, {eye}", *(f"{v:.2f} dB" for v in db)])
    outs = [student.from_student(v) for v in settings]  # back to 28x28, for the figures
    (rows if sigma <= 0.5 else rows_high).update(
        {f"noisy, σ {sigma}": outs[0], f"(a) σ {sigma}": outs[1], f"(b) σ {sigma}": outs[2], f"(c) σ {sigma}": outs[3]})
    for name, v in zip(("a", "b", "c"), db[1:]):
        glue(f"student_{name}_{sigma}", v, display=False)
    glue(f"student_eye_{sigma}", eye, display=False)
    glue(f"student_eq_{sigma}", s_eq, display=False)
    glue(f"start_a_{sigma}", round(s_eq) // 10 * 10, display=False)
    glue(f"start_b_{sigma}", eye // 10 * 10, display=False)
    cost, answer = db[1] - db[2], db[3] - db[1]  # (a) - (b): the assumptions; (c) - (a): sample vs mean
    glue(f"assume_cost_{sigma}", f"cost {cost:.1f} dB" if cost >= 0.05 else "cost next to nothing (under 0.05 dB)"
         if cost > -0.05 else f"cost nothing (the plain image scores {-cost:.1f} dB more)", display=False)
    glue(f"answer_cost_{sigma}", answer, display=False)
    glue(f"answer_cmp_{sigma}", "more" if answer > cost else "less", display=False)
    reads = {name: predict_labels(classifier, v) for name, v in zip(("a", "b", "c"), outs[1:])}
    for name in ("a", "c"):
        glue(f"same_{name}_{sigma}", int((reads[name] == labels[few]).sum()), display=False)
        changed = [f"{int(t)} as {int(r)}" for t, r in zip(labels[few], reads[name]) if t != r]
        glue(f"changed_{name}_{sigma}", ", ".join(changed) or "none", display=False)
    same_ab = int((reads["a"] == reads["b"]).sum())
    glue(f"same_ab_{sigma}", same_ab, display=False)
    decides = same_ab >= 3 and same_ab > int((reads["a"] == labels[few]).sum())  # (a), (b) agree, not with the truth
    glue(f"noise_decides_{sigma}", "From this high, the chain draws its digit out of the noise, not out of the digit "
         "that was written." if decides else "", display=False)
glue("student_last_signal", float(ab_s[-1].sqrt()), display=False)
display(HTMLTable(["sigma", ("step: equivalent,", "by eye"), "noisy", "(a) their inputs",
                   ("(b) plain y,", "their way"), ("(c) plain y,", "matched, 1 step")], body))
viz.comparison(rows)

# %% [markdown]
# The student's figures showed the chain itself: the first image of the batch at ten points from
# the start step down to 0. The same view, for the first digit above at $\sigma = 0.3$: their
# chain on their input (setting (a), with the network like theirs), and tinyddpm's ten DDIM steps
# from the matched $t^*$ on the same digit with plain noise (the shipped model). Each frame is
# the state $x$ itself (the student's after each of their steps $s$, labelled by $s$), so the
# student's early frames still carry the $\sqrt{\bar\alpha}$-scaled signal.

# %%
sigma = 0.3
n = torch.randn(x32.shape, generator=tinyddpm.seeded(0))
k = round(student.equivalent_step(sigma))
x_s = ab_s[k].sqrt() * x32 + (1 - ab_s[k]).sqrt() * n
start = k // 10 * 10
_, shots = student.student_chain(net, x_s[:1], start, lin, tinyddpm.seeded(1), snapshots=10)
shot_steps = torch.linspace(start, 0, 10).round().long().tolist()  # where the snapshots were taken
viz.trajectory([student.from_student(v) for v in shots], columns=[f"after {v}" for v in shot_steps])

# %%
t_star = float(tinyddpm.start_step(sigma, schedule))
ts_ddim = samplers.ddim_timesteps(t_star, 9)  # ten states from t* down to 0
state = schedule.alpha_bar_at(t_star).sqrt().float() * tinyddpm.to_model(noisy_set(x, sigma)[few[:1]])
states = [state]
with torch.no_grad():
    for t, t_next in zip(ts_ddim, ts_ddim[1:]):
        state = samplers.ddim_step(model, state, t, t_next, schedule)
        states.append(state)
viz.trajectory([tinyddpm.to_pixels(v).clamp(0, 1) for v in states], columns=[f"t = {t:.0f}" for t in ts_ddim])

# %% [markdown]
# On its own inputs the student's procedure does what the write-up says: at $\sigma = 0.3$ it
# scores {glue:text}`student_a_0.3:.1f` dB on these digits. Fed a plain noisy image the
# student's way, unscaled and from the step that looks right (step {glue:text}`student_eye_0.3`
# where the equivalent step is {glue:text}`student_eq_0.3:.0f`), it gives
# {glue:text}`student_b_0.3:.1f` dB: at moderate noise the missing $\sqrt{\bar\alpha}$ is a small
# factor and the eye's step is not far off. At $\sigma = 0.5$ no step of this schedule looks noisy
# enough (its last keeps a share $\sqrt{\bar\alpha}$ = {glue:text}`student_last_signal:.2f` of the
# signal), so the eye picks the last one and the chain redraws the digit from almost nothing:
# {glue:text}`student_b_0.5:.1f` dB. The same network asked the tinyddpm way, one step from the
# matched $t^*$, gives {glue:text}`student_c_0.3:.1f` and {glue:text}`student_c_0.5:.1f` dB.
#
# The table separates two costs. The procedure's two hidden assumptions, that the input is
# scaled by $\sqrt{\bar\alpha}$ and that its step is known, are the difference between (a) and
# (b): at $\sigma = 0.3$ they {glue:text}`assume_cost_0.3`, at $\sigma = 0.5$ they
# {glue:text}`assume_cost_0.5`. The kind of answer is the difference between (c) and (a): a chain
# of ancestral steps ends in a *sample* of the posterior, sharp and further from the clean digit,
# while one step gives the posterior mean, the closest estimate on average (the rest of this
# chapter measures that trade-off). At $\sigma = 0.3$ the answer costs
# {glue:text}`answer_cost_0.3:.1f` dB, {glue:text}`answer_cmp_0.3` than the assumptions; at
# $\sigma = 0.5$ {glue:text}`answer_cost_0.5:.1f` dB, {glue:text}`answer_cmp_0.5` than the
# assumptions. All three settings use the same network, so neither difference is a verdict on
# it. Chapter 8 repeats this on more digits, beside tinyddpm's own model.
#
# ### The top of their range: $\sigma = 1.0$ and $2.0$
#
# The same three settings, same digits and seeds, at the noise levels where most of the
# student's own noisy inputs lay:

# %% tags=["hide-input"]
viz.comparison(rows_high)

# %% [markdown]
# Above $\sigma = 0.5$ the eye's step stays at the last one, step {glue:text}`student_eye_1.0`,
# and the equivalent step climbs to {glue:text}`student_eq_1.0:.0f` and
# {glue:text}`student_eq_2.0:.0f`. On their own inputs, setting (a), the student's chain scores
# {glue:text}`student_a_1.0:.1f` dB at $\sigma = 1.0$ and {glue:text}`student_a_2.0:.1f` dB at
# $\sigma = 2.0$; fed plain images, setting (b), {glue:text}`student_b_1.0:.1f` and
# {glue:text}`student_b_2.0:.1f` dB; one matched step, setting (c), {glue:text}`student_c_1.0:.1f`
# and {glue:text}`student_c_2.0:.1f` dB. The assumptions {glue:text}`assume_cost_1.0` at
# $\sigma = 1.0$ and {glue:text}`assume_cost_2.0` at $\sigma = 2.0$; the kind of answer costs
# {glue:text}`answer_cost_1.0:.1f` and {glue:text}`answer_cost_2.0:.1f` dB.
#
# What changes up here is the digit itself. A chain started this high redraws most of the
# digit, and the posterior it samples from holds several digits. The classifier reads
# {glue:text}`same_a_1.0` of the four outputs of setting (a) as the digit that was written at
# $\sigma = 1.0$ (changed: {glue:text}`changed_a_1.0`) and {glue:text}`same_a_2.0` at
# $\sigma = 2.0$ (changed: {glue:text}`changed_a_2.0`). The posterior mean of setting (c) does
# not draw one candidate; it averages over them, and the classifier reads its blend as written
# {glue:text}`same_c_1.0` and {glue:text}`same_c_2.0` times out of four (changed:
# {glue:text}`changed_c_1.0`; {glue:text}`changed_c_2.0`). At $\sigma = 2.0$ settings (a) and (b)
# end in the same digit in {glue:text}`same_ab_2.0` of the four cases, although (a) gets the digit
# scaled and (b) clamped to $[-1, 1]$, and they start at steps {glue:text}`start_a_2.0` and
# {glue:text}`start_b_2.0`: both start from images
# dominated by the same noise draw $n$. {glue:text}`noise_decides_2.0` Four digits show the kind of failure,
# not its rate; the failure cases at the end of this chapter look at it on all 1,000 digits at
# $\sigma = 0.5$.
#
# ## A fixed start step, and the matched one
#
# A procedure that has to cope with plain noisy images but keeps the student's chain needs a
# start step chosen once, by hand, and gets the image as it is, unscaled.
# `tinyddpm.harness.baselines.fixed_step_chain` does that, with step 100, on tinyddpm's own network
# (the benchmarks' "fixed step" rows); because that network was trained on continuous $t$, it
# can be asked at any noise level, and a small adapter translates each step of the linear grid
# into the model's own step with the same $\bar\alpha$:
#
# ```{literalinclude} /src/tinyddpm/harness/baselines.py
# :pyobject: ScheduleAdapter.__call__
# :dedent:
# ```

# %%
linear = NoiseSchedule.linear(300)
ab_100 = float(linear.alpha_bar[100])
sigma_100 = ((1 - ab_100) / ab_100) ** 0.5 / 2
print(f"step 100 of the linear T = 300 schedule: alpha_bar = {ab_100:.3f},")
print(f"noise level sigma = {sigma_100:.3f} (pixel units), sqrt(alpha_bar) = {ab_100 ** 0.5:.3f}")
glue("sigma_100", round(sigma_100, 3), display=False)
glue("sqrt_ab_100", round(ab_100**0.5, 3), display=False)

# %% [markdown]
# So step 100 is the right start for one noise level only, $\sigma =$
# {glue:text}`sigma_100:.3f`. Below it the chain believes there is more noise than there is and
# removes detail that was really there; above it, it believes there is less, and leaves noise
# behind. On top of that, the image goes in unscaled: its signal is $1/\sqrt{\bar\alpha_{100}}$
# times too strong for step 100 ($\sqrt{\bar\alpha_{100}} =$ {glue:text}`sqrt_ab_100:.3f`).
#
# The fix changes nothing else: the same network, the same linear grid, the same ancestral
# sampler, but started at the matched $t^*$ from $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$. That is
# exactly `tinyddpm.denoise` with the adapter as its model and the linear schedule as its
# schedule. The chain costs 100 network evaluations per image for the hand-picked start, and
# $t^*$ (rounded up) for the matched one, so four digits per noise level will have to do:

# %%
adapter = baselines.ScheduleAdapter(model, schedule, linear)
fixed = {}
for sigma in (0.1, 0.3, 0.5):
    y_sig = noisy_set(x, sigma)[few]
    original = baselines.fixed_step_chain(y_sig, start_step=100, model=model, schedule=schedule, seed=0)
    matched = tinyddpm.denoise(y_sig, sigma, model=adapter, schedule=linear, method="ancestral", seed=0)
    fixed[sigma] = (y_sig, original, matched)

# %% tags=["hide-input"]
rows, body, gap = {"clean": x[few]}, [], {}
for sigma, (y_sig, original, matched) in fixed.items():
    rows |= {f"noisy, sigma {sigma}": y_sig, f"step 100, sigma {sigma}": original, f"matched, sigma {sigma}": matched}
    t_lin = float(tinyddpm.start_step(sigma, linear))
    db = [float(psnr(im, x[few]).mean()) for im in (y_sig, original, matched)]
    gap[sigma] = db[2] - db[1]
    body.append([f"{sigma}", f"{t_lin:.1f}", f"{db[0]:.2f} dB", f"{db[1]:.2f} dB", f"{db[2]:.2f} dB"])
    glue(f"matched_t_{sigma}", round(t_lin, 1), display=False)
    glue(f"gap_{sigma}", round(gap[sigma], 2), display=False)
display(HTMLTable(["sigma", "matched t*", "noisy PSNR", "step 100 PSNR", "matched PSNR"], body))
viz.comparison(rows)

# %% [markdown]
# At $\sigma = 0.3$ the hand-picked step happens to be nearly right (the matched $t^*$ is
# {glue:text}`matched_t_0.3:.1f`), and the two agree up to the luck of the draw (the matched start
# is {glue:text}`gap_0.3:.2f` dB better). At $\sigma = 0.1$ the hand-picked start is far too high
# (the matched one is {glue:text}`matched_t_0.1:.1f`): it re-imagines strokes that the noise had
# barely touched, and ends {glue:text}`gap_0.1:.2f` dB further from the clean digit than the
# matched start. At $\sigma = 0.5$ it starts too low (matched: {glue:text}`matched_t_0.5:.1f`):
# the chain believes the image is cleaner than it is and specks of noise survive (look at the
# last rows); the gap is {glue:text}`gap_0.5:.2f` dB. Four digits are a small sample, so trust the
# size of the gap at $\sigma = 0.1$ more than the second decimal of the others. A fixed start
# step is a noise level guessed once; the matched start reads it from the image's actual sigma
# (chapter 6 shows how to estimate sigma when it is unknown).
#
# ## Posterior mean, DDIM, samples, and averages of samples
#
# Back to the model's own cosine schedule and to the matched start. From $x_{t^*}$ there are
# several ways down:
#
# - **posterior mean**: one Tweedie step (one network evaluation);
# - **DDIM** {cite}`song2021ddim` with $\eta = 0$: a deterministic path from $x_{t^*}$ to a
#   sharp image (10 steps here);
# - **ancestral**: a *sample* from the model's $p(x_0 \mid y)$ (20 strided ancestral steps
#   here; `steps=None` would take all $\lceil t^* \rceil$ unit steps);
# - **average of K samples**, which should move back towards the posterior mean.
#
# Starting the chain from a noisy image is SDEdit's idea, here with the matched step, not a
# guess. We use twenty digits, two per class, at three noise levels, and four independent
# samples per digit at $\sigma = 0.3$ (seeds 0 to 3).

# %%
subset = torch.cat([torch.nonzero(labels == c)[:2, 0] for c in range(10)])  # 20 digits
clean, sigmas = x[subset], (0.1, 0.3, 0.5)
noisy = {sigma: noisy_set(x, sigma)[subset] for sigma in sigmas}


def run(sigma, **options):  # tinyddpm.denoise on the twenty noisy digits at sigma
    return tinyddpm.denoise(noisy[sigma], sigma, model=model, schedule=schedule, **options)


post_mean = {sigma: run(sigma) for sigma in sigmas}
one_sample = {sigma: run(sigma, method="ancestral", steps=20, seed=0) for sigma in sigmas}
samples_03 = torch.stack([one_sample[0.3]] + [run(0.3, method="ancestral", steps=20, seed=k) for k in (1, 2, 3)])
ddim_03 = run(0.3, method="ddim", steps=10)
coarse = run(0.3, method="ancestral", steps=10, seed=0)  # a coarser sampler, for later

# %% tags=["hide-input"]
methods = {
    "posterior mean": post_mean[0.3],
    "DDIM, 10 steps": ddim_03,
    "ancestral sample": samples_03[0],
    "average of 2": samples_03[:2].mean(0),
    "average of 4": samples_03.mean(0),
}
cost = {"posterior mean": 1, "DDIM, 10 steps": 10, "ancestral sample": 20, "average of 2": 40, "average of 4": 80}
base_mse = float(mse(post_mean[0.3], clean).mean())


def grey(im):  # % of pixels neither ink nor background
    return 100 * float(((im > 0.1) & (im < 0.9)).float().mean())


ratio = {name: float(mse(images, clean).mean()) / base_mse for name, images in methods.items()}
body = [["clean digits", "", "", f"{grey(clean):.1f} %", ""]]
for name, images in methods.items():
    body.append([name, f"{pooled_psnr(images, clean):.2f} dB", f"{ratio[name]:.2f}", f"{grey(images):.1f} %", cost[name]])
glue("ratio_sample", round(ratio["ancestral sample"], 2), display=False)
glue("db_sample", round(pooled_psnr(methods["posterior mean"], clean) - pooled_psnr(methods["ancestral sample"], clean), 2),
     display=False)
glue("ratio_avg2", round(ratio["average of 2"], 2), display=False)
glue("ratio_avg4", round(ratio["average of 4"], 2), display=False)
glue("grey_clean", round(grey(clean), 1), display=False)
glue("grey_pm", round(grey(methods["posterior mean"]), 1), display=False)
glue("grey_sample", round(grey(methods["ancestral sample"]), 1), display=False)
below = all(ratio[k] < 1 + 1 / K for k, K in (("ancestral sample", 1), ("average of 2", 2), ("average of 4", 4)))
glue("below_each", "a little below each" if below else "not below each of them", display=False)
HTMLTable(["sigma 0.3, 20 digits", "PSNR", "MSE / posterior-mean MSE", "grey pixels", "network evaluations"], body)

# %%
first = torch.arange(0, 20, 2)  # one digit per class
viz.comparison({"clean": clean[first], "noisy": noisy[0.3][first]} | {name: im[first] for name, im in methods.items()})

# %% [markdown]
# The PSNR here is that of the pooled MSE over the twenty digits (the MSE ratios use the same
# pooled MSEs). Reading the table and the figure together:
#
# - The **posterior mean** has the lowest error, as it must: it *is* the minimum-MSE estimate
#   (up to how well the network learned it). It is also the softest: where the noise leaves
#   doubt about a stroke's edge it returns the average of the possibilities, a grey edge, and its
#   share of grey pixels (neither ink nor background), {glue:text}`grey_pm:.1f` %, is above that
#   of the clean digits, {glue:text}`grey_clean:.1f` %.
# - An **ancestral sample** commits to one crisp edge: its grey share,
#   {glue:text}`grey_sample:.1f` %, is that of real digits. But its squared error is
#   {glue:text}`ratio_sample:.2f` times the posterior mean's, a PSNR {glue:text}`db_sample:.2f` dB
#   lower.
# - **Averaging** samples walks back toward the posterior mean, blur included.
# - **DDIM** sits in between: deterministic and sharper than the posterior mean, but not a
#   sample from the posterior.
#
# That ratio, not far below two, is not an accident of this model.
#
# ## The perception-distortion trade-off
#
# Let $m = \mathbb E[x_0 \mid y]$ and let $\tilde x$ be an exact sample from $p(x_0 \mid y)$,
# drawn independently of the true $x_0$ given $y$. Both $\tilde x$ and $x_0$ then scatter around
# $m$ with the same posterior covariance $C$, independently, so
#
# $$ \mathbb E\|\tilde x - x_0\|^2 = \mathbb E\|\tilde x - m\|^2 + \mathbb E\|x_0 - m\|^2 = 2\,\operatorname{tr} C = 2\,\mathrm{MSE}(m), $$
#
# and for the average of $K$ samples, $\mathbb E\|\bar x_K - x_0\|^2 = (1 + 1/K)\,\mathrm{MSE}(m)$:
# ratios $2$, $1.5$ and $1.25$ for $K = 1, 2, 4$ (a factor of $2$ is
# $10 \log_{10} 2 \approx 3$ dB). The table above measures {glue:text}`ratio_sample:.2f`,
# {glue:text}`ratio_avg2:.2f` and {glue:text}`ratio_avg4:.2f`: {glue:text}`below_each` (more on
# that below).
#
# Blau and Michaeli {cite}`blau2018perception` showed that the gap is a law, not a quirk: an
# estimator whose outputs are distributed like real images (perfect "perceptual quality")
# cannot reach the minimum MSE, unless the posterior mean itself already looks like real images,
# which a blurred average does not. An exact posterior sample is one such estimator, and it
# pays exactly twice the minimum MSE; that is an upper bound on the price of perfect perceptual
# quality, not the optimum, and an estimator designed for the purpose can pay less. You choose
# a point on the trade-off: the sharpest believable digit, or the lowest error.
#
# Does the ratio hold at every noise level? The MSE ratio of one sample to the posterior mean,
# per sigma, on the same twenty digits (and, at $\sigma = 0.3$, with a coarser 10-step sampler
# for comparison):

# %% tags=["hide-input"]
body, per_sigma = [], {}
for sigma in sigmas:
    per_sigma[sigma] = float(mse(one_sample[sigma], clean).mean() / mse(post_mean[sigma], clean).mean())
    body.append([f"{sigma}", f"{pooled_psnr(post_mean[sigma], clean):.2f} dB", f"{grey(post_mean[sigma]):.1f} %",
                 f"{pooled_psnr(one_sample[sigma], clean):.2f} dB", f"{grey(one_sample[sigma]):.1f} %",
                 f"{per_sigma[sigma]:.2f}"])
coarse_ratio = float(mse(coarse, clean).mean() / mse(post_mean[0.3], clean).mean())
body.append(["0.3, 10-step sampler", "", "", f"{pooled_psnr(coarse, clean):.2f} dB", f"{grey(coarse):.1f} %", f"{coarse_ratio:.2f}"])
glue("ratio_min", round(min(per_sigma.values()), 2), display=False)
glue("ratio_max", round(max(per_sigma.values()), 2), display=False)
glue("ratio_coarse", round(coarse_ratio, 2), display=False)
glue("grey_pm_low", round(grey(post_mean[sigmas[0]]), 1), display=False)
glue("grey_pm_high", round(grey(post_mean[sigmas[-1]]), 1), display=False)
print(f"clean digits: {grey(clean):.1f} % grey pixels")
HTMLTable(["sigma", "posterior mean", "its grey share", "one sample", "its grey share", "MSE ratio"], body)

# %% [markdown]
# The ratio stays between {glue:text}`ratio_min:.2f` and {glue:text}`ratio_max:.2f`, near and
# somewhat below the theoretical $2$, at every noise level, while the samples keep the grey
# share of real digits and the posterior mean's grows with the noise (from
# {glue:text}`grey_pm_low:.1f` % to {glue:text}`grey_pm_high:.1f` %): the more doubt, the more the
# posterior mean blurs. Two things pull the ratio down: the network's posterior mean is not the
# exact one (its own error inflates the denominator), and a strided sampler with few steps draws
# samples that are a little less spread out than exact posterior samples; the coarser 10-step
# sampler's ratio, {glue:text}`ratio_coarse:.2f`, shows the second effect. Twenty digits is a
# modest set, so read the second decimal with care.
#
# ## Failure cases: when the digit changes
#
# PSNR averages over pixels; a reader cares whether the digit is still the same digit. At
# $\sigma = 0.5$ the noise is strong enough to make some digits genuinely ambiguous. We denoise all
# 1,000 bundled digits with the posterior mean and let the classifier read each result:

# %%
y_05 = noisy_set(x, 0.5)
pm_05 = tinyddpm.denoise(y_05, 0.5, model=model, schedule=schedule)
read, read_clean = predict_labels(classifier, pm_05), predict_labels(classifier, x)
flipped = torch.nonzero((read != labels) & (read_clean == labels)).flatten()  # the clean digit was read correctly
right = {"clean digits": read_clean == labels, "noisy images": predict_labels(classifier, y_05) == labels,
         "posterior means": read == labels}
acc = {k: 100 * float(v.float().mean()) for k, v in right.items()}
for k, v in acc.items():
    print(f"classifier correct on the {k + ':':17s} {v:5.1f} %")
print(f"identity flips (clean read correctly, posterior mean not): {len(flipped)} of 1,000")
glue("acc_noisy", round(acc["noisy images"], 1), display=False)
glue("acc_pm", round(acc["posterior means"], 1), display=False)
glue("n_flips", len(flipped), display=False)

# %% tags=["hide-input"]
show = flipped[:8]
glue("shown_flips", ", ".join(f"{int(labels[i])} as {int(read[i])}" for i in show.tolist()), display=False)
fig, axes = plt.subplots(3, len(show), figsize=(6.8, 3.6))
for j, i in enumerate(show.tolist()):
    for r, (name, img) in enumerate((("clean", x), ("noisy", y_05), ("denoised", pm_05))):
        ax = axes[r, j]
        ax.imshow(img[i, 0].clamp(0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        if j == 0:
            ax.set_ylabel(name, fontsize=10)
    axes[0, j].set_title(f"true {int(labels[i])}", fontsize=10)
    axes[2, j].set_title(f"read {int(read[i])}", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# The posterior mean rescues most digits that the classifier could not read through the noise
# (it is right on {glue:text}`acc_pm:.1f` % of the posterior means, against
# {glue:text}`acc_noisy:.1f` % of the noisy images), but not all: {glue:text}`n_flips` digits
# that the classifier reads correctly when clean are read as another digit after denoising. The
# figure shows the first eight (true digit as read after denoising: {glue:text}`shown_flips`),
# and the failures come in kinds. Some digits were unusual to begin with, and the smoothing
# pushes them over the line. In others the noise falls on the stroke that decides the digit (a
# gap, a loop, the bar of a seven) and the denoiser fills it in the wrong way: look at the noisy
# row before blaming the denoiser; a human would hesitate too. And some are the classifier's
# doubt about a soft posterior mean rather than a real change of shape. In every case the
# posterior mean cannot commit: where the evidence is split it returns a blend, and a blend of
# two digits is read as one of them.
#
# Samples make the ambiguity visible. For the first four of these digits, four ancestral samples
# each, with the classifier's reading of each:

# %%
hard = show[:4]
draws = torch.stack([tinyddpm.denoise(y_05[hard], 0.5, model=model, schedule=schedule, method="ancestral", steps=20, seed=k)
                     for k in range(4)])  # (4 samples, 4 digits, 1, 28, 28)
readings = predict_labels(classifier, draws.flatten(0, 1)).reshape(4, len(hard))
body = [[int(labels[i]), int(read[i]), ", ".join(map(str, readings[:, j].tolist()))] for j, i in enumerate(hard.tolist())]
display(HTMLTable(["true digit", "posterior mean read as", "samples read as"], body))
split = sum(len(set(readings[:, j].tolist())) > 1 for j in range(len(hard)))
glue("n_split", split, display=False)
viz.comparison({"clean": x[hard], "noisy": y_05[hard]} | {f"sample, seed {k}": draws[k] for k in range(4)})

# %% [markdown]
# For {glue:text}`n_split` of these four digits the samples disagree with each other: the noisy
# image really is compatible with more than one digit, and no denoiser that sees only $y$ can
# know which one was written. That is the honest limit of blind, unconditional denoising.
# Chapter 7 shows what a class label, when we have one, does about it.

# %% [markdown]
# ## What to take away
#
# - In model units a noisy image is $y = x_0 + 2\sigma n$ (the factor $2$ because $[-1, 1]$ is
#   twice the pixel range), and that is the variance-exploding view
#   $x_{t^*}/\sqrt{\bar\alpha_{t^*}}$ of Karras et al. at $\bar\alpha_{t^*} = 1/(1+4\sigma^2)$:
#   scale by $\sqrt{\bar\alpha_{t^*}}$ and start the reverse chain at the fractional $t^*$, as
#   SDEdit, Ho et al. and Carlini et al. do.
# - A start step picked once by hand is right for one noise level only.
# - The student's procedure ran on noise from $\sigma =$ {glue:text}`draw_lo:.2f` to
#   {glue:text}`draw_hi:.2f`, with {glue:text}`draw_above_05:.1f` % of its inputs above $0.5$. On a network
#   like theirs, at $\sigma = 0.3$ the procedure's hidden assumptions
#   {glue:text}`assume_cost_0.3` and a sample instead of the mean costs
#   {glue:text}`answer_cost_0.3:.1f` dB; at $\sigma = 2.0$ their chain returns
#   {glue:text}`same_a_2.0` of four digits as written.
# - One Tweedie step gives the minimum-MSE estimate; samples give believable digits at about
#   twice the squared error ({glue:text}`ratio_min:.2f` to {glue:text}`ratio_max:.2f` times
#   here); averages of samples interpolate. That is the perception-distortion trade-off,
#   measured.
# - At high noise some digits are ambiguous; the posterior mean blurs them and samples pick
#   one, sometimes the wrong one.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) (a) Someone forgets the factor $2$ and starts the chain at the
# step with $\bar\alpha = 1/(1+\sigma^2)$, from $\sqrt{\bar\alpha}\,y$. How much noise does the
# network then expect, against how much is there, and what will the output look like?
# (b) An $8$-bit image (values $0, \dots, 255$) carries Gaussian noise of standard deviation $25$
# in those units. Which $\sigma$ and which $\bar\alpha_{t^*}$ go with it? (c) The student's last
# step keeps $\bar\alpha \approx 0.048$. What is the largest pixel sigma their schedule can match?
#
# ```{admonition} Solution
# :class: dropdown
# (a) $\bar\alpha = 1/(1+\sigma^2)$ means $(1-\bar\alpha)/\bar\alpha = \sigma^2$: the matched
# step of model-unit noise $\sigma$, pixel noise $\sigma/2$. The state
# $\sqrt{\bar\alpha}\,y = \sqrt{\bar\alpha}\,x_0 + \sqrt{\bar\alpha}\,2\sigma n$ carries the right
# signal for that step but noise of standard deviation $2\sigma\sqrt{\bar\alpha}$, twice the
# $\sqrt{1-\bar\alpha} = \sigma\sqrt{\bar\alpha}$ the network expects. It removes the noise it
# expects and leaves the rest: the output keeps visible noise, like the fixed start step at
# $\sigma = 0.5$ above, which also starts too low.
#
# (b) Pixel units divide by $255$: $\sigma = 25/255 \approx 0.098$, so $4\sigma^2 \approx 0.0384$
# and $\bar\alpha_{t^*} = 1/1.0384 \approx 0.963$.
#
# (c) The largest model-unit noise is $\sqrt{(1 - 0.048)/0.048} \approx 4.45$, so
# $\sigma \approx 2.23$ in pixel units. A noisier image matches no step of their schedule: its
# last step still keeps $\sqrt{0.048} \approx 0.22$ of the signal.
# ```
#
# **Exercise 2.** (code) Check the map on the student's schedule, `student.schedule()`: the round
# trip $\sigma \to t^* \to \sigma$ from $\sigma = 0.05$ up to the largest $\sigma$ it reaches, and
# what `tinyddpm.start_step` does at $\sigma = 2.5$. Then check, as above, that at $\sigma = 1.0$
# the scaled image $\sqrt{\bar\alpha_{t^*}}\,y$ has the mean and standard deviation of
# $q(x_{t^*} \mid x_0)$ on that schedule.

# %% tags=["hide-input", "solution"]
lin = student.schedule()
top = lin.max_sigma / 2  # pixel units
sig = torch.linspace(0.05, top, 100, dtype=torch.float64)
back = lin.sigma_from_t(tinyddpm.start_step(sig, lin)) / 2
print(f"largest sigma: {top:.3f}")
print("round trip agrees to a relative 1e-9:", bool(((back - sig).abs() / sig < 1e-9).all()))
try:
    tinyddpm.start_step(2.5, lin)
except ValueError as err:
    print("sigma 2.5:", str(err).replace(" is above", "\n  is above"))
t_star = tinyddpm.start_step(1.0, lin)
ab = lin.alpha_bar_at(t_star).float()
scaled = ab.sqrt() * (x0 + 2 * 1.0 * torch.randn(10_000, 1, 28, 28, generator=tinyddpm.seeded(0)))
z_mean = (scaled.mean(0) - ab.sqrt() * x0[0]) / ((1 - ab) / 10_000).sqrt()  # against q's mean sqrt(ab) x0
z_std = (scaled.std(0) - (1 - ab).sqrt()) / ((1 - ab) / 20_000).sqrt()  # against q's std sqrt(1 - ab)
print(f"sigma 1.0: t* = {float(t_star):.1f}; RMS of the differences from q(x_t* | x_0)\n"
      f"  in standard errors: means {float(z_mean.pow(2).mean().sqrt()):.2f}, "
      f"stds {float(z_std.pow(2).mean().sqrt()):.2f}")

# %% [markdown]
# **Exercise 3.** (code) Setting (b) starts at the step whose noise *looks* like $\sigma$. Find the
# smallest $\sigma$ for which `student.by_eye_step` returns the student's last step, first from the
# formula ($\sqrt{1-\bar\alpha_s} = 2\sigma$ at the last step $s$), then by scanning $\sigma$.

# %% tags=["hide-input", "solution"]
ab_last = float(student.schedule().alpha_bar[-1])
formula = (1 - ab_last) ** 0.5 / 2
print(f"formula: the eye's step runs out at sigma = sqrt(1 - {ab_last:.4f}) / 2")
print(f"         = {formula:.5f}")
scan = next(k / 1e5 for k in range(40_000, 60_000) if student.by_eye_step(k / 1e5) == student.T - 1)
print(f"scan: by_eye_step first returns {student.T - 1} at sigma = {scan:.5f},\n"
      f"  {'below' if scan < formula else 'at or above'} the formula: it picks the nearest step")
