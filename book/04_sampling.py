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
# fast with DDIM {cite}`song2021ddim`, derive it as an equation and as a step of an ordinary
# differential equation, and ask for a particular digit with classifier-free guidance
# {cite}`ho2022cfg`. Symbols are listed on the {doc}`notation` page.
#
# Everything runs on a CPU; the model is the shipped pretrained one.

# %% tags=["hide-input"]
import matplotlib.pyplot as plt
import torch
from myst_nb import glue

import tinyddpm
from tinyddpm import samplers, viz
from tinyddpm.harness.book_data import HTMLTable, read_json
from tinyddpm.checkpoint import load_model, pretrained_path
from tinyddpm.diffusion import q_posterior
from tinyddpm.metrics import predict_labels, psnr

# %%
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
# $$ q(x_s \mid x_t, x_0) = \mathcal N\big(\tilde\mu(x_t, x_0),\ \tilde\beta_{t\to s}\, I\big),\qquad
#    \tilde\mu = \frac{\sqrt{\bar\alpha_s}\,\beta_{t|s}}{1-\bar\alpha_t}\,x_0 + \frac{\sqrt{\alpha_{t|s}}\,(1-\bar\alpha_s)}{1-\bar\alpha_t}\,x_t,\qquad
#    \tilde\beta_{t\to s} = \frac{1-\bar\alpha_s}{1-\bar\alpha_t}\,\beta_{t|s}, $$
#
# with $\alpha_{t|s} = \bar\alpha_t / \bar\alpha_s$ and $\beta_{t|s} = 1 - \alpha_{t|s}$, for any
# earlier step $s < t$ (DDPM's Eqs. 6-7 are the case $s = t-1$, where $\tilde\beta_{t\to s}$ is
# the $\tilde\beta_t$ of the notation page). We do not know $x_0$, but the network gives a best
# guess, $\hat x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta)/\sqrt{\bar\alpha_t}$
# (`predict_start`). The ancestral step of DDPM (Algorithm 2) plugs that guess in and *samples*:
#
# $$ x_s = \tilde\mu(x_t, \hat x_0) + \sqrt{\tilde\beta_{t\to s}}\; z,\qquad z \sim \mathcal N(0, I). $$
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
# 1000 steps if you have the time. We do not run that grid here (it costs ten times as much),
# but the section on fresh noise checks its first step, where the collapse we are about to see
# begins.
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
# errors up into the salt-and-pepper of the first column (black or white because the sampler
# clips $\hat x_0$ to $[-1, 1]$; a section below shows what that clipping does). By $t = 800$
# the guess is a blurry, digit-like shape (a compromise between the digits $x_t$ could still
# become), and as $t$ falls it commits to one digit, then to its strokes, and sometimes changes
# its mind on the way. Nothing in the first guesses says *which* digit a row will become.
# Something else chooses: the fresh noise.
#
# ## Why add fresh noise at every step?
#
# Drop it. `ancestral_step(..., add_noise=False)` returns only the posterior mean
# $\tilde\mu(x_t, \hat x_0)$, a deterministic step. For a third row we use the deterministic DDIM
# step with $\eta = 0$ (derived further down) on the very same grid.

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

# %% tags=["hide-input"]
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
glue("anc5_label", stats["ancestral"]["labels"].split(", ")[4], display=False)  # the fifth row
glue("anc5_conf", stats["ancestral"]["confidence"][4], display=False)
HTMLTable(["sampler", "classifier reads", "confidence", "spread", "ink"], body)

# %% [markdown]
# The ancestral samples are six different images with about as much ink as real ones
# ({glue:text}`anc_ink` % against {glue:text}`real_ink` %, spread {glue:text}`anc_spread:.2f`).
# The classifier reads them as {glue:text}`anc_labels`, with confidences from
# {glue:text}`anc_conf_min:.2f` to {glue:text}`anc_conf_max:.2f`. Look at each one before you
# trust those readings: in the figure above, the fifth row ends in a single hooked stroke, more
# a fragment than a digit, which the classifier still reads as a {glue:text}`anc5_label` (with
# confidence {glue:text}`anc5_conf:.2f`). A classifier's reading is no proof of a good digit.
# The noise-free chain collapses: its six outputs are practically one image
# (a spread of {glue:text}`blob_spread:.2f`), with {glue:text}`blob_ink_ratio:.1f` times the ink
# of a real digit, which the classifier reads as {glue:text}`blob_labels`, with confidences
# from {glue:text}`blob_conf_min:.2f` to {glue:text}`blob_conf_max:.2f`: the digits a blob most
# resembles. DDIM, also deterministic, does not collapse (spread {glue:text}`ddim_spread:.2f`).
# Why?
#
# ## The variance budget
#
# Write every step in one form, in terms of the network's two guesses $\hat x_0$ and
# $\hat\epsilon$ (they satisfy $x_t = \sqrt{\bar\alpha_t}\,\hat x_0 + \sqrt{1-\bar\alpha_t}\,\hat\epsilon$),
# with a weight $k_\epsilon$ on the predicted noise and a weight $k_z$ on fresh noise $z$:
#
# $$ x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + k_\epsilon\,\hat\epsilon + k_z\, z . $$
#
# The forward chain says what $x_s$ must look like: a clean image times $\sqrt{\bar\alpha_s}$
# plus noise of variance $1-\bar\alpha_s$. The network at the next step is trained on exactly
# that, and nothing else. The three samplers split that noise budget differently:
#
# | step | $k_\epsilon$ | $k_z$ | noise variance $k_\epsilon^2 + k_z^2$ |
# | --- | --- | --- | --- |
# | ancestral | $\sqrt{1-\bar\alpha_s-\tilde\beta_{t\to s}}$ | $\sqrt{\tilde\beta_{t\to s}}$ | $1-\bar\alpha_s$ |
# | posterior mean only | $\sqrt{1-\bar\alpha_s-\tilde\beta_{t\to s}}$ | $0$ | $1-\bar\alpha_s-\tilde\beta_{t\to s}$ |
# | DDIM, $\eta = 0$ | $\sqrt{1-\bar\alpha_s}$ | $0$ | $1-\bar\alpha_s$ |
#
# The first row is the posterior mean rewritten: substitute $x_t$ into $\tilde\mu$ and collect
# terms. Check it numerically:

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

# %% [markdown]
# Dropping the fresh noise removes a variance $\tilde\beta_{t\to s}$ at every step. How much is
# that? The fraction $\tilde\beta_{t\to s} / (1-\bar\alpha_s)$ of the noise that *should* be in
# $x_s$, for every fifth step of the grid:

# %%
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
# Does the full grid of 1000 unit steps, which `steps=None` walks, start the same way? Its
# first step goes from $T$ to $999$: the share of fresh noise it needs, and the standard
# deviation of $x_{999}$ when that fresh noise is dropped (the forward chain's is close to $1$):

# %%
ab_999 = float(schedule.alpha_bar_at(999.0))
unit_fraction = 100 * (1 - ab_T / ab_999) / (1 - ab_T)  # beta_tilde / (1 - alpha_bar_999), in %
with torch.no_grad():
    x_999 = samplers.ancestral_step(model, x_T, 1000.0, 999.0, schedule, add_noise=False)
print(f"step 1000 -> 999: fresh noise is {unit_fraction:.1f} % of the noise x_999 needs")
print(f"std of x_999 without it: {float(x_999.std()):.4f} (the forward chain's: close to 1)")
glue("unit_fraction", round(unit_fraction, 1), display=False)
glue("unit_std", round(float(x_999.std()), 3), display=False)

# %% [markdown]
# So on the fine grid too the noise-free chain starts from an almost blank image: the first
# step needs {glue:text}`unit_fraction:.1f` % of its noise from the fresh noise, and without it
# leaves a standard deviation of {glue:text}`unit_std:.3f`. From then on the noise-free chain is a deterministic
# function of an almost seed-independent image, so all seeds give (almost) one output. Later
# steps only make it worse: each removes more of the noise the network expects (the median
# step of our grid, {glue:text}`later_fraction_median:.1f` % of it, and never less than
# {glue:text}`later_fraction_min:.1f` %). The plot measures this along the three chains: the
# noise actually left in $x_t$,
# $\operatorname{std}\big((x_t - \sqrt{\bar\alpha_t}\,x_0)/\sqrt{1-\bar\alpha_t}\big)$ with $x_0$
# the chain's own final image, against $1$, the value the network was trained for.

# %%
noise_left = {}
for name, states in chains.items():
    final = states[-1].clamp(-1, 1)
    noise_left[name] = [float(((x - schedule.alpha_bar_at(t).sqrt() * final) / (1 - schedule.alpha_bar_at(t)).sqrt()).std())
                        for t, x in zip(ts[:-1], states[:-1])]

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.4))
for name, stds in noise_left.items():
    ax.plot(ts[:-1], stds, label=name)
ax.axhline(1.0, color="gray", lw=0.8, ls="--")
ax.set(xlabel="step t", ylabel="noise std in x_t (relative)", yscale="log")
ax.invert_xaxis()
ax.legend()
fig.tight_layout()
plt.show()
for name, key in (("ancestral", "anc"), ("DDIM, eta = 0", "ddim"), ("no fresh noise", "blob")):
    stds = noise_left[name]
    glue(f"{key}_std_min", round(min(stds), 2), display=False)
    glue(f"{key}_std_max", round(max(stds), 2), display=False)
    glue(f"{key}_std_min_t", round(ts[stds.index(min(stds))]), display=False)
glue("blob_std_max_after", round(max(noise_left["no fresh noise"][1:]), 2), display=False)

# %% [markdown]
# Ancestral sampling keeps the noise where the network expects it: its curve stays between
# {glue:text}`anc_std_min:.2f` and {glue:text}`anc_std_max:.2f`. DDIM's curve stays between
# {glue:text}`ddim_std_min:.2f` and {glue:text}`ddim_std_max:.2f`, lowest at
# $t =$ {glue:text}`ddim_std_min_t`. Where it falls below $1$, the reason is that DDIM refills
# the budget with $\hat\epsilon$, the network's *mean* guess of the noise, and a mean guess
# varies less than the noise it estimates (its variance is $1$ minus the variance the guess
# leaves unexplained), so a little of the noise can be lost at every step. The noise-free
# chain, after its first step, never gets above {glue:text}`blob_std_max_after:.2f`: it shows
# the network images with a fraction of the noise it expects. A denoiser told "this image is very noisy" but shown
# a smooth blob does the only sensible thing for an MMSE estimator: it trusts the image very
# little and returns something close to its answer for "no information", which is the blob
# again. The fresh noise is what keeps the chain on the distribution the network was trained
# on, and it is also the only source of new randomness: each step's posterior
# $q(x_s \mid x_t, x_0)$ has genuine uncertainty $\tilde\beta_{t\to s}$, and sampling it lets
# the chain *choose* details (a loop here, a stroke there) instead of averaging over them.
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

# %%
left, shown = {}, {}
for name, (step, kw) in {"ancestral": (samplers.ancestral_step, {}), "DDIM, eta = 0": (samplers.ddim_step, {"eta": 0.0})}.items():
    plain, hit = finish(step, ancestral[k], **kw), finish(step, ancestral[k] + mistake, **kw)
    on_bar = bar.expand_as(hit) > 0
    left[name] = 100 * ((hit - plain) * on_bar).sum((1, 2, 3)) / on_bar.sum((1, 2, 3))  # per seed: % of the bar left
    shown |= {f"{name}, as sampled": plain, f"{name}, with the bar at t = 500": hit}
for name, v in left.items():
    print(f"{name}: {float(v.mean()):.0f} % of the bar's intensity left (seeds: {float(v.min()):.0f} to {float(v.max()):.0f} %)")
viz.comparison(shown)

# %% tags=["hide-input"]
anc, ddim = left["ancestral"], left["DDIM, eta = 0"]
for key, v in (("ancestral", anc), ("ddim", ddim)):
    glue(f"bar_left_{key}", round(float(v.mean())), display=False)
    glue(f"bar_left_{key}_min", round(float(v.min())), display=False)
    glue(f"bar_left_{key}_max", round(float(v.max())), display=False)
glue("bar_cmp", "less" if anc.mean() < ddim.mean() else "as much or more", display=False)
glue("bar_anc_less_seeds", int((anc < ddim).sum()), display=False)
glue("bar_left_all_min", round(float(torch.cat([anc, ddim]).min())), display=False)

# %% [markdown]
# With fresh noise, on average {glue:text}`bar_left_ancestral` % of the painted bar's intensity
# is left in the final digits (from {glue:text}`bar_left_ancestral_min` % to
# {glue:text}`bar_left_ancestral_max` % across the six seeds); on the deterministic DDIM path,
# {glue:text}`bar_left_ddim` % (from {glue:text}`bar_left_ddim_min` % to
# {glue:text}`bar_left_ddim_max` %). On average the ancestral chain keeps
# {glue:text}`bar_cmp` of the bar than DDIM, and less on {glue:text}`bar_anc_less_seeds` of
# the six seeds; set the gap between the two averages beside the spread across seeds before
# you read much into it. The theory predicts a direction: each ancestral step keeps less of
# $x_t$ than a DDIM step does (the coefficient of $x_t$ in $\tilde\mu$ is the smaller one) and
# fills the rest with new noise, so an error in $x_t$ should decay a little faster along the
# chain. How much survives either way? On every seed, in both chains, at least
# {glue:text}`bar_left_all_min` % of the bar's intensity is left; where much of it survives,
# the network has taken the bar for part of the digit halfway down the chain and drawn the rest
# of the digit around it (compare the rows of the figure). So the
# student's guess holds at most in a weak form: fresh noise can forgive small mistakes a little
# better, the effect Karras et al. build their stochastic sampler on. It is not why the noise
# is there: the noise-free chain above fails at its very first step, before any mistake could
# accumulate.
#
# ## DDIM as an equation
#
# The variance budget says what any good step must do: leave $x_s$ with the signal
# $\sqrt{\bar\alpha_s}\,x_0$ and noise of variance $1-\bar\alpha_s$. DDIM {cite}`song2021ddim`
# builds a whole family of steps that do exactly that. Write
# $\epsilon_t = (x_t - \sqrt{\bar\alpha_t}\,x_0)/\sqrt{1-\bar\alpha_t}$ for the standard normal
# noise inside $x_t$, and look for steps of the form
#
# $$ x_s = \sqrt{\bar\alpha_s}\,x_0 + k_\epsilon\,\epsilon_t + k_z\,z, \qquad z \sim \mathcal N(0, I) \text{ independent of } \epsilon_t . $$
#
# Given $x_0$, this $x_s$ is Gaussian with mean $\sqrt{\bar\alpha_s}\,x_0$ and variance
# $k_\epsilon^2 + k_z^2$, so it has the forward chain's marginal
# $q(x_s \mid x_0) = \mathcal N(\sqrt{\bar\alpha_s}\,x_0, (1-\bar\alpha_s) I)$ whenever
# $k_\epsilon^2 + k_z^2 = 1 - \bar\alpha_s$. DDIM spends a share $\eta^2$ of the posterior
# variance on fresh noise, $k_z^2 = \eta^2\,\tilde\beta_{t\to s}$, puts the rest of the budget on
# $\epsilon_t$, and replaces $x_0$ and $\epsilon_t$ by the network's guesses:
#
# $$ x_s = \sqrt{\bar\alpha_s}\,\hat x_0 + \sqrt{1-\bar\alpha_s-\eta^2\,\tilde\beta_{t\to s}}\;\hat\epsilon + \eta\,\sqrt{\tilde\beta_{t\to s}}\;z,
#    \qquad \tilde\beta_{t\to s} = \frac{1-\bar\alpha_s}{1-\bar\alpha_t}\Big(1 - \frac{\bar\alpha_t}{\bar\alpha_s}\Big). $$
#
# The square root is real for every $\eta \in [0, 1]$ because
# $\tilde\beta_{t\to s} \le 1 - \bar\alpha_s$ (exercise 1). With $\eta = 1$ the step is the
# first row of the budget table: mean $\tilde\mu(x_t, \hat x_0)$ and variance
# $\tilde\beta_{t\to s}$, the ancestral step. With $\eta = 0$ it is the third row: no fresh
# noise, the whole budget on $\hat\epsilon$, a deterministic step. (The DDIM paper writes the
# fresh noise's standard deviation as $\sigma_t(\eta)$; in this book $\sigma$ is the pixel noise
# of a given image, so we write $\eta\sqrt{\tilde\beta_{t\to s}}$. In the package's code below
# it is the variable `sigma`.)
#
# ```{literalinclude} /src/tinyddpm/samplers.py
# :pyobject: ddim_step
# ```
#
# A check with a stand-in network that always predicts the same $\epsilon$, so that only the
# formula is tested (clipping, explained below, is switched off here): the package's
# $\eta = 0$ step against the equation typed in, its $\eta = 1$ step against the ancestral step
# with the same random numbers, and $\tilde\beta_{t\to s}$ against `q_posterior`'s variance.

# %%
def constant_eps(x, t, y=None):  # a stand-in network: always the same eps
    return torch.randn(x.shape, generator=tinyddpm.seeded(4))


x_t, t, s = torch.randn(4, 1, 28, 28, generator=tinyddpm.seeded(5)), 600.0, 500.0
ab_t, ab_s = schedule.alpha_bar_at(t), schedule.alpha_bar_at(s)
eps = constant_eps(x_t, t)
x0_hat = (x_t - (1 - ab_t).sqrt() * eps) / ab_t.sqrt()
eta0 = samplers.ddim_step(constant_eps, x_t, t, s, schedule, eta=0.0, clip_x0=False)
print("eta = 0, package == formula:", torch.allclose(eta0, ab_s.sqrt() * x0_hat + (1 - ab_s).sqrt() * eps, atol=1e-6))
eta1 = samplers.ddim_step(constant_eps, x_t, t, s, schedule, eta=1.0, clip_x0=False, generator=tinyddpm.seeded(6))
anc1 = samplers.ancestral_step(constant_eps, x_t, t, s, schedule, clip_x0=False, generator=tinyddpm.seeded(6))
print("eta = 1, DDIM step == ancestral step:", torch.allclose(eta1, anc1, atol=1e-6))
beta_tilde = (1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)
print(f"beta_tilde = {float(beta_tilde):.6f}, q_posterior's variance = {float(q_posterior(x0_hat, x_t, t, s, schedule)[1].flatten()[0]):.6f}")

# %% [markdown]
# ## DDIM as an ODE solver
#
# Divide the forward chain by $\sqrt{\bar\alpha_t}$:
#
# $$ \bar x_t = \frac{x_t}{\sqrt{\bar\alpha_t}} = x_0 + \sigma_{\mathrm K}(t)\,\epsilon, \qquad
#    \sigma_{\mathrm K}(t) = \sqrt{\frac{1-\bar\alpha_t}{\bar\alpha_t}} . $$
#
# In these variables the image is the clean digit plus noise of standard deviation
# $\sigma_{\mathrm K}$ that grows very large as $t \to T$ (to about $1/\sqrt{\bar\alpha_T}$): the
# *variance-exploding* view of
# Karras et al. {cite}`karras2022edm`, whose noise level $\sigma_{\mathrm K}$ is measured in
# model units, so it is $2\sigma$ in this book's pixel notation (exercise 2). Divide DDIM's
# $\eta = 0$ step by $\sqrt{\bar\alpha_s}$ and use $\hat x_0 = \bar x_t - \sigma_{\mathrm K}(t)\,\hat\epsilon$:
#
# $$ \bar x_s = \hat x_0 + \sigma_{\mathrm K}(s)\,\hat\epsilon
#             = \bar x_t + \big(\sigma_{\mathrm K}(s) - \sigma_{\mathrm K}(t)\big)\,\hat\epsilon . $$
#
# That is one Euler step, from $\sigma_{\mathrm K}(t)$ to $\sigma_{\mathrm K}(s)$, of the
# ordinary differential equation
#
# $$ \frac{d\bar x}{d\sigma_{\mathrm K}} = \hat\epsilon(\bar x, \sigma_{\mathrm K}) . $$
#
# It is the *probability-flow ODE* of Song et al. {cite}`song2021sde` in these variables: by
# Tweedie's formula (chapter 3), $\hat x_0 = \bar x + \sigma_{\mathrm K}^2\,\nabla_{\bar x} \log p_{\sigma_{\mathrm K}}(\bar x)$,
# so the network's estimate of the score of the noisy images is
# $\nabla_{\bar x} \log p_{\sigma_{\mathrm K}}(\bar x) = -\hat\epsilon / \sigma_{\mathrm K}$, and the right-hand side is
# $-\sigma_{\mathrm K}\,\nabla_{\bar x} \log p_{\sigma_{\mathrm K}}(\bar x)$, the ODE whose solutions
# carry the noisy distribution at one noise level to the one at another, with no randomness
# at all. Deterministic DDIM is the simplest solver of that ODE, and fewer steps are larger
# Euler steps: that is why 5 steps below give other digits than 50. The identity holds with
# clipping too, because the sampler recomputes $\hat\epsilon$ from the clipped $\hat x_0$. One
# DDIM step against one Euler step, on a real state of the chain, with the shipped network:

# %%
x_t, t, s = ancestral[50], ts[50], ts[60]  # a state at t = 500, one jump to s = 400
ab_t, ab_s = schedule.alpha_bar_at(t), schedule.alpha_bar_at(s)
sigma_k_t, sigma_k_s = ((1 - ab_t) / ab_t).sqrt(), ((1 - ab_s) / ab_s).sqrt()  # Karras et al.'s sigma
with torch.no_grad():
    _, eps_hat = samplers.predict_start(model, x_t, t, schedule)
    ddim = samplers.ddim_step(model, x_t, t, s, schedule, eta=0.0)
euler = x_t / ab_t.sqrt() + (sigma_k_s - sigma_k_t) * eps_hat  # one Euler step of dx/dsigma_K = eps_hat
difference = float((ddim / ab_s.sqrt() - euler).abs().max())
print(f"sigma_K from {float(sigma_k_t):.3f} to {float(sigma_k_s):.3f}")
print("DDIM step == Euler step (max difference below 1e-5):", difference < 1e-5)

# %% [markdown]
# ## DDIM: the quality / steps trade-off
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
        db = float(psnr(images, reference).mean())
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
# ## Clipping $\hat x_0$
#
# The equations above leave out one thing the package's samplers do. `predict_start` clips
# $\hat x_0$ to $[-1, 1]$, the range of real images in model units, and then recomputes
# $\hat\epsilon$ from the clipped $\hat x_0$, so that the pair still satisfies
# $x_t = \sqrt{\bar\alpha_t}\,\hat x_0 + \sqrt{1-\bar\alpha_t}\,\hat\epsilon$:
#
# ```{literalinclude} /src/tinyddpm/samplers.py
# :pyobject: predict_start
# ```
#
# `ancestral_step` and `ddim_step` both call it with `clip_x0=True` unless told otherwise, so
# every step of every sampler in this book (and of `tinyddpm.sample`) clips. How much does it
# do? First, the share of the pixels of $\hat x_0$ that fall outside $[-1, 1]$ along the
# ancestral chains of the six seeds above:

# %%
clipped = {}
with torch.no_grad():
    for t in show_at:
        x0_raw, _ = samplers.predict_start(model, ancestral[ts.index(t)], t, schedule, clip_x0=False)
        out = x0_raw.abs() > 1  # the pixels that clipping changes
        clipped[t] = (100 * float(out.float().mean()), 100 * float((x0_raw < -1).sum() / out.sum()),
                      float((x0_raw.abs() - 1)[out].median()))
for t, (share, below, over) in clipped.items():
    print(f"t = {t:4.0f}: {share:5.1f} % clipped, {below:5.1f} % of them below -1, "
          f"median overshoot {over:.2g}")

# %% tags=["hide-input"]
later = [share for t, (share, _, _) in clipped.items() if t < 1000]
glue("clip_T", round(clipped[1000.0][0], 1), display=False)
glue("clip_over_T", float(f"{clipped[1000.0][2]:.2g}"), display=False)
glue("clip_later_min", round(min(later), 1), display=False)
glue("clip_later_max", round(max(later), 1), display=False)
glue("clip_bg_50", round(clipped[50.0][1], 1), display=False)
glue("clip_over_50", float(f"{clipped[50.0][2]:.2g}"), display=False)

# %% [markdown]
# At $t = T$, {glue:text}`clip_T:.1f` % of the pixels are clipped, by a median
# {glue:text}`clip_over_T:.0f` beyond the range: the guess there is the network's error divided by
# $\sqrt{\bar\alpha_T}$, and clipping is all that keeps it in the range of an image. From
# $t = 800$ on, the share of clipped pixels lies between {glue:text}`clip_later_min:.1f` % and
# {glue:text}`clip_later_max:.1f` %, but the overshoot is of another kind: at $t = 50$,
# {glue:text}`clip_bg_50:.1f` % of the clipped pixels lie below $-1$, on the black background,
# and the median one lies {glue:text}`clip_over_50` beyond the range.
# Then the same ten DDIM steps and twenty seeds as above, once with clipping (the package's
# default) and once with `clip_x0=False`:

# %%
ts_10 = samplers.ddim_timesteps(float(schedule.T), 10)
raw = samplers.sample_loop(samplers.ddim_step, model, x_T, ts_10, schedule, eta=0.0, clip_x0=False)
unclipped = tinyddpm.to_pixels(raw).clamp(0, 1)
same = 100 * float((predict_labels(classifier, unclipped) == predict_labels(classifier, by_steps[10])).float().mean())
print(f"largest |value| of the unclipped samples (model units): {float(raw.abs().max()):.0f}")
print(f"unclipped vs clipped: {float(psnr(unclipped, by_steps[10]).mean()):.1f} dB, same label {same:.0f} %")
glue("unclip_max", round(float(raw.abs().max())), display=False)
glue("unclip_psnr", round(float(psnr(unclipped, by_steps[10]).mean()), 1), display=False)
glue("unclip_same", round(same), display=False)
viz.comparison({"10 DDIM steps, clipped": by_steps[10][:10], "without clipping": unclipped[:10]}, scale=2)

# %% [markdown]
# Without clipping the samples end with values as large as {glue:text}`unclip_max` in absolute value,
# where a real image stays within $[-1, 1]$; shown as pixels they are
# {glue:text}`unclip_psnr:.1f` dB from the clipped samples of the same seeds, and the
# classifier gives {glue:text}`unclip_same` % of them the same label. The trouble starts at the
# first step: DDIM carries $\sqrt{\bar\alpha_s}\,\hat x_0$ into $x_s$, and an unclipped $\hat x_0$ at
# $t = T$ is the network's error amplified $1/\sqrt{\bar\alpha_T}$-fold. Clipping is a fix on
# top of the mathematics, not part of it: it throws away what the network says outside the
# range of images, and it is what lets a sampler start at a step where $\bar\alpha_T$ is this
# small.
#
# ## Digits on demand: class labels and guidance
#
# The shipped model was trained with class labels, and with the label randomly replaced by a
# "null" class {glue:text}`null_share` (the {doc}`appendix_engineering` page says why), so one
# network gives both $\epsilon_\theta(x_t, t, y)$ and the unconditional
# $\epsilon_\theta(x_t, t, \varnothing)$.
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
# ($g = 1$) and guided ($g = 3$). The figure shows the first ten of each; the table below it
# checks with the classifier that each digit is the one asked for, and the spread within a
# class (mean pixel RMSE between two samples asked for the same digit) measures how varied
# they are.

# %%
wanted = torch.arange(10).repeat(3)  # 0..9, three times
settings = {"unconditional": {}, "label, g = 1": {"label": wanted}, "label, g = 3": {"label": wanted, "guidance": 3.0}}
generated = {}
for name, kw in settings.items():
    x0 = tinyddpm.sample(model, schedule, len(wanted), method="ddim", steps=10, generator=tinyddpm.seeded(3), **kw)
    generated[name] = tinyddpm.to_pixels(x0).clamp(0, 1)
viz.comparison({name: images[:10] for name, images in generated.items()})

# %% tags=["hide-input"]
_, _, info = load_model(pretrained_path("ddpm"))
share = round(100 * info["train_config"]["p_uncond"])
if "init_run" in info:  # a fine-tune: the run it continued had its own share
    first = info["init_run"]
    share0 = round(100 * first["train_config"]["p_uncond"])
    glue("null_share", f"{share0} % of the time (in its last {info['steps']:,} steps {share} %)", display=False)
    null_history = (f"saw the null label on only {share0} % of its training batches for its first "
                    f"{first['steps']:,} steps (and {share} % in its last {info['steps']:,})")
else:
    glue("null_share", f"{share} % of the time", display=False)
    null_history = f"saw the null label on {share} % of the images in all its {info['steps']:,} training steps"
glue("null_history", null_history, display=False)
body, confident, hits = [], {}, {}
with torch.no_grad():
    for key, (name, images) in zip(("uncond", "g1", "g3"), generated.items()):
        probs = classifier(images).softmax(1)
        per_class = images.reshape(3, 10, 28 * 28).transpose(0, 1)  # (class, sample, pixels)
        spread = float(torch.cdist(per_class, per_class).sum() / 28 / (10 * 3 * 2))  # mean pairwise RMSE within a class
        hit = 100 * float((probs.argmax(1) == wanted).float().mean())
        p_wanted = float(probs[torch.arange(len(wanted)), wanted].mean())
        hits[key] = round(hit, 1)
        confident[key] = int((probs[:10].max(1).values > 0.99).sum())  # of the ten shown
        body.append([name, f"{hit:.1f} %", f"{p_wanted:.2f}", f"{spread:.2f}", f"{confident[key]} of 10"])
        glue(f"{key}_hit", round(hit, 1), display=False)
        glue(f"{key}_p", round(p_wanted, 2), display=False)
        glue(f"{key}_confident", confident[key], display=False)
verb = "raises that to" if hits["g3"] > hits["g1"] else "keeps that at" if hits["g3"] == hits["g1"] else "lowers that to"
glue("g3_verb", verb, display=False)
u, g1 = confident["uncond"], confident["g1"]
verdict = ("most of the unconditional samples are doubtful, and the figure shows several malformed ones" if u <= 5 else
           "the unconditional samples are weaker than those with a label" if u < g1 else
           "the unconditional samples are as good as those with a label")
glue("uncond_verdict", verdict, display=False)
HTMLTable(["samples", "read as the wanted digit", "probability of the wanted digit", "spread within a class",
           "confidence > 0.99, first ten"], body)

# %% [markdown]
# Unconditional samples land on the wanted class only by chance ({glue:text}`uncond_hit:.1f` %;
# one in ten would be expected). With the label alone ($g = 1$), {glue:text}`g1_hit:.1f` % of
# the samples are read as the digit asked for; guidance {glue:text}`g3_verb`
# {glue:text}`g3_hit:.1f` %, and the classifier's mean probability of the wanted digit goes from
# {glue:text}`g1_p:.2f` to {glue:text}`g3_p:.2f`.
#
# Look hard at the unconditional row of the figure. A good sample is a digit a person could
# have written: loops that close where the digit has a loop, strokes that join, no stray blobs,
# no shape halfway between two digits. The classifier is sure (confidence above 0.99) of
# {glue:text}`uncond_confident` of the ten unconditional samples shown, against
# {glue:text}`g1_confident` of the same seeds with a label ($g = 1$) and
# {glue:text}`g3_confident` with $g = 3$: by that count {glue:text}`uncond_verdict`. The
# unconditional samples come from the network's null-label path, which
# {glue:text}`null_history`. It is also the prior that label-free denoising (chapter 5) uses,
# and the row to check first whenever the shipped model is retrained.
#
# ## Two roads to $p(x)$
#
# Ten samples per row are a glimpse. To measure a sampler, generate many digits and compare their
# distribution with real ones: the Fréchet distance (FID, {cite}`heusel2017fid`) between Gaussians
# fitted to the classifier's features of {glue:text}`fid_n_gen:,d` generated digits and of the
# {glue:text}`fid_n_ref:,d` test digits. Even {glue:text}`fid_n_floor:,d` *real* training digits
# are not at distance zero (finite samples), so that distance is the floor to read the others
# against.
#
# A class-conditional model offers a second road to the unconditional distribution. By the sum
# rule
#
# $$ p(x) = \sum_y p(y)\, p(x \mid y), $$
#
# so drawing a label $y$ from the class frequencies and then a digit from $p(x \mid y)$ (label,
# $g = 1$) is a sample of $p(x)$, exactly as a draw from the null-label path is, if the
# conditional model is good. The benchmark asks image $i$ for class $i \bmod 10$, a uniform
# $p(y)$; the classifier reads the floor's {glue:text}`fid_n_floor:,d` random training digits as {glue:text}`floor_class_min` to
# {glue:text}`floor_class_max` per class, so MNIST's own $p(y)$ is close to uniform.

# %% tags=["hide-input"]
fid_runs = read_json("bench_fid.json")["runs"]
roads = {
    "1,000 training digits (the floor)": "training digits (floor), n=1000",
    "null label, DDIM 50 steps": "DDIM 50 steps, n=1000",
    "label drawn, then the digit (g = 1), DDIM 50 steps": "DDIM 50 steps, class label, guidance 1, n=1000",
}
fid_floor = fid_runs[roads["1,000 training digits (the floor)"]]["fid"]
glue("fid_n_floor", fid_runs[roads["1,000 training digits (the floor)"]]["images"], display=False)
glue("fid_n_gen", fid_runs[roads["null label, DDIM 50 steps"]]["images"], display=False)
glue("fid_n_ref", int(read_json("bench_fid.json")["reference"].split()[0]), display=False)  # "10000 MNIST test digits"
glue("floor_class_min", min(fid_runs[roads["1,000 training digits (the floor)"]]["class_counts"]), display=False)
glue("floor_class_max", max(fid_runs[roads["1,000 training digits (the floor)"]]["class_counts"]), display=False)
body = []
for name, key in roads.items():
    run = fid_runs[key]
    counts = run["class_counts"]
    body.append([name, f"{run['fid']:.1f}", f"{run['fid'] / fid_floor:.1f}x", f"{min(counts)} to {max(counts)}"])
glue("fid_floor", round(fid_floor, 1), display=False)
fid_uncond = fid_runs[roads["null label, DDIM 50 steps"]]["fid"]
fid_label = fid_runs[roads["label drawn, then the digit (g = 1), DDIM 50 steps"]]["fid"]
glue("fid_uncond", round(fid_uncond, 1), display=False)
glue("fid_label", round(fid_label, 1), display=False)
glue("fid_uncond_x", round(fid_uncond / fid_floor, 1), display=False)
glue("fid_label_x", round(fid_label / fid_floor, 1), display=False)
closer = ("the label road is closer to the test digits" if fid_label < 0.9 * fid_uncond else
          "the null-label road is closer to the test digits" if fid_uncond < 0.9 * fid_label else
          "the two roads are about equally close to the test digits")
glue("roads_verdict", closer, display=False)
HTMLTable(["samples", "FID to the test digits", "over the floor", "digits per class (classifier's reading)"], body,
          caption="1,000 digits each, seed 0; python benchmarks/run.py --only fid (bench_fid.json)")

# %% [markdown]
# The null-label road reaches FID {glue:text}`fid_uncond:.1f` ({glue:text}`fid_uncond_x:.1f`
# times the floor of {glue:text}`fid_floor:.1f`), the label road {glue:text}`fid_label:.1f`
# ({glue:text}`fid_label_x:.1f` times): {glue:text}`roads_verdict`. The sum rule holds for the
# true distributions; for a trained network each road is only as good as the part of the
# network it uses, and the null-label path is the part trained on the share of the images that
# saw the null label. The class counts tell the same story from another side: a sampler of
# $p(x)$ should give each class about a tenth of its digits, as the floor row does. Here are all
# thirty guided digits of the figure above, one class per column:

# %%
viz.grid(generated["label, g = 3"], nrow=10, scale=3)

# %% [markdown]
# Guidance trades diversity for fidelity {cite}`ho2022cfg`: the larger $g$, the more the samples
# of one class are pulled towards its most typical shapes. The spread column of the table above
# measures that (the mean pixel distance between two samples of the same class); with only
# three samples per class it is a rough gauge, but it is the quantity to watch when you raise
# $g$. Chapter 7 puts the same mechanism to work for denoising, where the question is not
# "draw me a three" but "keep this three a three".

# %% [markdown]
# ## What to take away
#
# - An ancestral step samples the Gaussian posterior $q(x_s \mid x_t, \hat x_0)$; its fresh
#   noise is not a nuisance but the part of $x_s$ the mean cannot supply
#   ({glue:text}`first_fraction:.1f` % of it at the first step, a median
#   {glue:text}`later_fraction_median:.1f` % later on).
# - Without it the chain leaves the distribution the network was trained on and collapses onto
#   one blob, the network's saturated answer for "no information": a spread between seeds of
#   {glue:text}`blob_spread:.2f`, against {glue:text}`anc_spread:.2f` with fresh noise.
# - DDIM is one equation with a knob $\eta$: $\eta = 1$ is the ancestral step, $\eta = 0$ a
#   deterministic step that is exactly an Euler step of the probability-flow ODE in Karras et
#   al.'s variables. Being a fixed map from seed to image, it needs only tens of steps
#   ({glue:text}`agree_20` % of 20-step digits agree with 50-step ones).
# - Every step of the package's samplers clips $\hat x_0$ to $[-1, 1]$
#   ({glue:text}`clip_T:.1f` % of the pixels at $t = T$); without it, ten DDIM steps end
#   {glue:text}`unclip_psnr:.1f` dB away from the clipped samples.
# - One class-conditional network, with guidance, generates a chosen digit
#   ({glue:text}`g3_hit:.1f` % read as the wanted class at $g = 3$); its unconditional
#   null-label path is the part to check with your own eyes.
# - $p(x) = \sum_y p(y)\,p(x \mid y)$: a label drawn from the class frequencies and then a digit
#   is a sample of $p(x)$ as much as a null-label sample is. Measured by FID over the floor of
#   real digits, the null-label road is at {glue:text}`fid_uncond_x:.1f`x and the label road at
#   {glue:text}`fid_label_x:.1f`x.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) Show that $\tilde\beta_{t\to s} \le 1 - \bar\alpha_s$ for
# every $s < t$, so that DDIM's square root $\sqrt{1-\bar\alpha_s-\eta^2\tilde\beta_{t\to s}}$
# is real for every $\eta \in [0, 1]$. When is the share $\tilde\beta_{t\to s}/(1-\bar\alpha_s)$
# close to $1$, and what does that say about the first step of the chain?
#
# ```{admonition} Solution
# :class: dropdown
# $$ \frac{\tilde\beta_{t\to s}}{1-\bar\alpha_s} = \frac{1 - \bar\alpha_t/\bar\alpha_s}{1-\bar\alpha_t} . $$
# Since $\bar\alpha_s \le 1$, $\bar\alpha_t/\bar\alpha_s \ge \bar\alpha_t$, so the numerator is
# at most the denominator and the share is at most $1$: $\tilde\beta_{t\to s} \le 1-\bar\alpha_s$,
# and $1-\bar\alpha_s-\eta^2\tilde\beta_{t\to s} \ge (1-\eta^2)(1-\bar\alpha_s) \ge 0$.
# The share is close to $1$ when $\bar\alpha_t$ is tiny, both by itself and compared with
# $\bar\alpha_s$: then the numerator and the denominator are both close to $1$. That is the
# first step, from $t = T$, where $\bar\alpha_T$ is almost $0$: the posterior mean keeps almost
# none of $x_T$'s noise, so nearly all the noise $x_s$ needs must be fresh, and the noise-free
# chain starts from a nearly blank image. Further down, $\bar\alpha_t/\bar\alpha_s$ is close to
# $1$ for a short step, and the share is small.
# ```
#
# **Exercise 2.** (pen and paper) A digit $x$ in pixel units carries noise of standard deviation
# $\sigma$: $y = x + \sigma n$. Map it to model units and multiply it by $\sqrt{\bar\alpha_t}$ so
# that it has the form of a state $x_t$ of the chain. Which $\bar\alpha_t$ makes that work, and
# what is Karras et al.'s noise level $\sigma_{\mathrm K}$ there? Evaluate both for $\sigma = 0.3$.
#
# ```{admonition} Solution
# :class: dropdown
# In model units $2y - 1 = x_0 + 2\sigma n$, so $\sqrt{\bar\alpha_t}\,(2y - 1) = \sqrt{\bar\alpha_t}\,x_0
# + 2\sigma\sqrt{\bar\alpha_t}\,n$. This is a state $x_t$ when the noise has variance
# $1 - \bar\alpha_t$: $4\sigma^2\bar\alpha_t = 1 - \bar\alpha_t$, that is
# $\bar\alpha_t = 1/(1 + 4\sigma^2)$ (chapter 5's $t^*$). Then
# $\sigma_{\mathrm K} = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t} = \sqrt{4\sigma^2} = 2\sigma$: Karras
# et al.'s noise level is the pixel noise doubled, because the model's images span $[-1, 1]$.
# For $\sigma = 0.3$: $\bar\alpha_t = 1/1.36 \approx 0.735$ and $\sigma_{\mathrm K} = 0.6$.
# ```
#
# **Exercise 3.** (code) The step-count comparison relied on $\eta = 0$ being a fixed map from
# $x_T$ to a digit. Sample the same twenty seeds with 10 DDIM steps at $\eta = 0.5$ and
# $\eta = 1$, and measure, as in the table of that section, the PSNR to the 50-step
# $\eta = 0$ digits and the share with the same label. What does fresh noise do to the map?

# %% tags=["hide-input", "solution"]
far = {}
for eta in (0.0, 0.5, 1.0):
    x0 = samplers.sample_loop(samplers.ddim_step, model, x_T, ts_10, schedule, eta=eta, generator=tinyddpm.seeded(8))
    images = tinyddpm.to_pixels(x0).clamp(0, 1)
    same = 100 * float((predict_labels(classifier, images) == ref_labels).float().mean())
    far[eta] = float(psnr(images, reference).mean())
    print(f"eta = {eta:.1f}: {far[eta]:4.1f} dB from the 50-step digits, same label {same:3.0f} %")
if far[0.0] > far[0.5] > far[1.0]:
    print("More fresh noise moves the samples further from the deterministic")
    print("map's digits: with eta > 0 the seed x_T no longer decides the digit")
    print("alone; the fresh noise drawn on the way decides too.")
else:
    print("Here the distance does not grow steadily with eta:")
    print("compare the labels as well as the dB.")

# %% [markdown]
# **Exercise 4.** (pen and paper) A conditional model has learned each $p(x \mid y)$ exactly, but
# you draw the labels from a wrong distribution $r(y)$ instead of the data's $p(y)$. Which
# distribution do your digits follow, and how far is it from $p(x)$ in total variation? What
# does drawing class $i \bmod 10$ (a uniform $r$) cost when every class's true share lies within
# one percentage point of an even share (one in ten), as MNIST's nearly do?
#
# ```{admonition} Solution
# :class: dropdown
# The digits follow the mixture $\tilde p(x) = \sum_y r(y)\, p(x \mid y)$. If the classes do not
# overlap (each digit has one label), $\tilde p$ and $p$ put the same shapes within a class and
# differ only in the class weights, so
# $\mathrm{TV}(\tilde p, p) = \tfrac12 \sum_y |r(y) - p(y)|$: the error of the label
# distribution and nothing more. If classes overlap it can only be smaller (the mixture
# components share mass: a Markov kernel never increases total variation). With every
# $|r(y) - p(y)|$ at most one percentage point, the total variation is at most
# $\tfrac12 \cdot 10 \cdot 0.01 = 0.05$. The "label, then digit" road therefore samples $p(x)$ up to that small
# reweighting; what decides its FID is how good each $p(x \mid y)$ is.
# ```

# %% [markdown]
# Next: a noisy photograph is already a point on the chain, so denoising is sampling that
# starts in the middle.
