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

# %% tags=["colab-setup"]
# Colab setup: installs tinyddpm when this notebook runs in Colab; does nothing elsewhere.
import sys

if "google.colab" in sys.modules:
    !pip install -q "tinyddpm @ git+https://github.com/tinyddpm/tinyddpm"

# %% [markdown]
# # How noisy is it?
#
# Everything in chapter 5 started from the noise level: $\sigma$ picks the step $t^*$ with
# $\bar\alpha_{t^*} = 1/(1+4\sigma^2)$, and the reverse chain starts there. A scanned form or a
# photographed digit does not come with its $\sigma$ written on it. This chapter estimates
# $\sigma$ from the noisy image alone, in two ways:
#
# - a **classical** estimator that needs no training: filter away the image, measure what is left;
# - a **learned** estimator: a small CNN trained to read $\log\sigma$ off a noisy digit.
#
# Then it looks at a detail that decides whether either of them works on real files: images are
# stored in $[0, 1]$, so their noise has been **clipped**. Finally it puts an estimator in front of
# the denoiser and measures what fully blind denoising, `denoise(y, sigma="auto")`, costs
# compared with knowing $\sigma$.

# %%
import inspect

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

import tinyddpm
from tinyddpm import noise_level, viz
from tinyddpm.evaluate import noisy_set
from tinyddpm.metrics import psnr
from tinyddpm.noise_level import estimate_sigma_learned, estimate_sigma_mad

x, labels = tinyddpm.load_sample()  # 1,000 test digits in [0, 1], 100 per class
model, schedule = tinyddpm.pretrained("ddpm")
sigma_net, _ = tinyddpm.pretrained("sigma_net")

# %% [markdown]
# ## A classical estimator: filter the image away
#
# Two facts make $\sigma$ measurable from one image. The noise is *white*: each pixel gets its
# own independent $\mathcal N(0, \sigma^2)$. The image is *smooth* almost everywhere: most 3x3
# neighbourhoods of a digit are flat background or a nearly linear ramp. So apply a filter that
# maps every locally linear patch to zero; what survives is (almost) only noise.
#
# Immerkaer's filter {cite}`immerkaer1996noise` is the outer product of the second difference
# $[1, -2, 1]$ with itself, a small separable high-pass in the spirit of the finest wavelet
# band:
#
# $$ M = \begin{bmatrix} 1 \\ -2 \\ 1 \end{bmatrix} \begin{bmatrix} 1 & -2 & 1 \end{bmatrix}
#      = \begin{bmatrix} 1 & -2 & 1 \\ -2 & 4 & -2 \\ 1 & -2 & 1 \end{bmatrix}. $$
#
# Along each row and each column it takes a second difference, which is zero on anything linear.
# On white noise its response $r = M * y$ is a sum of nine independent Gaussians weighted by the
# entries of $M$, so $r \sim \mathcal N(0, \sigma^2 \sum_{ij} M_{ij}^2) = \mathcal N(0, 36\,\sigma^2)$:
# the filter multiplies the noise's standard deviation by exactly 6.
#
# Immerkaer turns the *mean* absolute response into an estimate,
# $\hat\sigma = \sqrt{\pi/2}\,\overline{|r|}/6$ (since $\mathbb E|r| = 6\sigma\sqrt{2/\pi}$).
# tinyddpm uses the *median* instead, because $\operatorname{median}|\mathcal N(0, s^2)| = 0.6745\,s$
# and a median ignores the minority of pixels where the digit itself answers the filter:

# %%
print(inspect.getsource(estimate_sigma_mad))

# %% [markdown]
# Build it step by step: the mask, its norm, its response to a clean digit and to the same digit
# with noise, and the estimate by hand, checked against the package.

# %%
d = torch.tensor([1.0, -2.0, 1.0])
M = torch.outer(d, d)
print(M)
print(f"sum of squares of M: {float((M**2).sum()):.0f}  ->  the filter multiplies the noise std by {float(M.norm()):.0f}")

ramp = torch.linspace(0, 1, 28)[None, :] * 0.6 + torch.linspace(0, 1, 28)[:, None] * 0.3  # a linear ramp
print(f"response to a linear ramp is zero (to 1e-5): {float(F.conv2d(ramp[None, None], M[None, None]).abs().max()) < 1e-5}")

sigma = 0.1
y = noisy_set(x, sigma)
r_clean = F.conv2d(x, M[None, None])  # (1000, 1, 26, 26): responses to the clean digits
r_noisy = F.conv2d(y, M[None, None])
by_hand = r_noisy.abs().flatten(1).median(dim=1).values / (6 * noise_level.MAD_TO_SIGMA)
print(f"by hand == package: {torch.allclose(by_hand, estimate_sigma_mad(y))}")
print(f"median estimate over 1,000 digits at sigma = {sigma}: {float(by_hand.median()):.3f}")

fig, axes = plt.subplots(1, 4, figsize=(9, 2.6))
for ax, img, title in zip(axes, [x[0, 0], r_clean[0, 0].abs(), y[0, 0], r_noisy[0, 0].abs()],
                          ["clean digit", "|M * clean|", f"noisy, sigma = {sigma}", "|M * noisy|"]):
    ax.imshow(img, cmap="gray"), ax.set_title(title, fontsize=9), ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the clean digit the flat background gives exactly zero, but the strokes do not: an MNIST
# stroke is only two or three pixels wide, so almost every stroke pixel sits on a curved edge
# that is far from linear. How many of the 26x26 responses is that? As long as fewer than half
# come from the digit, the median still lands in the noise, while the mean is pulled up by every
# stroke. The cell below counts them, and compares the mean-based and median-based estimates on
# the same noisy images.

# %%
busy = (r_clean.abs() > 1e-3).float().flatten(1).mean(1)
print(f"pixels where a clean digit answers the filter: {100 * float(busy.mean()):.1f}% on average "
      f"(at most {100 * float(busy.max()):.1f}%)")
for s in (0.05, 0.1, 0.3):
    r = F.conv2d(noisy_set(x, s), M[None, None]).abs().flatten(1)
    mean_based = (torch.pi / 2) ** 0.5 * r.mean(1) / 6  # Immerkaer's estimate
    median_based = r.median(1).values / (6 * noise_level.MAD_TO_SIGMA)
    print(f"sigma {s:.2f}: median over digits of sigma_hat / sigma -- mean-based {float((mean_based / s).median()):.3f}, "
          f"median-based {float((median_based / s).median()):.3f}")

# %% [markdown]
# About a third of the responses belong to the digit on average, and more than half for the
# boldest digits, where even the median is pulled up. Both estimators overestimate at small
# $\sigma$, where the digit's own response is as large as the noise's; the median suffers much
# less. At large $\sigma$ the noise dominates everywhere and both settle near the truth.
#
# ## A learned estimator
#
# The classical estimator knows only one thing about digits: that they are locally smooth. A
# network can learn much more (strokes have a typical width, the background is exactly zero,
# digits sit in the middle), and so tell "stroke" from "noise" better. `SigmaNet` is a four-layer
# CNN whose features are pooled over the whole image (mean and max) and mapped to one number,
# $\log\hat\sigma$:

# %%
print(inspect.getsource(noise_level.SigmaNet.forward))
print(f"parameters: {sum(p.numel() for p in sigma_net.parameters()):,}; trained on sigma in {sigma_net.config.sigma_range}")

# %% [markdown]
# It was trained on the 60,000 training digits plus Gaussian noise with $\sigma$ drawn
# log-uniformly from that range, **not clipped**, with the loss $(\log\hat\sigma - \log\sigma)^2$.
# Regressing the logarithm makes a 5% error cost the same at $\sigma = 0.02$ as at $\sigma = 1$,
# which is the error that matters here: chapter 5's $t^*$ depends on $\sigma$ through
# $1 + 4\sigma^2$, and a relative error in $\sigma$ is a roughly fixed shift in $\log$ SNR.
# `estimate_sigma_learned` runs it; `estimate_sigma` (the estimator behind `sigma="auto"`) uses
# it whenever the shipped weights are present.
#
# ## Errors across sigma
#
# For each noise level, take the fixed noisy version of the 1,000 digits and compute the relative
# error $|\hat\sigma/\sigma - 1|$ of each image's estimate; report its median and 90th percentile
# (one image in ten is worse than that).

# %%
sigmas = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]
estimators = {"MAD (classical)": estimate_sigma_mad, "learned": lambda im: estimate_sigma_learned(im, sigma_net)}


def summarize(est: torch.Tensor, s: float) -> dict[str, float]:
    rel = (est / s - 1).abs()
    return {"median": float(rel.median()), "p90": float(rel.quantile(0.9)), "ratio": float((est / s).median())}


results = {}  # (estimator, clipped?) -> list of summaries over sigmas
for s in sigmas:
    y = noisy_set(x, s)
    for clipped in (False, True):
        inp = y.clamp(0, 1) if clipped else y
        for name, fn in estimators.items():
            results.setdefault((name, clipped), []).append(summarize(fn(inp), s))

print("relative error |sigma_hat / sigma - 1| on unclipped noisy digits")
print(f"{'sigma':>6} | {'MAD median':>10} {'MAD p90':>8} | {'learned median':>14} {'learned p90':>11}")
for i, s in enumerate(sigmas):
    a, b = results[("MAD (classical)", False)][i], results[("learned", False)][i]
    print(f"{s:6.2f} | {a['median']:10.3f} {a['p90']:8.3f} | {b['median']:14.3f} {b['p90']:11.3f}")

# %%
fig, ax = plt.subplots(figsize=(6, 3.6))
for (name, color) in [("MAD (classical)", "C0"), ("learned", "C1")]:
    rows = results[(name, False)]
    ax.plot(sigmas, [r["median"] for r in rows], "o-", color=color, label=f"{name}, median")
    ax.plot(sigmas, [r["p90"] for r in rows], "s--", color=color, label=f"{name}, 90th percentile")
ax.set_xscale("log"), ax.set_yscale("log")
ax.set_xlabel("true sigma (pixel units)"), ax.set_ylabel("relative error of sigma_hat")
ax.legend(fontsize=8), ax.grid(alpha=0.3, which="both")
fig.tight_layout()
plt.show()

# %% [markdown]
# The learned estimator's error is nearly flat across a fifty-fold range of $\sigma$, as a
# log-regression should be, and it is below the classical one everywhere. The classical
# estimator is competitive once the noise is strong ($\sigma \gtrsim 0.2$), but at small
# $\sigma$ it mistakes stroke edges for noise and overestimates: the digit's structure is the
# same size as the noise, and "locally linear" is too weak a model of a digit to separate them.
# The learned estimator's advantage is exactly the prior it has and Immerkaer's filter lacks.
#
# ## What clipping does
#
# Every evaluation in this book adds noise and leaves the result as it is, values below 0 and
# above 1 included. A real image file cannot hold those: an 8-bit PNG or a camera clips to
# $[0, 1]$. Look at what that does on MNIST, whose background (most of the image) is exactly 0.
# There the noisy pixel is $\sigma n$, and clipping keeps $\max(0, \sigma n)$: half the pixels
# become exactly 0, the other half keep their value. For $n \sim \mathcal N(0, 1)$,
#
# $$ \mathbb E[\max(0, \sigma n)] = \frac{\sigma}{\sqrt{2\pi}} \approx 0.40\,\sigma, \qquad
#    \operatorname{std}[\max(0, \sigma n)] = \sigma\sqrt{\tfrac12 - \tfrac{1}{2\pi}} \approx 0.58\,\sigma. $$
#
# The background gets brighter (a grey haze) and its noise *smaller*. Checked on the
# background pixels of the bundled digits:

# %%
s = 0.3
y = noisy_set(x, s)
background = x == 0
clipped_bg = y.clamp(0, 1)[background]
print(f"background pixels: {100 * float(background.float().mean()):.1f}% of all pixels")
print(f"clipped background: mean / sigma = {float(clipped_bg.mean()) / s:.3f} (theory {1 / (2 * torch.pi) ** 0.5:.3f}), "
      f"std / sigma = {float(clipped_bg.std()) / s:.3f} (theory {(0.5 - 1 / (2 * torch.pi)) ** 0.5:.3f})")

# %% [markdown]
# Any estimator that measures the *spread* of the noise will therefore read a $\sigma$ too low.
# The same estimators, now on clipped inputs; the ratio column is the median of
# $\hat\sigma/\sigma$ (1 is unbiased):

# %%
print("median relative error (err) and median sigma_hat / sigma (ratio), without and with clipping")
print(f"{'':6} | {'MAD (classical)':^31} | {'learned':^31}")
print(f"{'':6} | " + " | ".join([f"{'not clipped':^15} {'clipped':^15}"] * 2))
print(f"{'sigma':>6} | " + " | ".join([f"{'err':>7} {'ratio':>7} {'err':>7} {'ratio':>7}"] * 2))
for i, s in enumerate(sigmas):
    cells = []
    for name in estimators:
        u, c = results[(name, False)][i], results[(name, True)][i]
        cells.append(f"{u['median']:7.3f} {u['ratio']:7.3f} {c['median']:7.3f} {c['ratio']:7.3f}")
    print(f"{s:6.2f} | " + " | ".join(cells))

fig, ax = plt.subplots(figsize=(6, 3.4))
for (name, color) in [("MAD (classical)", "C0"), ("learned", "C1")]:
    for clipped, style in [(False, "o-"), (True, "x:")]:
        rows = results[(name, clipped)]
        ax.plot(sigmas, [r["ratio"] for r in rows], style, color=color, label=f"{name}, {'clipped' if clipped else 'not clipped'}")
ax.axhline(1, color="k", lw=0.8)
ax.set_xscale("log"), ax.set_ylim(0, 1.6)
ax.set_xlabel("true sigma (pixel units)"), ax.set_ylabel("median sigma_hat / sigma")
ax.legend(fontsize=8), ax.grid(alpha=0.3, which="both")
fig.tight_layout()
plt.show()

# %% [markdown]
# Both estimators now read too low, and the learned one, the better estimator on unclipped
# noise, is the worse one here. The classical filter sees the smaller noise of the background,
# close to the $0.58\,\sigma$ above, at $\sigma = 0.3$. At small $\sigma$ the strokes' own
# response, which made it overestimate before, partly offsets the loss; at large $\sigma$ the
# stroke pixels are clipped at 1 as well and the ratio keeps falling. The network has never seen a clipped noisy
# image: half-rectified noise on a grey haze is off its training distribution, the same trap
# the VAE of chapter 1 fell into with noisy inputs, and its output there means nothing.
#
# Clipping also breaks the step that comes *after* estimation, even with the true $\sigma$. The
# match $\sqrt{\bar\alpha_{t^*}}\,y \sim q(x_{t^*} \mid x_0)$ holds because $y - x_0$ is zero-mean
# Gaussian noise of standard deviation $\sigma$. After clipping it is neither: the background
# noise has mean $0.40\,\sigma$ and standard deviation $0.58\,\sigma$. There is no $t$ at which
# the forward chain produces such an image, so no start step is right.
#
# Measured on the first 300 bundled digits (the rest of the chapter denoises the same 300, and
# reuses the true-sigma results computed here as its reference):

# %%
sub = x[:300]
known = {}  # sigma -> the 300 digits denoised with the true sigma from unclipped input
for s in (0.3, 0.5):
    y = noisy_set(sub, s)
    yc = y.clamp(0, 1)
    known[s] = tinyddpm.denoise(y, s, model=model, schedule=schedule)
    rows = {
        "unclipped, true sigma": known[s],
        "clipped, true sigma": tinyddpm.denoise(yc, s, model=model, schedule=schedule),
        "clipped, sigma='auto'": tinyddpm.denoise(yc, "auto", model=model, schedule=schedule),
    }
    print(f"sigma {s}: noisy input {float(psnr(y, sub).mean()):.2f} dB, clipped noisy input {float(psnr(yc, sub).mean()):.2f} dB")
    for k, v in rows.items():
        print(f"    {k:22s} {float(psnr(v, sub).mean()):.2f} dB")
    print(f"    (median sigma_hat of the clipped inputs: {float(tinyddpm.estimate_sigma(yc).median()):.3f})")
pick = [int(torch.nonzero(labels[:300] == c)[0, 0]) for c in range(10)]
viz.comparison({"clean": sub[pick], "noisy, clipped": yc[pick], **{k: v[pick] for k, v in rows.items()}})

# %% [markdown]
# Notice first that clipping *raises* the PSNR of the noisy input: cutting off the negative
# half of the background noise removes error. Yet the denoiser does worse on it. The figure
# shows $\sigma = 0.5$. With the true $\sigma$ the clipped inputs lose between half a dB and a
# dB: the model, started at the right $t^*$ but on an image the chain never produces,
# mostly removes the haze anyway. With the estimated $\sigma$ they lose about ten dB: the
# estimate is a fraction of the truth, the chain starts far too early, and the denoiser trusts
# the input and leaves its noise in (bottom row). The book's rule follows: **estimate $\sigma$
# and denoise before an image is clipped or quantized**, and clip only the result. If all you
# have is a clipped file, the honest fix is to train the estimator, and ideally the denoiser, on
# clipped noise; the shipped models were not.
#
# ## How much does a wrong sigma cost?
#
# Back to unclipped noise. Before putting the estimator in front of the denoiser, measure how
# sensitive the denoiser is to the $\sigma$ it is told: the 300 digits at $\sigma = 0.3$,
# denoised as if the noise were $\sigma$ times a factor between 0.5 and 2.

# %%
s = 0.3
y = noisy_set(sub, s)
factors = [0.5, 0.7, 0.85, 1.0, 1.15, 1.4, 2.0]
told = {f: known[s] if f == 1.0 else tinyddpm.denoise(y, f * s, model=model, schedule=schedule) for f in factors}
gains = [float(psnr(told[f], sub).mean()) for f in factors]
for f, g in zip(factors, gains):
    print(f"told sigma = {f:4.2f} x true: {g:.2f} dB")
plt.figure(figsize=(5, 3))
plt.plot(factors, gains, "o-")
plt.xscale("log"), plt.xticks(factors, [str(f) for f in factors]), plt.minorticks_off()
plt.xlabel("assumed sigma / true sigma"), plt.ylabel("PSNR (dB), 300 digits"), plt.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %% [markdown]
# The curve is flat at the top: a few percent of error in $\sigma$, which is what the learned
# estimator makes on unclipped inputs, costs almost nothing. It is also lopsided:
# underestimating costs more than overestimating by the same factor. Told too little noise,
# the model starts at a too-early $t^*$, trusts the input too much and leaves noise in; told too
# much, it smooths a little more than needed, and the prior of clean digits keeps that cheap.
# Far from the top both cost whole dB, which is what happened to the clipped inputs above.
#
# ## Blind denoising, end to end
#
# `denoise(y, sigma="auto")` estimates one $\sigma$ per image with `estimate_sigma` (the learned
# estimator), maps each to its own $t^*$, and continues exactly as in chapter 5. Compared with
# the same denoiser given the true $\sigma$, on the same 300 digits:

# %%
print(f"{'sigma':>6} {'true sigma':>11} {'auto':>8} {'gap':>8}   median |sigma_hat / sigma - 1|")
for s in (0.1, 0.2, 0.3, 0.5):
    y = noisy_set(sub, s)
    if s not in known:
        known[s] = tinyddpm.denoise(y, s, model=model, schedule=schedule)
    blind = tinyddpm.denoise(y, "auto", model=model, schedule=schedule)
    p_known, p_blind = float(psnr(known[s], sub).mean()), float(psnr(blind, sub).mean())
    err = float((tinyddpm.estimate_sigma(y) / s - 1).abs().median())
    print(f"{s:6.2f} {p_known:8.2f} dB {p_blind:5.2f} dB {p_blind - p_known:+5.2f} dB   {err:.3f}")

# %% [markdown]
# The gap column is a few hundredths of a dB at every noise level: on unclipped noise, blind
# denoising is as good as knowing $\sigma$, for the reason the previous section showed. Averages
# can hide the bad cases, so look at the worst ones: the cell below finds, among all 1,000 digits
# at $\sigma = 0.3$, the eight whose estimates are furthest from the truth, and denoises them
# both ways.

# %%
s = 0.3
y = noisy_set(x, s)
est = tinyddpm.estimate_sigma(y)
worst = (est / s - 1).abs().argsort(descending=True)[:8]
print("sigma_hat of the 8 worst estimates: " + ", ".join(f"{float(v):.3f}" for v in est[worst]))
viz.comparison({
    "clean": x[worst], "noisy": y[worst],
    "known sigma": tinyddpm.denoise(y[worst], s, model=model, schedule=schedule),
    "sigma='auto'": tinyddpm.denoise(y[worst], "auto", model=model, schedule=schedule),
})

# %% [markdown]
# The worst estimate, on a bold 5, is well below the truth; the next seven are all slightly
# high. In every case the two
# bottom rows are hard to tell apart: the flat top of the sensitivity curve again.
#
# ## What to take away
#
# - A classical estimator (Immerkaer's $M$ with a median) needs nothing but the image; on digits
#   it is reliable only once the noise is stronger than the strokes' own fine structure.
# - A small learned estimator, regressing $\log\sigma$, reads $\sigma$ to a few percent across
#   the whole range, because it knows what a digit looks like.
# - Clipping to $[0, 1]$ biases both low and breaks the $\sigma \to t^*$ match itself: estimate and
#   denoise before you clip.
# - With unclipped noise, blind denoising costs essentially nothing over knowing $\sigma$: the
#   denoiser is insensitive to the few-percent errors the estimator makes.
