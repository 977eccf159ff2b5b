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
# # Sampling

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
# Chapter 3 trained a network $\epsilon_\theta(x_t, t)$ that looks at a noisy image and guesses
# the noise in it. This chapter turns that guess into a way of *making* digits: start from pure
# noise $x_T \sim \mathcal N(0, I)$ and walk the forward chain backwards, one small denoising
# step at a time. Along the way we answer a question that puzzles almost everyone the first
# time they read the DDPM sampler {cite}`ho2020ddpm`: each step removes noise, so why does it
# then *add fresh noise* back? We drop that noise and watch what happens. Then we make sampling
# fast with DDIM {cite}`song2021ddim`, and ask for a particular digit with classifier-free
# guidance {cite}`ho2022cfg`.
#
# Everything runs on a CPU; the model is the shipped pretrained one.

# %%

import matplotlib.pyplot as plt
import torch
from myst_nb import glue

import tinyddpm
from tinyddpm import samplers, viz
from tinyddpm.book_data import HTMLTable
from tinyddpm.checkpoint import load_model, pretrained_path
from tinyddpm.diffusion import q_posterior
from tinyddpm.metrics import predict_labels


model, schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
x_data, _ = tinyddpm.load_sample()  # 1,000 real test digits, for comparison
ab_T = float(schedule.alpha_bar[-1])
print(f"schedule: {schedule.kind}, T = {schedule.T}, alpha_bar_T = {ab_T:.1e}")
glue("ab_T", float(f"{ab_T:.1e}"), display=False)
glue("sqrt_ab_T", float(f"{ab_T**0.5:.1e}"), display=False)

# %% [markdown]
# ## One reverse step
#
# The forward chain adds noise; its reverse, $q(x_{t-1} \mid x_t)$, is intractable because it
# depends on the whole data distribution. But once we also condition on the clean image it is
# a plain Gaussian (chapter 2 derived the forward side; the same algebra gives this):
#
# $$ q(x_s \mid x_t, x_0) = \mathcal N\big(\tilde\mu(x_t, x_0),\ \tilde\beta\, I\big),\qquad
#    \tilde\mu = \frac{\sqrt{\bar\alpha_s}\,\beta_{t|s}}{1-\bar\alpha_t}\,x_0 + \frac{\sqrt{\alpha_{t|s}}\,(1-\bar\alpha_s)}{1-\bar\alpha_t}\,x_t,\qquad
#    \tilde\beta = \frac{1-\bar\alpha_s}{1-\bar\alpha_t}\,\beta_{t|s}, $$
#
# with $\alpha_{t|s} = \bar\alpha_t / \bar\alpha_s$ and $\beta_{t|s} = 1 - \alpha_{t|s}$, for any
# earlier step $s < t$ (DDPM's Eqs. 6-7 are the case $s = t-1$). We do not know $x_0$, but the
# network gives a best guess, $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta)/\sqrt{\bar\alpha_t}$
# (`predict_start`). The ancestral step of DDPM (Algorithm 2) plugs that guess in and *samples*:
#
# $$ x_s = \tilde\mu(x_t, \hat x_0) + \sqrt{\tilde\beta}\; z,\qquad z \sim \mathcal N(0, I). $$
#
# That is the whole of `ancestral_step`:
#
# ```{literalinclude} /src/tinyddpm/samplers.py
# :pyobject: ancestral_step
# ```
#
# To be sure nothing is hidden, build one step by hand from the two ingredients,
# `predict_start` and `q_posterior`, with the same random numbers, and compare:

# %%
x_t = torch.randn(4, 1, 28, 28, generator=tinyddpm.seeded(0))
t, s = 500.0, 499.0
with torch.no_grad():
    x0_hat, eps_hat = samplers.predict_start(model, x_t, t, schedule)
    mean, var = q_posterior(x0_hat, x_t, t, s, schedule)
    by_hand = mean + var.sqrt() * torch.randn(x_t.shape, generator=tinyddpm.seeded(1))
    package = samplers.ancestral_step(model, x_t, t, s, schedule, generator=tinyddpm.seeded(1))
print("by hand == package:", torch.allclose(by_hand, package, atol=1e-6))
print(f"posterior std at t = {t:.0f}: {float(var.flatten()[0].sqrt()):.4f}")

# %% [markdown]
# ## From noise to digits
#
# Sampling is this step applied over a decreasing list of timesteps, from $T$ down to $0$.
# DDPM takes all $T = 1000$ unit steps, which costs 1000 network evaluations per digit. The
# step above works for any $s < t$, so we can also walk a coarser grid of 100 evenly spaced
# steps (`ancestral_timesteps(T, steps=100)`): the same formula, ten times cheaper. We use that
# grid throughout this chapter; `tinyddpm.sample(..., method="ancestral", steps=None)` takes all
# 1000 steps if you have the time, and the conclusions below do not change.
#
# We write the loop out (the package's `sample_loop` is this loop plus bookkeeping) so that we
# can record every intermediate $x_t$. Six seeds, and for each one the network's running guess
# $\hat x_0$ at a few steps:

# %%
n = 6
ts = samplers.ancestral_timesteps(float(schedule.T), steps=100)  # [1000, 990, ..., 10, 0]
x_T = torch.randn(n, 1, 28, 28, generator=tinyddpm.seeded(0))
show_at = [1000.0, 800.0, 600.0, 400.0, 200.0, 100.0, 50.0]
generator, x, ancestral, guesses = tinyddpm.seeded(1), x_T, [x_T], []
with torch.no_grad():
    for t, s in zip(ts, ts[1:]):
        if t in show_at:  # the network's current guess of the clean digit, for the figure
            guesses.append(tinyddpm.to_pixels(samplers.predict_start(model, x, t, schedule)[0]))
        x = samplers.ancestral_step(model, x, t, s, schedule, generator=generator)
        ancestral.append(x)
samples = tinyddpm.to_pixels(x).clamp(0, 1)
viz.trajectory(guesses + [samples], columns=[f"t = {t:.0f}" for t in show_at] + ["sample"])

# %% [markdown]
# Each row is one seed; the columns are the network's guess $\hat x_0$ at the step written above
# them, then the final sample. At $t = 1000$ the image carries essentially no information about
# the digit ($\bar\alpha_T =$ {glue:text}`ab_T:.1e`), and the guess is meaningless: $\hat x_0$
# divides by $\sqrt{\bar\alpha_T} =$ {glue:text}`sqrt_ab_T:.1e`, which blows the network's tiny
# errors up into the clipped salt-and-pepper of the first column. By $t = 800$ the guess is a
# blurry, digit-like shape (a compromise between the digits $x_t$ could still become), and as
# $t$ falls it commits to one digit, then to its strokes, and sometimes changes its mind on the
# way. Nothing in the first guesses says *which* digit a row will become. Something else
# chooses: the fresh noise.
#
# ## Why add fresh noise at every step?
#
# Drop it. `ancestral_step(..., add_noise=False)` returns only the posterior mean
# $\tilde\mu(x_t, \hat x_0)$, a deterministic step. For a third row we use the deterministic DDIM
# step with $\eta = 0$ (explained in the next section) on the very same grid.

# %%
chains = {"ancestral": ancestral}
variants = {"no fresh noise": (samplers.ancestral_step, {"add_noise": False}), "DDIM, eta = 0": (samplers.ddim_step, {"eta": 0.0})}
with torch.no_grad():
    for name, (step, kw) in variants.items():  # the same loop as above, same seeds, same grid
        x, chains[name] = x_T, [x_T]
        for t, s in zip(ts, ts[1:]):
            x = step(model, x, t, s, schedule, **kw)
            chains[name].append(x)
results = {name: tinyddpm.to_pixels(states[-1]).clamp(0, 1) for name, states in chains.items()}
viz.comparison(results)

# %% [markdown]
# Without fresh noise every seed ends at the same fat, featureless blob. Three measurements make
# that precise: the classifier's reading and its confidence (the probability it gives its
# reading), how different the six samples are from each other (mean distance between pairs, in
# pixel RMSE), and how much of the image is "ink" (pixels above $0.5$) compared with real digits.

# %%
body, stats = [], {}
with torch.no_grad():
    for name, images in results.items():
        probs = classifier(images).softmax(1)
        pairwise_rmse = torch.cdist(images.flatten(1), images.flatten(1)) / 28  # (n, n), 28 x 28 pixels
        stats[name] = {
            "labels": ", ".join(map(str, predict_labels(classifier, images).tolist())),
            "confidence": [round(float(p), 2) for p in probs.max(1).values],
            "spread": float(pairwise_rmse.sum() / (n * (n - 1))),
            "ink": 100 * float((images > 0.5).float().mean()),
        }
        st = stats[name]
        body.append([name, st["labels"], f"{min(st['confidence']):.2f} to {max(st['confidence']):.2f}",
                     f"{st['spread']:.2f}", f"{st['ink']:.0f} %"])
real_ink = 100 * float((x_data > 0.5).float().mean())
body.append(["real digits", "", "", "", f"{real_ink:.0f} %"])
for name, key in (("ancestral", "anc"), ("no fresh noise", "blob"), ("DDIM, eta = 0", "ddim")):
    glue(f"{key}_labels", stats[name]["labels"], display=False)
    glue(f"{key}_conf_min", min(stats[name]["confidence"]), display=False)
    glue(f"{key}_conf_max", max(stats[name]["confidence"]), display=False)
    glue(f"{key}_spread", round(stats[name]["spread"], 2), display=False)
    glue(f"{key}_ink", round(stats[name]["ink"]), display=False)
glue("real_ink", round(real_ink), display=False)
glue("blob_ink_ratio", round(stats["no fresh noise"]["ink"] / real_ink, 1), display=False)
HTMLTable(["sampler", "classifier reads", "confidence", "spread", "ink"], body)

# %% [markdown]
# The ancestral samples are six different images with about as much ink as real ones
# ({glue:text}`anc_ink` % against {glue:text}`real_ink` %, spread {glue:text}`anc_spread:.2f`).
# The classifier reads them as {glue:text}`anc_labels`, with confidences from
# {glue:text}`anc_conf_min:.2f` to {glue:text}`anc_conf_max:.2f`. Not every one is a well-formed
# digit: the fifth row ends in a Y-shaped glyph no writer would make, which the classifier
# nonetheless reads with confidence (a confident classifier is no proof of a good digit). The
# noise-free chain collapses: its six outputs are practically one image
# (a spread of {glue:text}`blob_spread:.2f`), with {glue:text}`blob_ink_ratio:.1f` times the ink
# of a real digit, which the classifier reads as {glue:text}`blob_labels`, with confidences
# from {glue:text}`blob_conf_min:.2f` to {glue:text}`blob_conf_max:.2f`: the digits a blob most
# resembles. DDIM, also deterministic, does not collapse (spread {glue:text}`ddim_spread:.2f`).
# Why?
#
# ## The variance budget
#
# Write every step in one form, in terms of the network's two guesses $\hat x_0$ and
# $\hat\epsilon$ (they satisfy $x_t = \sqrt{\bar\alpha_t}\,\hat x_0 + \sqrt{1-\bar\alpha_t}\,\hat\epsilon$):
#
# $$ x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + c\,\hat\epsilon + \sigma z . $$
#
# The forward chain says what $x_s$ must look like: a clean image times $\sqrt{\bar\alpha_s}$
# plus noise of variance $1-\bar\alpha_s$. The network at the next step is trained on exactly
# that, and nothing else. The three samplers split that noise budget differently:
#
# | step | $c$ | $\sigma$ | noise variance $c^2 + \sigma^2$ |
# | --- | --- | --- | --- |
# | ancestral | $\sqrt{1-\bar\alpha_s-\tilde\beta}$ | $\sqrt{\tilde\beta}$ | $1-\bar\alpha_s$ |
# | posterior mean only | $\sqrt{1-\bar\alpha_s-\tilde\beta}$ | $0$ | $1-\bar\alpha_s-\tilde\beta$ |
# | DDIM, $\eta = 0$ | $\sqrt{1-\bar\alpha_s}$ | $0$ | $1-\bar\alpha_s$ |
#
# (The first row is the posterior mean rewritten; check it numerically below.) Dropping the fresh
# noise removes a variance $\tilde\beta$ at every step. How much is that? The fraction
# $\tilde\beta / (1-\bar\alpha_s)$ of the noise that *should* be in $x_s$:

# %%
x_t = ancestral[50]  # a state from the middle of the chain
t, s = ts[50], ts[51]
ab_t, ab_s = schedule.alpha_bar_at(t), schedule.alpha_bar_at(s)
with torch.no_grad():
    x0_hat, eps_hat = samplers.predict_start(model, x_t, t, schedule)
    beta_tilde = (1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)
    rewritten = ab_s.sqrt() * x0_hat + (1 - ab_s - beta_tilde).sqrt() * eps_hat
    posterior_mean = samplers.ancestral_step(model, x_t, t, s, schedule, add_noise=False)
print(f"posterior mean == rewritten form at t = {t:.0f}:", torch.allclose(rewritten, posterior_mean, atol=1e-5))
fractions = {}
for t, s in zip(ts, ts[1:]):
    ab_t, ab_s = schedule.alpha_bar_at(t), schedule.alpha_bar_at(s)
    fractions[(t, s)] = 100 * float((1 - ab_t / ab_s) / (1 - ab_t))  # = beta_tilde / (1 - alpha_bar_s), in %
later = [f for (t, s), f in fractions.items() if 0 < s < ts[1]]
glue("first_fraction", round(fractions[(ts[0], ts[1])], 1), display=False)
glue("later_fraction_min", round(min(later), 1), display=False)
glue("later_fraction_median", round(float(torch.tensor(later).median()), 1), display=False)
HTMLTable(["step", "fresh noise, share of the noise x_s needs"],
           [[f"{t:.0f} to {s:.0f}", f"{f:.1f} %"] for (t, s), f in list(fractions.items())[::20]])

# %% [markdown]
# The very first step is the whole story. At $t = T$ the posterior mean keeps *none* of $x_T$'s
# noise (the fraction is {glue:text}`first_fraction:.1f` %): all of the variance $x_{990}$ should
# have must come from the fresh noise. Without it, $x_{990} = \sqrt{\bar\alpha_{990}}\,\hat x_0$
# is the meaningless first guess shrunk by $\sqrt{\bar\alpha_{990}} =$
# {glue:text}`sqrt_ab_990:.4f`: an almost blank image, for every seed. The cell below compares the
# spread of $x_{990}$ on the three chains, then shows what the network makes of the almost blank
# image at $t = 990$: one silhouette for all six seeds, close to what it returns for an image of
# exact zeros. An exact MMSE denoiser would return the average of all digits there (bottom
# row); the network's answer is a saturated silhouette of the region where digits put their
# ink, because its small errors in $\hat\epsilon$ are divided by $\sqrt{\bar\alpha_{990}}$,
# amplified {glue:text}`amplify_990:.0f`-fold, and then clipped.

# %%
sqrt_ab_990 = float(schedule.alpha_bar_at(ts[1]).sqrt())
glue("sqrt_ab_990", round(sqrt_ab_990, 4), display=False)
glue("amplify_990", round(1 / sqrt_ab_990), display=False)
print(f"sqrt(alpha_bar_990) = {sqrt_ab_990:.4f}")
print("std of x_990 (the forward chain's has a std close to 1):")
print("\n".join(f"  {name:15s} {float(states[1].std()):.3f}" for name, states in chains.items()))
blank = chains["no fresh noise"][1]
with torch.no_grad():
    guess_blank = samplers.predict_start(model, blank, ts[1], schedule)[0]
    guess_zeros = samplers.predict_start(model, torch.zeros_like(blank[:1]), ts[1], schedule)[0]
viz.comparison({"guess at t = 990, no fresh noise": tinyddpm.to_pixels(guess_blank),
                "guess for an image of zeros": tinyddpm.to_pixels(guess_zeros),
                "mean of real digits": x_data.mean(0, keepdim=True)})

# %% [markdown]
# From then on the noise-free chain is a deterministic function of an almost seed-independent
# image, so all seeds give (almost) one output. Later steps only make it worse: each removes
# more of the noise the network expects (the median step, {glue:text}`later_fraction_median:.1f` %
# of it, and never less than {glue:text}`later_fraction_min:.1f` %). The plot measures this
# along the three chains: the noise actually left in $x_t$,
# $\operatorname{std}\big((x_t - \sqrt{\bar\alpha_t}\,x_0)/\sqrt{1-\bar\alpha_t}\big)$ with $x_0$
# the chain's own final image, against $1$, the value the network was trained for.

# %%
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, states in chains.items():
    final = states[-1].clamp(-1, 1)
    stds = [float(((x - schedule.alpha_bar_at(t).sqrt() * final) / (1 - schedule.alpha_bar_at(t)).sqrt()).std())
            for t, x in zip(ts[:-1], states[:-1])]
    ax.plot(ts[:-1], stds, label=name)
ax.axhline(1.0, color="gray", lw=0.8, ls="--")
ax.set(xlabel="step t", ylabel="noise std in x_t (relative)", yscale="log")
ax.invert_xaxis()
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# Ancestral sampling and DDIM keep the noise exactly where the network expects it (the curves
# sit on $1$). The noise-free chain shows the network images with a small fraction of that
# noise. A denoiser told "this image is very noisy" but shown a smooth blob does the only
# sensible thing for an MMSE estimator: it trusts the image very little and returns something
# close to its answer for "no information", which is the blob again. The fresh noise is what
# keeps the chain on the distribution the network was trained on, and it is also the only
# source of new randomness: each step's posterior $q(x_s \mid x_t, x_0)$ has genuine
# uncertainty $\tilde\beta$, and sampling it lets the chain *choose* details (a loop here, a
# stroke there) instead of averaging over them.
#
# DDIM shows the other way out: keep the full noise budget, but fill it deterministically with
# the predicted noise $\hat\epsilon$ rather than fresh $z$. Then the randomness lives entirely in
# $x_T$, and the sampler is a deterministic map from seed to digit.
#
# ## The student's guess: does fresh noise correct mistakes?
#
# The project this book answers had its own explanation: "The paper didn't explain why they need
# add back this noise, so I guess that this noise is try to bring the wrongly predicted pixes
# back to noise" (the student's write-up). The variance budget above is the main reason, but the
# guess is partly right, and it can be tested. Karras et al. {cite}`karras2022edm` found that the
# fresh noise of stochastic samplers "actively corrects for errors made in earlier sampling
# steps", while a deterministic sampler carries every error to the end. So: take the six chains
# above at $t = 500$, paint a wrong stroke into them (a horizontal bar, at the strength a real
# stroke has inside $x_{500}$), and finish each chain twice from there, with and without the
# stroke, with the same fresh noise. Whatever differs at the end is what the sampler did not
# correct.

# %%
k = ts.index(500.0)
bar = torch.zeros(1, 1, 28, 28)
bar[..., 13:15, 5:23] = 1.0  # pixel units: a two-pixel-high bar across the middle
mistake = schedule.alpha_bar_at(ts[k]).sqrt().float() * 2 * bar  # the bar as it sits in x_500 (model units)


def finish(step, x, **kw):
    g = tinyddpm.seeded(7)  # the same fresh noise for both runs of a pair
    with torch.no_grad():
        for t, s in zip(ts[k:], ts[k + 1:]):
            x = step(model, x, t, s, schedule, generator=g, **kw)
    return tinyddpm.to_pixels(x).clamp(0, 1)


left, shown = {}, {}
for name, (step, kw) in {"ancestral": (samplers.ancestral_step, {}), "DDIM, eta = 0": (samplers.ddim_step, {"eta": 0.0})}.items():
    plain, hit = finish(step, ancestral[k], **kw), finish(step, ancestral[k] + mistake, **kw)
    on_bar = bar.expand_as(hit) > 0
    left[name] = 100 * float((hit - plain)[on_bar].mean())  # % of the bar's intensity still there
    shown |= {f"{name}, as sampled": plain, f"{name}, with the bar at t = 500": hit}
    glue(f"bar_left_{name.split(',')[0].lower()}", left[name], display=False)
print("\n".join(f"{name}: {v:.0f} % of the bar's intensity left at the end" for name, v in left.items()))
viz.comparison(shown)

# %% [markdown]
# With fresh noise, {glue:text}`bar_left_ancestral:.0f` % of the painted bar's intensity is left
# in the final digits (averaged over the bar's pixels and the six seeds); on the deterministic
# DDIM path, {glue:text}`bar_left_ddim:.0f` %. The fresh noise does wash out more of the
# mistake: each ancestral step keeps less of $x_t$ than a DDIM step does (the coefficient of
# $x_t$ in $\tilde\mu$ is the smaller one) and fills the rest with new noise, so an error in
# $x_t$ decays a little faster along the chain. But most of a stroke-sized mistake survives
# either way: halfway down the chain the network takes a bar for part of the digit and draws
# the rest of the digit around it. So the student's guess holds in a weak form: fresh noise
# forgives small mistakes better, the effect Karras et al. build their stochastic sampler on.
# It is not why the noise is there: the noise-free chain above fails at its very first step,
# before any mistake could accumulate.
#
# ## DDIM: the quality / steps trade-off
#
# DDIM {cite}`song2021ddim` rewrites the step with a free noise level $\sigma(\eta)$; $\eta = 1$
# is the ancestral step, $\eta = 0$ uses no fresh noise and puts the whole budget on
# $\hat\epsilon$:
#
# ```{literalinclude} /src/tinyddpm/samplers.py
# :pyobject: ddim_step
# ```
#
# Because the $\eta = 0$ sampler is a deterministic map from $x_T$ to a digit, and the map
# changes little once the grid is fine, we can ask a precise question: with the *same* seeds,
# how close do 5, 10 and 20 steps come to what 50 steps produce? Twenty seeds:

# %%
n = 20
x_T = torch.randn(n, 1, 28, 28, generator=tinyddpm.seeded(2))
by_steps = {}
for steps in (5, 10, 20, 50):
    x0 = samplers.sample_loop(samplers.ddim_step, model, x_T, samplers.ddim_timesteps(float(schedule.T), steps), schedule, eta=0.0)
    by_steps[steps] = tinyddpm.to_pixels(x0).clamp(0, 1)
viz.comparison({f"{k} steps": v for k, v in by_steps.items()}, scale=2)

# %%
reference = by_steps[50]
ref_labels = predict_labels(classifier, reference)
body = []
with torch.no_grad():
    for steps, images in by_steps.items():
        conf = float(classifier(images).softmax(1).max(1).values.mean())
        agree = 100 * float((predict_labels(classifier, images) == ref_labels).float().mean())
        db = float(tinyddpm.metrics.psnr(images, reference).mean())
        body.append([steps, "(reference)" if steps == 50 else f"{db:.1f} dB", f"{agree:.0f} %", f"{conf:.2f}"])
        if steps != 50:
            glue(f"agree_{steps}", round(agree), display=False)
            glue(f"psnr_{steps}", round(db, 1), display=False)
HTMLTable(["steps", "PSNR vs 50 steps", "same label as 50 steps", "mean classifier confidence"], body)

# %% [markdown]
# With 5 steps the samples keep specks of unremoved noise, and only {glue:text}`agree_5` % of
# the seeds land on the digit that 50 steps give ({glue:text}`psnr_5:.1f` dB from it). By 20
# steps {glue:text}`agree_20` % agree with the 50-step digit and the images are close to it
# pixel for pixel ({glue:text}`psnr_20:.1f` dB). Compare the cost: 20 steps are 50 times cheaper
# than DDPM's 1000. The classifier's confidence changes less than the pictures do: it answers
# "is this some digit?", not "is it the same digit?". Where quality is judged by eye, 20 to 50
# DDIM steps are the usual choice; the denoising chapter needs far fewer, because it starts
# partway down the chain.
#
# ## Digits on demand: class labels and guidance
#
# The shipped model was trained with class labels, and with the label randomly replaced by a
# "null" class {glue:text}`p_uncond_pct_start:.0f` % of the time (in its last
# {glue:text}`final_steps:,d` steps {glue:text}`p_uncond_pct:.0f` %, chapter 8 says why), so one network gives both
# $\epsilon_\theta(x_t, t, y)$ and the unconditional $\epsilon_\theta(x_t, t, \varnothing)$.
# Classifier-free guidance {cite}`ho2022cfg` combines them with a scale $g$:
#
# $$ \hat\epsilon = \epsilon_\theta(x_t, t, \varnothing) + g\,\big(\epsilon_\theta(x_t, t, y) - \epsilon_\theta(x_t, t, \varnothing)\big). $$
#
# $g = 1$ is the plain conditional model; $g > 1$ pushes further in the direction that makes
# the label more likely, at the price of two network evaluations per step:
#
# ```{literalinclude} /src/tinyddpm/samplers.py
# :pyobject: guided_eps
# ```
#
# Three digits of each class, 10 DDIM steps, from the same seeds: unconditional, conditional
# ($g = 1$) and guided ($g = 3$). The classifier checks that each digit is the one asked for,
# and the spread within a class (mean pixel RMSE between two samples asked for the same digit)
# measures how varied they are.

# %%
_, _, info = load_model(pretrained_path("ddpm"))
glue("p_uncond_pct", round(100 * info["train_config"]["p_uncond"]), display=False)
start = info.get("init_run", info)  # the run this model continued, if it is a fine-tune
glue("p_uncond_pct_start", round(100 * start["train_config"]["p_uncond"]), display=False)
glue("final_steps", info["steps"] if "init_run" in info else 0, display=False)
wanted = torch.arange(10).repeat(3)  # 0..9, three times
settings = {"unconditional": {}, "label, g = 1": {"label": wanted}, "label, g = 3": {"label": wanted, "guidance": 3.0}}
generated, body = {}, []
with torch.no_grad():
    for key, (name, kw) in zip(("uncond", "g1", "g3"), settings.items()):
        x0 = tinyddpm.sample(model, schedule, len(wanted), method="ddim", steps=10, generator=tinyddpm.seeded(3), **kw)
        generated[name] = tinyddpm.to_pixels(x0).clamp(0, 1)
        probs = classifier(generated[name]).softmax(1)
        per_class = generated[name].reshape(3, 10, 28 * 28).transpose(0, 1)  # (class, sample, pixels)
        spread = float(torch.cdist(per_class, per_class).sum() / 28 / (10 * 3 * 2))  # mean pairwise RMSE within a class
        hit = 100 * float((probs.argmax(1) == wanted).float().mean())
        p_wanted = float(probs[torch.arange(len(wanted)), wanted].mean())
        body.append([name, f"{hit:.1f} %", f"{p_wanted:.2f}", f"{spread:.2f}"])
        glue(f"{key}_hit", round(hit, 1), display=False)
        glue(f"{key}_p", round(p_wanted, 2), display=False)
HTMLTable(["samples", "read as the wanted digit", "probability of the wanted digit", "spread within a class"], body)

# %%
viz.comparison({name: images[:10] for name, images in generated.items()})

# %% [markdown]
# Unconditional samples land on the wanted class only by chance ({glue:text}`uncond_hit:.1f` %;
# one in ten would be expected). The label alone already steers {glue:text}`g1_hit:.1f` % of the
# samples to the right digit; guidance raises that to {glue:text}`g3_hit:.1f` %, and the
# classifier's probability of the wanted digit from {glue:text}`g1_p:.2f` to
# {glue:text}`g3_p:.2f`. Here are all thirty guided digits, one class per column:

# %%
viz.grid(generated["label, g = 3"], nrow=10, scale=3)

# %% [markdown]
# Guidance trades diversity for fidelity {cite}`ho2022cfg`: the larger $g$, the more the samples
# of one class are pulled towards its most typical shapes. The last column of the table above
# measures that (the mean pixel distance between two samples of the same class); with only
# three samples per class it is a rough gauge, but it is the quantity to watch when you raise
# $g$. Chapter 7 puts the same mechanism to work for denoising, where the question is not
# "draw me a three" but "keep this three a three".
#
# ## What to take away
#
# - An ancestral step samples the Gaussian posterior $q(x_s \mid x_t, \hat x_0)$; its fresh
#   noise is not a nuisance but the part of $x_s$ the mean cannot supply.
# - Without it the chain leaves the distribution the network was trained on and collapses onto
#   one blob, the network's saturated answer for "no information", identically for every seed.
# - DDIM keeps the noise budget deterministically and, being a fixed map from seed to image,
#   needs only tens of steps.
# - One class-conditional network, with guidance, generates any digit on demand.
#
# Next: a noisy photograph is already a point on the chain, so denoising is sampling that
# starts in the middle.
