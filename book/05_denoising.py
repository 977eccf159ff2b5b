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
# Colab setup: installs tinyddpm (this release, with the book's extras) when this notebook runs
# in Colab; does nothing elsewhere.
import subprocess
import sys

if "google.colab" in sys.modules:
    SPEC = "tinyddpm[book] @ git+https://github.com/tinyddpm/tinyddpm@v0.1.0"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", SPEC], check=True)

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
# ## A start step picked by hand, and the matched one
#
# The project tinyddpm grew out of trained its DDPM on the linear $T = 300$ schedule and only
# ever denoised images it had made itself with the forward process: already scaled by
# $\sqrt{\bar\alpha_t}$, and started at the step that had made them (rounded down to a multiple
# of ten), typed in by hand. A real noisy image comes with neither. Used on one, that procedure
# needs a start step chosen once by hand and gets the image as it is, unscaled.
# `tinyddpm.baselines.original_procedure` does exactly that, with step 100, using tinyddpm's
# network; because the network was trained on continuous $t$, it can be asked at any noise
# level, and a small adapter translates each step of the linear grid into the model's own step
# with the same $\bar\alpha$:
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
few = torch.stack([torch.nonzero(labels == c)[0, 0] for c in (2, 5, 6, 8)])
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
