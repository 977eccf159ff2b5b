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
# standard deviation $s$,
#
# $$ y = x_0 + s\,n \quad\Longrightarrow\quad \sqrt{\bar\alpha_{t^*}}\; y \;\sim\; q(x_{t^*} \mid x_0)
#    \qquad\text{when}\qquad \bar\alpha_{t^*} = \frac{1}{1+s^2}. $$
#
# A noisy image *is* a point of the forward chain. So the trained reverse chain of chapter 4
# can take over from $t^*$: no new training, no new model. This chapter measures what that
# gives: how the matched start compares with a start step picked by hand, as in the project
# tinyddpm grew out of; what the one-step posterior mean, deterministic DDIM, ancestral samples
# and averages of samples each deliver; why a sample is *necessarily* worse in squared error
# than the posterior mean; and where the method fails.

# %%

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue

import tinyddpm
from tinyddpm import baselines, viz
from tinyddpm.book_data import HTMLTable
from tinyddpm.evaluate import noisy_set
from tinyddpm.metrics import mse, pooled_psnr, predict_labels, psnr
from tinyddpm.schedules import NoiseSchedule


model, schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
x, labels = tinyddpm.load_sample()  # 1,000 test digits, 100 per class
print(f"schedule: {schedule.kind}, T = {schedule.T}")

# %% [markdown]
# ## From sigma to t*
#
# Users speak in pixel units (images in $[0, 1]$); the model works in $[-1, 1]$, where the same
# noise has twice the standard deviation. `start_step` solves $\bar\alpha_{t^*} = 1/(1+4\sigma^2)$
# on the interpolated schedule; $t^*$ is usually fractional, and the model, trained on continuous
# $t$, is evaluated exactly there. The last column checks the match: it turns $\bar\alpha_{t^*}$
# back into a pixel sigma, $\sqrt{(1-\bar\alpha)/\bar\alpha}\,/\,2$.

# %%
body = []
for sigma in (0.1, 0.2, 0.3, 0.5):
    t_star = float(tinyddpm.start_step(sigma, schedule))
    ab = float(schedule.alpha_bar_at(t_star))
    body.append([f"{sigma:.1f}", f"{t_star:.3f}", f"{ab:.4f}", f"{((1 - ab) / ab) ** 0.5 / 2:.4f}"])
HTMLTable(["sigma", "t*", "alpha_bar at t*", "sigma back from alpha_bar"], body)

# %% [markdown]
# Two details matter. The chain starts at $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$, not at $y$: the
# forward chain shrinks the signal as it adds noise, and the network expects that. And $y$ is
# never clipped to $[0, 1]$ first: clipping changes the noise (it is no longer Gaussian, and
# smaller), so the identity above would no longer hold.
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
# so every input was already scaled by $\sqrt{\bar\alpha_s}$; it started the reverse chain at
# the true step rounded down to a multiple of ten ("manually input"), ran unit ancestral steps
# down to 0 and clamped to $[-1, 1]$ after every one. For the inputs it was given, that
# procedure is right. What it never met is a plain noisy image $y = x + \sigma n$ whose $\sigma$
# nobody wrote down.
#
# `tinyddpm.seed` rebuilds that recipe from the facts of the student's code, and the package
# ships one such network, trained here (at 3/8 of the student's channel widths, so that the
# weights stay small; `benchmarks/student.py` says how). Three ways to use it on the same four
# digits: **(a)** their own kind of input, made by the forward process at the step equivalent to
# $\sigma$, with their chain; **(b)** a plain noisy image fed their way, unscaled, from the step
# whose noise *looks* like $\sigma$ (its $\sqrt{1-\bar\alpha_s}$ equals $2\sigma$, model units);
# **(c)** the same network the tinyddpm way: $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$ at the
# matched $t^*$ and one posterior-mean step. The noise is drawn at 32x32 on the resized digit
# and PSNR is measured there, in the network's own space, against the resized digit.

# %%
from tinyddpm import samplers, seed

student, _ = tinyddpm.pretrained("student")
lin = seed.schedule()
ab_s = lin.alpha_bar[1:].float()  # the student's steps s = 0 .. 299
few = torch.stack([torch.nonzero(labels == c)[0, 0] for c in (2, 5, 6, 8)])
x32 = seed.to_seed(x[few])  # their data: 32x32 in [-1, 1]
rows, body = {"clean": x[few]}, []
for s in (0.1, 0.3, 0.5):
    n = torch.randn(x32.shape, generator=tinyddpm.seeded(0))
    s_eq, eye = seed.equivalent_step(s), seed.by_eye_step(s)
    k = round(s_eq)
    x_s = ab_s[k].sqrt() * x32 + (1 - ab_s[k]).sqrt() * n  # (a): the forward process at the equivalent step
    y = x32 + 2 * s * n  # (b), (c): plain noise, the same n
    a, _ = seed.student_chain(student, x_s, k // 10 * 10, lin, tinyddpm.seeded(1))
    b, _ = seed.student_chain(student, y.clamp(-1, 1), eye // 10 * 10, lin, tinyddpm.seeded(1))
    c = seed.matched_posterior_mean(student, y, s)
    outs = [seed.from_seed(v) for v in (y, a, b, c)]  # back to 28x28, for the figure
    rows |= {f"noisy, σ {s}": outs[0], f"(a) σ {s}": outs[1], f"(b) σ {s}": outs[2], f"(c) σ {s}": outs[3]}
    db = [float(psnr(((v + 1) / 2).clamp(0, 1), (x32 + 1) / 2).mean()) for v in (y, a, b, c)]  # at 32x32
    body.append([f"{s}", f"{s_eq:.0f}, {eye}", *(f"{v:.2f} dB" for v in db)])
    for name, v in zip(("a", "b", "c"), db[1:]):
        glue(f"student_{name}_{s}", v, display=False)
    glue(f"student_eye_{s}", eye, display=False)
    glue(f"student_eq_{s}", s_eq, display=False)
glue("student_last_signal", float(ab_s[-1].sqrt()), display=False)
display(HTMLTable(["sigma", ("step: equivalent,", "by eye"), "noisy", "(a) their inputs",
                   ("(b) plain y,", "their way"), ("(c) plain y,", "matched, 1 step")], body))
viz.comparison(rows)

# %% [markdown]
# The student's figures showed the chain itself: the first image of the batch at ten points from
# the start step down to 0. The same view, for the first digit above at $\sigma = 0.3$: their
# chain on their input (setting (a), their network), and tinyddpm's ten DDIM steps from the
# matched $t^*$ on the same digit with plain noise (the shipped model). Each frame is the state
# $x$ itself (the student's after each of their steps $s$, labelled by $s$), so the student's early
# frames still carry the $\sqrt{\bar\alpha}$-scaled signal.

# %%
s = 0.3
n = torch.randn(x32.shape, generator=tinyddpm.seeded(0))
k = round(seed.equivalent_step(s))
x_s = ab_s[k].sqrt() * x32 + (1 - ab_s[k]).sqrt() * n
start = k // 10 * 10
_, shots = seed.student_chain(student, x_s[:1], start, lin, tinyddpm.seeded(1), snapshots=10)
shot_steps = torch.linspace(start, 0, 10).round().long().tolist()  # where the snapshots were taken
t_star = float(tinyddpm.start_step(s, schedule))
ts_ddim = samplers.ddim_timesteps(t_star, 9)  # ten states from t* down to 0
state = schedule.alpha_bar_at(t_star).sqrt().float() * tinyddpm.to_model(noisy_set(x, s)[few[:1]])
states = [state]
with torch.no_grad():
    for t, t_next in zip(ts_ddim, ts_ddim[1:]):
        state = samplers.ddim_step(model, state, t, t_next, schedule)
        states.append(state)
viz.trajectory([seed.from_seed(v) for v in shots], columns=[f"after {v}" for v in shot_steps])

# %%
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
# matched $t^*$, gives {glue:text}`student_c_0.3:.1f` and {glue:text}`student_c_0.5:.1f` dB. Most of
# that gain over their own chain is not the start step but the kind of answer: a chain of
# ancestral steps ends in a *sample* of the posterior, sharp and further from the clean digit,
# while one step gives the posterior mean, the closest estimate on average (the rest of this
# chapter measures that trade-off). The student's network was never the problem. The procedure's
# two hidden assumptions were: that the input is scaled by $\sqrt{\bar\alpha}$ and that its step
# is known. Chapter 8 repeats this on more digits, beside tinyddpm's own model.
#
# ## A fixed start step, and the matched one
#
# A procedure that has to cope with plain noisy images but keeps the student's chain needs a
# start step chosen once, by hand, and gets the image as it is, unscaled.
# `tinyddpm.baselines.original_procedure` does that, with step 100, on tinyddpm's own network
# (the benchmarks' "fixed step" rows); because that network was trained on continuous $t$, it
# can be asked at any noise level, and a small adapter translates each step of the linear grid
# into the model's own step with the same $\bar\alpha$:
#
# ```{literalinclude} /src/tinyddpm/baselines.py
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
rows, body, gap = {"clean": x[few]}, [], {}
for s in (0.1, 0.3, 0.5):
    y_s = noisy_set(x, s)[few]
    original = baselines.original_procedure(y_s, start_step=100, model=model, schedule=schedule, seed=0)
    matched = tinyddpm.denoise(y_s, s, model=adapter, schedule=linear, method="ancestral", seed=0)
    rows |= {f"noisy, sigma {s}": y_s, f"step 100, sigma {s}": original, f"matched, sigma {s}": matched}
    t_lin = float(tinyddpm.start_step(s, linear))
    db = [float(psnr(im, x[few]).mean()) for im in (y_s, original, matched)]
    gap[s] = db[2] - db[1]
    body.append([f"{s}", f"{t_lin:.1f}", f"{db[0]:.2f} dB", f"{db[1]:.2f} dB", f"{db[2]:.2f} dB"])
    glue(f"matched_t_{s}", round(t_lin, 1), display=False)
    glue(f"gap_{s}", round(gap[s], 2), display=False)
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
# Starting the chain from a noisy image is the idea of SDEdit {cite}`meng2022sdedit`; here the
# start is the matched step, not a guess. We use twenty digits, two per class, at three noise
# levels, and four independent samples per digit at $\sigma = 0.3$ (seeds 0 to 3).

# %%
subset = torch.cat([torch.nonzero(labels == c)[:2, 0] for c in range(10)])  # 20 digits
clean = x[subset]
sigmas = (0.1, 0.3, 0.5)
noisy = {s: noisy_set(x, s)[subset] for s in sigmas}
post_mean = {s: tinyddpm.denoise(noisy[s], s, model=model, schedule=schedule) for s in sigmas}
one_sample = {s: tinyddpm.denoise(noisy[s], s, model=model, schedule=schedule, method="ancestral", steps=20, seed=0)
              for s in sigmas}
samples_03 = torch.stack([one_sample[0.3]] + [
    tinyddpm.denoise(noisy[0.3], 0.3, model=model, schedule=schedule, method="ancestral", steps=20, seed=k) for k in (1, 2, 3)
])  # (4, 20, 1, 28, 28)
ddim_03 = tinyddpm.denoise(noisy[0.3], 0.3, model=model, schedule=schedule, method="ddim", steps=10)

methods = {
    "posterior mean": post_mean[0.3],
    "DDIM, 10 steps": ddim_03,
    "ancestral sample": samples_03[0],
    "average of 2": samples_03[:2].mean(0),
    "average of 4": samples_03.mean(0),
}
cost = {"posterior mean": 1, "DDIM, 10 steps": 10, "ancestral sample": 20, "average of 2": 40, "average of 4": 80}
base_mse = float(mse(post_mean[0.3], clean).mean())
grey = lambda im: 100 * float(((im > 0.1) & (im < 0.9)).float().mean())  # noqa: E731  % of pixels neither ink nor background
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

# %%
coarse = tinyddpm.denoise(noisy[0.3], 0.3, model=model, schedule=schedule, method="ancestral", steps=10, seed=0)
body, per_sigma = [], {}
for s in sigmas:
    per_sigma[s] = float(mse(one_sample[s], clean).mean() / mse(post_mean[s], clean).mean())
    body.append([f"{s}", f"{pooled_psnr(post_mean[s], clean):.2f} dB", f"{grey(post_mean[s]):.1f} %",
                 f"{pooled_psnr(one_sample[s], clean):.2f} dB", f"{grey(one_sample[s]):.1f} %", f"{per_sigma[s]:.2f}"])
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

# %%
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
#
# ## What to take away
#
# - A noisy image is $x_{t^*}/\sqrt{\bar\alpha_{t^*}}$: map sigma to $t^*$, scale, and start the
#   reverse chain there. A start step picked once by hand is right for one noise level only.
# - One Tweedie step gives the minimum-MSE estimate; samples give believable digits at about
#   twice the squared error ({glue:text}`ratio_min:.2f` to {glue:text}`ratio_max:.2f` times
#   here); averages of samples interpolate. That is the perception-distortion trade-off,
#   measured.
# - At high noise some digits are ambiguous; the posterior mean blurs them and samples pick
#   one, sometimes the wrong one.
