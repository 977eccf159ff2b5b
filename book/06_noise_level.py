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
# # How noisy is it?

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
# Everything in chapter 5 started from the noise level: $\sigma$ picks the step $t^*$ with
# $\bar\alpha_{t^*} = 1/(1+4\sigma^2)$, and the reverse chain starts there. A scanned form or a
# photographed digit does not come with its $\sigma$ written on it. This chapter estimates
# $\sigma$ from the noisy image alone, an estimate written $\hat\sigma$, in two ways (symbols are
# listed on the {doc}`notation` page):
#
# - a **classical** estimator that needs no training: filter away the image, measure what is left;
# - a **learned** estimator: a small CNN trained to read $\log\sigma$ off a noisy digit.
#
# Then it looks at a detail that decides whether either of them works on real files: images are
# stored in $[0, 1]$, so their noise has been **clipped**. Finally it puts an estimator in front of
# the denoiser and measures what fully blind denoising, `denoise(y, sigma="auto")`, costs
# compared with knowing $\sigma$.

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.ticker import PercentFormatter
from IPython.display import display
from myst_nb import glue

import tinyddpm
from tinyddpm import clipping, noise_level, viz
from tinyddpm.harness.book_data import HTMLTable
from tinyddpm.harness.evaluate import noisy_set
from tinyddpm.metrics import psnr
from tinyddpm.noise_level import estimate_sigma_learned, estimate_sigma_mad

x, labels = tinyddpm.load_sample()  # 1,000 test digits in [0, 1], 100 per class
model, schedule = tinyddpm.pretrained("ddpm")
sigma_net, _ = tinyddpm.pretrained("sigma_net")

# %% [markdown]
# ## A classical estimator: filter the image away
#
# Two facts make $\sigma$ measurable from one image. The noise is *white*: each pixel gets its
# own independent $\mathcal N(0, \sigma^2)$. The image is *smooth* almost everywhere: most $3 \times 3$
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
#
# **How much noise gets through.** On white noise the response $r = M * y$ at a pixel is a sum of
# nine independent Gaussians weighted by the entries of $M$, so
# $r \sim \mathcal N(0, \sigma^2 \sum_{ij} M_{ij}^2)$. A one-dimensional kernel
# $d = (1, -2, 1)$ alone would give $\sigma^2 \lVert d \rVert^2 = 6\,\sigma^2$, a standard
# deviation of $\sqrt 6\,\sigma$; the outer product squares that factor,
# $\sum_{ij} (d_i d_j)^2 = (\sum_i d_i^2)^2 = 36$, so $r \sim \mathcal N(0, 36\,\sigma^2)$ and
# the filter multiplies the noise's standard deviation by $\lVert M \rVert = 6$.
#
# **From the response to $\hat\sigma$.** Immerkaer turns the *mean* absolute response into an
# estimate, $\hat\sigma = \sqrt{\pi/2}\,\overline{|r|}/6$ (since $\mathbb E|r| = 6\sigma\sqrt{2/\pi}$).
# tinyddpm uses the *median* instead, because a median ignores the minority of pixels where the
# digit itself answers the filter. The constant comes from the normal distribution: for
# $r \sim \mathcal N(0, \tau^2)$ with $\tau = 6\sigma$, the median $m$ of $|r|$ is the value that
# $|r|$ stays below half the time,
#
# $$ P(|r| \le m) = P(-m \le r \le m) = 2\,\Phi(m/\tau) - 1 = \tfrac12
#    \quad\Longrightarrow\quad \Phi(m/\tau) = \tfrac34
#    \quad\Longrightarrow\quad m = \Phi^{-1}(\tfrac34)\,\tau \approx 0.6745\,\tau, $$
#
# with $\Phi$ the standard normal distribution function. So
#
# $$ \hat\sigma = \frac{1}{6} \cdot \frac{\operatorname{median}|M * y|}{0.6745}: $$
#
# the classical MAD estimate of the response's standard deviation (the median of the absolute
# deviations from the median, which is $0$ here, over $0.6745$), divided by the filter's factor. Neighbouring responses share
# pixels, so they are not independent; but each has the same $\mathcal N(0, 36\,\sigma^2)$
# distribution, and the median of many of them still lands on $0.6745\,\tau$.
#
# ```{literalinclude} ../src/tinyddpm/noise_level.py
# :pyobject: estimate_sigma_mad
# ```
#
# Build it step by step: the mask, its norm, and its response to a linear ramp.

# %%
d = torch.tensor([1.0, -2.0, 1.0])
M = torch.outer(d, d)
print(M)
print(f"sum of squares of d: {float((d**2).sum()):.0f}, of M: {float((M**2).sum()):.0f}")
print(f"so the filter multiplies the noise std by {float(M.norm()):.0f}")
ramp = torch.linspace(0, 1, 28)[None, :] * 0.6 + torch.linspace(0, 1, 28)[:, None] * 0.3  # a linear ramp
zero = float(F.conv2d(ramp[None, None], M[None, None]).abs().max()) < 1e-5
print(f"response to a linear ramp is zero (to 1e-5): {zero}")

# %% [markdown]
# Then check both factors of the derivation on pure noise, with no digit at all: the response's
# standard deviation over $\sigma$ should be $6$, the median of $|r|$ over its standard deviation
# $\Phi^{-1}(3/4)$, and the package's estimator should read $\sigma$ itself.

# %%
phi_inv = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.75)))
print(f"Phi^-1(3/4) = {phi_inv:.4f}, package: {noise_level.MAD_TO_SIGMA:.4f}")
sigma = 0.3
pure = sigma * torch.randn(500, 1, 28, 28, generator=tinyddpm.seeded(0))  # noise only
r = F.conv2d(pure, M[None, None])
print(f"std(M * noise) / sigma = {float(r.std()) / sigma:.3f}   (derivation: 6)")
print(f"median |r| / std(r)    = {float(r.abs().median() / r.std()):.4f}  (derivation: 0.6745)")
ratio = estimate_sigma_mad(pure) / sigma
print(f"estimate_sigma_mad on pure noise: sigma_hat / sigma = {float(ratio.median()):.3f}")
print(f"  (median over {len(pure)} images)")

# %% [markdown]
# Now a digit: the filter's response to the clean digits and to the same digits with noise, and
# the estimate by hand, checked against the package.

# %%
sigma = 0.1
y = noisy_set(x, sigma)
r_clean = F.conv2d(x, M[None, None])  # (1000, 1, 26, 26): responses to the clean digits
r_noisy = F.conv2d(y, M[None, None])
by_hand = r_noisy.abs().flatten(1).median(dim=1).values / (6 * noise_level.MAD_TO_SIGMA)
print(f"by hand == package: {torch.allclose(by_hand, estimate_sigma_mad(y))}")
print(f"median estimate over {len(x):,} digits at sigma = {sigma}: {float(by_hand.median()):.3f}")

# %% tags=["hide-input"]
fig, axes = plt.subplots(1, 4, figsize=(6.8, 2.2))
for ax, img, title in zip(axes, [x[0, 0], r_clean[0, 0].abs(), y[0, 0], r_noisy[0, 0].abs()],
                          ["clean digit", "|M * clean|", f"noisy, σ = {sigma}", "|M * noisy|"]):
    ax.imshow(img, cmap="gray"), ax.set_title(title, fontsize=10), ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# On the clean digit the flat background gives exactly zero, but the strokes do not: an MNIST
# stroke is only two or three pixels wide, so almost every stroke pixel sits on a curved edge
# that is far from linear. How many of the $26 \times 26$ responses is that? As long as fewer than half
# come from the digit, the median still lands in the noise, while the mean is pulled up by every
# stroke. The cell below counts them, and compares the mean-based and median-based estimates on
# the same noisy images.

# %%
busy = (r_clean.abs() > 1e-3).float().flatten(1).mean(1)
print(f"pixels where a clean digit answers the filter: {100 * float(busy.mean()):.1f}% on average,")
print(f"{100 * float(busy.max()):.1f}% at most")
glue("busy_mean", float(busy.mean()), display=False)
glue("busy_max", float(busy.max()), display=False)
print("median over the digits of sigma_hat / sigma")
for sigma in (0.05, 0.1, 0.3):
    r = F.conv2d(noisy_set(x, sigma), M[None, None]).abs().flatten(1)
    mean_based = (torch.pi / 2) ** 0.5 * r.mean(1) / 6  # Immerkaer's estimate
    median_based = r.median(1).values / (6 * noise_level.MAD_TO_SIGMA)
    print(f"  sigma {sigma:.2f}: mean-based {float((mean_based / sigma).median()):.3f}, "
          f"median-based {float((median_based / sigma).median()):.3f}")

# %% [markdown]
# {glue:text}`busy_mean:.0%` of the responses belong to the digit on average, and
# {glue:text}`busy_max:.0%` for the boldest digit, where even the median is pulled up. Both estimators overestimate at small
# $\sigma$, where the digit's own response is as large as the noise's; the median suffers much
# less. At large $\sigma$ the noise dominates everywhere and both settle near the truth.
#
# ## A learned estimator
#
# The classical estimator knows only one thing about digits: that they are locally smooth. A
# network can learn much more (strokes have a typical width, the background is exactly zero,
# digits sit in the middle), and so tell "stroke" from "noise" better. `SigmaNet`
# (`tinyddpm.sigma_net`) is a small CNN whose features are pooled over the whole image (mean and
# max) and mapped to one number, $\log\hat\sigma$:
#
# ```{literalinclude} ../src/tinyddpm/sigma_net.py
# :pyobject: SigmaNet.forward
# ```

# %%
n_params = sum(p.numel() for p in sigma_net.parameters())
low, high = sigma_net.config.sigma_range
print(f"parameters: {n_params:,}; trained on sigma in [{low}, {high}]")
glue("sigma_net_params", n_params, display=False)

# %% [markdown]
# This one has {glue:text}`sigma_net_params:,d` parameters. It was trained on the MNIST training
# digits plus Gaussian noise with $\sigma$ drawn log-uniformly from that range, **not clipped**,
# with the loss $(\log\hat\sigma - \log\sigma)^2$.
# Regressing the logarithm makes a $5\%$ error cost the same at $\sigma = 0.02$ as at $\sigma = 1$,
# which is the error that matters here: chapter 5's $t^*$ depends on $\sigma$ through
# $1 + 4\sigma^2$, and a relative error in $\sigma$ is a roughly fixed shift in $\log$ SNR.
# fast.ai's diffusion course trains a network for the same purpose, to read the noise level of a
# noisy image so that it can be handed to a pretrained diffusion model; its target, the logit of
# $\bar\alpha$, is $\log \mathrm{SNR} = -2\log(2\sigma)$ in this book's units, so it too regresses
# a linear function of $\log\sigma$ {cite}`fastai2022diffusion`.
# `estimate_sigma_learned` runs it; `estimate_sigma` (the estimator behind `sigma="auto"`) uses
# it for every image that is not clipped (more on clipping below).

# %% [markdown]
# ### The student's step classifier, with its bug and without it
#
# The project this book answers wanted the same thing: "another simple cnn net to predict how
# much rounds of noise is insert in the picture, however the cnn network doesn't accuracy enough
# so I just simply mannuly input the predict of the noise rounds" (the student's write-up). Their
# network (`tinyddpm.harness.student.StepCNN`, rebuilt from the facts of their code: three conv layers of
# 36, 72 and 144 channels with max-pooling, linear layers of 1024, 512 and 256 units and a
# 300-way output) classifies the step $t$ of their linear $T = 300$ schedule, with cross-entropy.
# In their training loop the noisy image is computed and then not used: the network is fed the
# **clean** digit, so it never sees noise and cannot do better than chance, one in 300.
#
# `benchmarks/student.py` trains it both ways here, for the same number of steps, and measures
# it on the same noisy test digits as `sigma_net` and the MAD estimator (the CNN sees $x_t$ as
# in training; the estimators see the same image as $y = x + \sigma n$, $\sigma$ the step's
# equivalent noise level). "Within 10 steps" is the student's own tolerance: they rounded the
# start step down to a multiple of ten.

# %% tags=["remove-input"]
from tinyddpm.harness.book_data import read_json
from tinyddpm.harness.student import StepCNN

levels = read_json("student.json")["noise_level"]
rows = []
for key, name in (("cnn_clean_input", "step CNN, clean input (the student's code)"),
                  ("cnn_noisy_input", "step CNN, noisy input (as intended)")):
    r = levels[key]
    rows.append([name, f"{100 * r['exact']:.1f} %", f"{100 * r['within_10_steps']:.1f} %",
                 f"{100 * r['median_rel_error']:.1f} %"])
    glue(f"{key}_exact", 100 * r["exact"], display=False)
    glue(f"{key}_within10", 100 * r["within_10_steps"], display=False)
    glue(f"{key}_rel", 100 * r["median_rel_error"], display=False)
for key, name in (("sigma_net", "sigma_net (regresses log sigma)"), ("mad", "MAD (classical)")):
    rows.append([name, "", "", f"{100 * levels[key]['median_rel_error']:.1f} %"])
    glue(f"{key}_student_rel", 100 * levels[key]["median_rel_error"], display=False)
glue("student_cnn_digits", levels["digits"], display=False)
glue("step_cnn_params", sum(p.numel() for p in StepCNN().parameters()), display=False)
glue("chance_exact", 100 * levels["chance_exact"], display=False)
HTMLTable(["estimator", ("exact", "step"), ("within", "10 steps"), ("median relative", "error of sigma")], rows,
          caption=f"{levels['digits']} test digits, step t uniform on 0 to 299")

# %% [markdown]
# Fed the clean digit, the classifier is exactly right on {glue:text}`cnn_clean_input_exact:.1f` %
# of the {glue:text}`student_cnn_digits` noisy digits (chance: {glue:text}`chance_exact:.1f` %),
# and the $\sigma$ its step implies is off by a median {glue:text}`cnn_clean_input_rel:.0f` %.
# Fed the noisy digit, the same network, the same loss and the same number of steps reach
# {glue:text}`cnn_noisy_input_within10:.1f` % within ten steps and a median error of
# {glue:text}`cnn_noisy_input_rel:.1f` % in $\sigma$. The student was one variable away from a
# working estimator. The exact-match accuracy stays low ({glue:text}`cnn_noisy_input_exact:.1f` %)
# because it is the wrong question: neighbouring steps differ by a fraction of a percent in noise
# level and cannot be told apart, while a regression of $\log\sigma$ (`sigma_net`, a median error
# of {glue:text}`sigma_net_student_rel:.1f` % on the same digits, with
# {glue:text}`sigma_net_params:,d` parameters against the classifier's
# {glue:text}`step_cnn_params:,d`) asks for exactly the precision the denoiser needs.
#
# ### What their log printed
#
# A second detail of the same training loop explains why the student read the result as "not
# accurate enough" rather than "not learning at all". Their code adds up the exact matches over
# an epoch and divides the total by the number of *batches*, not by the number of images. The
# quotient is the average number of correct answers per batch, not a share. What does it print
# for a classifier that only guesses?

# %%
n_images = 60_000 + 10_000  # MNIST train + test, their data set
batch_size, n_classes = 128, 300  # their batch; one class per step
n_batches = math.ceil(n_images / batch_size)  # counting the last, partial batch
correct_at_chance = n_images / n_classes  # expected exact matches in one epoch at 1 in 300
logged = correct_at_chance / n_batches  # their log: total_correct / number of batches
print(f"their log at chance: {correct_at_chance:.0f} / {n_batches} batches = {logged:.2f}")
print(f"the share of images that chance gets right: {correct_at_chance / n_images:.4f}")
print(f"their log for a perfect classifier: {n_images / n_batches:.1f}")
glue("log_at_chance", logged, display=False)
glue("log_share", correct_at_chance / n_images, display=False)
glue("log_perfect", n_images / n_batches, display=False)
glue("log_n_images", n_images, display=False)
glue("log_batch_size", batch_size, display=False)

# %% [markdown]
# At chance their log prints {glue:text}`log_at_chance:.2f`. Read as an accuracy, that is a
# classifier right {glue:text}`log_at_chance:.0%` of the time: learning, just not well enough,
# which is how the write-up describes it. It is in fact what guessing prints: about a batch of
# {glue:text}`log_batch_size:d` divided by the 300 classes, whatever the size of the data set.
# Divided by the {glue:text}`log_n_images:,d` images instead, the same count is
# {glue:text}`log_share:.2%`, the chance rate itself, and the clean-input bug above would have
# shown at once; a perfect classifier would have printed {glue:text}`log_perfect:.0f`, so nothing
# in the log looked out of range either. It is an easy slip to make: many training loops
# average a loss over `len(loader)`, which is right for a per-batch mean and wrong for a count.
#
# ### The classical estimator alone would have done it
#
# Their question, which step to start the chain from, needs no trained network at all. The last
# row of the table is the estimator of the first section, with nothing learned: a median error
# in $\sigma$ of {glue:text}`mad_student_rel:.1f` %, against {glue:text}`cnn_noisy_input_rel:.1f` %
# for their classifier trained as intended. Turned into steps: estimate $\hat\sigma$ by MAD,
# take chapter 5's matched step $t^*$ for $\hat\sigma$ on their schedule, and compare it with the
# true step, on the bundled digits resized to their $32 \times 32$, with $t$ drawn uniformly
# from the table's range and from the range their denoising drew.

# %%
from tinyddpm.harness.student import schedule as student_schedule, step_sigma, to_student

sched300 = student_schedule()  # linear betas, T = 300
x32 = (to_student(x) + 1) / 2  # their 32 x 32 digits, in pixel units
mad_steps = {}  # first step of the range -> |step from sigma_hat - true step|, per digit
for first in (0, 50):
    g = tinyddpm.seeded(first)
    t = torch.randint(first, 300, (len(x32),), generator=g)
    sigma = step_sigma(t).float()[:, None, None, None]  # the step's noise level
    y = x32 + sigma * torch.randn(x32.shape, generator=g)
    sigma_hat = estimate_sigma_mad(y).double().clamp(max=sched300.max_sigma / 2)
    t_hat = sched300.t_from_sigma(2 * sigma_hat) - 1  # their step t is the package's t - 1
    mad_steps[first] = (t_hat.round() - t).abs()
    off, within = float(mad_steps[first].median()), float((mad_steps[first] <= 10).double().mean())
    print(f"t from {first} to 299: start step off by a median {off:.0f}, within 10 steps for {within:.1%}")

# %% tags=["hide-input"]
for first, off in mad_steps.items():
    glue(f"mad_within10_{first}", float((off <= 10).double().mean()), display=False)
    glue(f"mad_step_median_{first}", float(off.median()), display=False)
glue("student_sigma_low", float(step_sigma(torch.tensor([50]))), display=False)
glue("student_sigma_high", float(step_sigma(torch.tensor([299]))), display=False)

# %% [markdown]
# With $t$ anywhere on their schedule, MAD's $\hat\sigma$ puts the start within ten steps of the
# truth for {glue:text}`mad_within10_0:.1%` of the digits, against
# {glue:text}`cnn_noisy_input_within10:.1f` % for their classifier trained as intended and
# {glue:text}`cnn_clean_input_within10:.1f` % as their code trained it (the table's test digits;
# these are the bundled ones). On the steps their denoising drew, whose noise levels run from
# $\sigma =$ {glue:text}`student_sigma_low:.2f` to {glue:text}`student_sigma_high:.1f`, the share is
# {glue:text}`mad_within10_50:.1%` and the median error {glue:text}`mad_step_median_50:.0f` steps,
# while their own rounding down to a multiple of ten already moved the start by up to nine steps.
# A relative error of a few percent in $\sigma$ is also well inside the flat top of the
# sensitivity curve measured below. Like the table, this hands the estimator the digit as
# $y = x + \sigma n$, the form a real noisy image has. The student's test inputs were $x_t$, whose
# signal is scaled by $\sqrt{\bar\alpha_t}$ as well; there the noise's standard deviation
# $\sqrt{1 - \bar\alpha_t}$ flattens out towards $1$ at late steps, and telling those steps apart
# needs the signal's scale too.
#
# ## Errors across sigma
#
# For each noise level, take the fixed noisy version of the {glue:text}`n_all:,d` digits and compute the relative
# error $|\hat\sigma/\sigma - 1|$ of each image's estimate; report its median and 90th percentile
# (one image in ten is worse than that).

# %%
sigmas = [0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0]
estimators = {"MAD (classical)": estimate_sigma_mad, "learned": lambda im: estimate_sigma_learned(im, sigma_net)}


def summarize(sigma_hat: torch.Tensor, sigma: float) -> dict[str, float]:
    rel = (sigma_hat / sigma - 1).abs()
    return {"median": float(rel.median()), "p90": float(rel.quantile(0.9)),
            "ratio": float((sigma_hat / sigma).median())}


# %% [markdown]
# Each estimator sees every noise level twice, as the noise left it and clipped to $[0, 1]$ as an
# image file would hold it (clipping is the next section's subject; this section reads only the
# first):

# %%
results = {}  # (estimator, clipped?) -> list of summaries over sigmas
for sigma in sigmas:
    y = noisy_set(x, sigma)
    for clipped in (False, True):
        inp = y.clamp(0, 1) if clipped else y
        for name, fn in estimators.items():
            results.setdefault((name, clipped), []).append(summarize(fn(inp), sigma))

# %% tags=["hide-input"]
mad, learned = results[("MAD (classical)", False)], results[("learned", False)]
display(HTMLTable(
    ["σ", "MAD, median", "MAD, 90th pct.", "learned, median", "learned, 90th pct."],
    [[f"{sigma:.2f}", f"{a['median']:.3f}", f"{a['p90']:.3f}", f"{b['median']:.3f}", f"{b['p90']:.3f}"]
     for sigma, a, b in zip(sigmas, mad, learned)],
    "relative error |σ̂ / σ − 1| on unclipped noisy digits",
))
assert all(b["median"] < a["median"] and b["p90"] < a["p90"] for a, b in zip(mad, learned))
glue("sigma_fold", sigmas[-1] / sigmas[0], display=False)
glue("learned_err_max", max(b["median"] for b in learned), display=False)
glue("learned_err_min", min(b["median"] for b in learned), display=False)
strong = [a["median"] for sigma, a in zip(sigmas, mad) if sigma >= 0.2]
glue("mad_err_strong", max(strong), display=False)
glue("mad_err_weakest", mad[0]["median"], display=False)
glue("mad_ratio_weakest", mad[0]["ratio"], display=False)

# %% tags=["hide-input"]
fig, ax = plt.subplots(figsize=(6, 3.6))
for (name, color) in [("MAD (classical)", "C0"), ("learned", "C1")]:
    rows = results[(name, False)]
    ax.plot(sigmas, [r["median"] for r in rows], "o-", color=color, label=f"{name}, median")
    ax.plot(sigmas, [r["p90"] for r in rows], "s--", color=color, label=f"{name}, 90th percentile")
ax.set_xscale("log"), ax.set_yscale("log")
ax.set_xticks(sigmas, [f"{sg:g}" for sg in sigmas]), ax.minorticks_off()
ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
ax.set_xlabel("true σ (pixel units)"), ax.set_ylabel(r"relative error of $\hat\sigma$")
ax.legend(fontsize=9), ax.grid(alpha=0.3, which="both")
fig.tight_layout()
plt.show()

# %% [markdown]
# The learned estimator's median error stays between {glue:text}`learned_err_min:.1%` and
# {glue:text}`learned_err_max:.1%` across the {glue:text}`sigma_fold:.0f`-fold range of
# $\sigma$, nearly flat, as a log-regression should be, and both its median and its 90th
# percentile are below the classical estimator's at every $\sigma$ (the cell checks it). The
# classical estimator is usable once the noise is strong: from $\sigma = 0.2$ up its median error
# is at most {glue:text}`mad_err_strong:.1%`. At small $\sigma$ it mistakes stroke edges for
# noise and overestimates, by a median factor of {glue:text}`mad_ratio_weakest:.2f` at the
# smallest $\sigma$: the digit's structure is the same size as the noise, and "locally linear"
# is too weak a model of a digit to separate them.
# The learned estimator's advantage is exactly the prior it has and Immerkaer's filter lacks.
#
# ## What clipping does
#
# Every evaluation in this book adds noise and leaves the result as it is, values below $0$ and
# above $1$ included. A real image file cannot hold those: a `uint8` PNG or a camera clips to
# $[0, 1]$. Look at what that does on MNIST, whose background (most of the image) is exactly $0$.
# There the noisy pixel is $\sigma n$, and clipping keeps $\max(0, \sigma n)$: half the pixels
# become exactly $0$, the other half keep their value. For $n \sim \mathcal N(0, 1)$,
#
# $$ \mathbb E[\max(0, \sigma n)] = \frac{\sigma}{\sqrt{2\pi}} \approx 0.40\,\sigma, \qquad
#    \operatorname{std}[\max(0, \sigma n)] = \sigma\sqrt{\tfrac12 - \tfrac{1}{2\pi}} \approx 0.58\,\sigma. $$
#
# The background gets brighter (a grey haze) and its noise *smaller*. Checked on the
# background pixels of the bundled digits:

# %%
sigma = 0.3
y = noisy_set(x, sigma)
background = x == 0
clipped_bg = y.clamp(0, 1)[background]
print(f"background pixels: {100 * float(background.float().mean()):.1f}% of all pixels")
print(f"clipped background: mean / sigma = {float(clipped_bg.mean()) / sigma:.3f} "
      f"(theory {1 / (2 * torch.pi) ** 0.5:.3f})")
print(f"                    std / sigma  = {float(clipped_bg.std()) / sigma:.3f} "
      f"(theory {(0.5 - 1 / (2 * torch.pi)) ** 0.5:.3f})")

# %% [markdown]
# Any estimator that measures the *spread* of the noise will therefore read a $\sigma$ too low.
# The same estimators, now on clipped inputs; the second line of each cell is the median of
# $\hat\sigma/\sigma$ ($1$ is unbiased):

# %% tags=["hide-input"]
body = []
for i, sigma in enumerate(sigmas):
    cells = [f"{sigma:.2f}"]
    for name in estimators:
        for clipped in (False, True):
            r = results[(name, clipped)][i]
            cells.append((f"{r['median']:.3f}", f"{r['ratio']:.3f}"))
    body.append(cells)
display(HTMLTable(
    ["σ", "MAD, not clipped", "MAD, clipped", "learned, not clipped", "learned, clipped"], body,
    "median relative error |σ̂ / σ − 1| (first line) and median σ̂ / σ (second line)",
))
ratios = {(name, c): [r["ratio"] for r in results[(name, c)]] for name in estimators for c in (False, True)}
assert all(r < 1 for name in estimators for r in ratios[(name, True)])  # clipped: both read too low
mad_c, learned_c = results[("MAD (classical)", True)], results[("learned", True)]
assert all(b["median"] > a["median"] for a, b in zip(mad_c, learned_c))  # and the learned one is worse
glue("mad_clipped_ratio_03", ratios[("MAD (classical)", True)][sigmas.index(0.3)], display=False)

fig, ax = plt.subplots(figsize=(6, 3.4))
for (name, color) in [("MAD (classical)", "C0"), ("learned", "C1")]:
    for clipped, style in [(False, "o-"), (True, "x:")]:
        rows = results[(name, clipped)]
        ax.plot(sigmas, [r["ratio"] for r in rows], style, color=color, label=f"{name}, {'clipped' if clipped else 'not clipped'}")
ax.axhline(1, color="k", lw=0.8)
ax.set_xscale("log"), ax.set_ylim(0, 1.6)
ax.set_xticks(sigmas, [f"{sg:g}" for sg in sigmas]), ax.minorticks_off()
ax.set_xlabel("true σ (pixel units)"), ax.set_ylabel(r"median $\hat\sigma / \sigma$")
ax.legend(fontsize=9), ax.grid(alpha=0.3, which="both")
fig.tight_layout()
plt.show()

# %% [markdown]
# Both estimators now read too low at every $\sigma$, and the learned one, the better estimator
# on unclipped noise, is the worse one here (the cell checks both). The classical filter sees
# the smaller noise of the background: at $\sigma = 0.3$ it reads
# {glue:text}`mad_clipped_ratio_03:.2f` of the truth, close to the $0.58\,\sigma$ above. At small $\sigma$ the strokes' own
# response, which made it overestimate before, partly offsets the loss; at large $\sigma$ the
# stroke pixels are clipped at the top as well and the ratio keeps falling. The network has never
# seen a clipped noisy image: half-rectified noise on a grey haze is off its training
# distribution, the same trap the VAE of chapter 1 fell into with noisy inputs, and its output
# there means nothing.
#
# Clipping also breaks the step that comes *after* estimation, even with the true $\sigma$. The
# match $\sqrt{\bar\alpha_{t^*}}\,y \sim q(x_{t^*} \mid x_0)$ holds because $y - x_0$ is zero-mean
# Gaussian noise of standard deviation $\sigma$. After clipping it is neither: the background
# noise has mean $0.40\,\sigma$ and standard deviation $0.58\,\sigma$. There is no $t$ at which
# the forward chain produces such an image, so no start step is right.
#
# The package answers both problems for clipped images. **Estimating $\sigma$:** a pixel stored
# as $0$ does not say how far below zero the noisy value was, only that it was below; so instead
# of measuring the spread of the pixels, fit a *censored* normal distribution to the background
# (Tobin's model): a pixel at $0$ contributes the probability of lying below zero to the
# likelihood, every other pixel its density. `estimate_sigma_censored` does this, and
# `estimate_sigma`, the estimator behind `sigma="auto"`, uses it for every image that
# `detect_clipping` finds clipped (the learned estimator for the others). **Denoising:**
# `unclip` replaces each clipped pixel by the mean of the noisy value given that it was
# clipped, which brings the background's noise back to zero mean, the kind the model was trained
# on. Measured on the first {glue:text}`n_sub:d` bundled digits (the rest of the chapter denoises
# the same ones, and reuses the true-sigma results computed here as its reference):

# %%
sub = x[:300]
known = {}  # sigma -> the digits of `sub` denoised with the true sigma from unclipped input
clip_runs = {}  # sigma -> (y, clipped y, sigma_hat of the clipped y, outputs of the four ways)
for sigma in (0.3, 0.5):
    y = noisy_set(sub, sigma)
    yc = y.clamp(0, 1)
    sigma_hat = tinyddpm.estimate_sigma(yc)  # the censored fit: these images are clipped
    known[sigma] = tinyddpm.denoise(y, sigma, model=model, schedule=schedule)
    clip_runs[sigma] = y, yc, sigma_hat, {
        "unclipped, true σ": known[sigma],
        "clipped, true σ": tinyddpm.denoise(yc, sigma, model=model, schedule=schedule),
        "clipped, σ = 'auto'": tinyddpm.denoise(yc, "auto", model=model, schedule=schedule),
        "clipped, unclip, σ̂": tinyddpm.denoise(clipping.unclip(yc, sigma_hat), sigma_hat, model=model, schedule=schedule),
    }

# %% tags=["hide-input"]
glue("n_sub", len(sub), display=False)
body, loss, est_err = [], {}, {}
for sigma, (y, yc, sigma_hat, rows) in clip_runs.items():
    assert bool(clipping.detect_clipping(yc).any.all()) and not bool(clipping.detect_clipping(y).any.any())
    est_err[sigma] = float((sigma_hat / sigma - 1).abs().median())
    db = {k: float(psnr(v, sub).mean()) for k, v in rows.items()}
    loss[sigma] = {k: db["unclipped, true σ"] - v for k, v in db.items()}
    body.append([f"{sigma}", f"{float(psnr(y, sub).mean()):.2f}", f"{float(psnr(yc, sub).mean()):.2f}",
                 *(f"{v:.2f}" for v in db.values()), f"{float(sigma_hat.median()):.3f}"])
display(HTMLTable(["σ", "noisy", "noisy, clipped", *rows, "median σ̂, clipped"], body,
                  f"mean PSNR (dB) over {len(sub)} digits; σ̂: estimate_sigma of the clipped inputs"))
assert all(float(b[2]) > float(b[1]) for b in body)  # clipping raises the noisy input's PSNR


def loss_range(name: str) -> tuple[float, float]:
    return min(v[name] for v in loss.values()), max(v[name] for v in loss.values())


for key, name in [("true", "clipped, true σ"), ("auto", "clipped, σ = 'auto'"), ("unclip", "clipped, unclip, σ̂")]:
    low, high = loss_range(name)
    glue(f"clip_loss_{key}_min", low, display=False)
    glue(f"clip_loss_{key}_max", high, display=False)
glue("censored_err_max", max(est_err.values()), display=False)
pick = [int(torch.nonzero(labels[: len(sub)] == c)[0, 0]) for c in range(10)]
viz.comparison({f"clean (σ = {sigma})": sub[pick], "noisy, clipped": yc[pick], **{k: v[pick] for k, v in rows.items()}})

# %% [markdown]
# Notice first that clipping *raises* the PSNR of the noisy input: cutting off the negative
# half of the background noise removes error. Yet the denoiser does worse on it: with the true
# $\sigma$ the clipped inputs lose between {glue:text}`clip_loss_true_min:.1f` and
# {glue:text}`clip_loss_true_max:.1f` dB against the unclipped ones. The model, started at the
# right $t^*$ but on an image the chain never produces, mostly removes the haze anyway (the
# figure shows the second noise level of the table). The censored fit reads $\sigma$ from the
# clipped images with a median relative error of at most {glue:text}`censored_err_max:.1%`, so
# `sigma="auto"` costs little more than the true $\sigma$: a loss of
# {glue:text}`clip_loss_auto_min:.1f` to {glue:text}`clip_loss_auto_max:.1f` dB; the estimators
# of the table above, which read a fraction of the truth, would start the chain far too early.
# Imputing the clipped pixels before denoising shrinks the loss to
# {glue:text}`clip_loss_unclip_min:.1f` to {glue:text}`clip_loss_unclip_max:.1f` dB. So: estimate
# $\sigma$ and denoise before an image is clipped or quantized when you can, and clip only the
# result; for a clipped file, `denoise(unclip(y, sigma_hat), sigma_hat)` with
# `sigma_hat = estimate_sigma(y)` recovers
# most of what clipping cost (`tinyddpm.denoise_image`, and `tinyddpm denoise` on image files, do
# the same).
#
# ## How much does a wrong sigma cost?
#
# Back to unclipped noise. Before putting the estimator in front of the denoiser, measure how
# sensitive the denoiser is to the $\sigma$ it is told: the same digits at $\sigma = 0.3$,
# denoised as if the noise were $\sigma$ times a factor between $0.5$ and $2$.

# %%
sigma = 0.3
y = noisy_set(sub, sigma)
factors = [0.5, 0.7, 0.85, 1.0, 1.15, 1.4, 2.0]
told = {f: known[sigma] if f == 1.0 else tinyddpm.denoise(y, f * sigma, model=model, schedule=schedule)
        for f in factors}
gains = {f: float(psnr(told[f], sub).mean()) for f in factors}
for f, g in gains.items():
    print(f"told sigma = {f:4.2f} x true: {g:.2f} dB")

# %% tags=["hide-input"]
cost = {f: gains[1.0] - g for f, g in gains.items()}
assert cost[0.5] > cost[2.0] and cost[0.7] > cost[1.4]  # underestimating costs more
glue("cost_085", cost[0.85], display=False)
glue("cost_115", cost[1.15], display=False)
glue("cost_half", cost[0.5], display=False)
glue("cost_double", cost[2.0], display=False)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(factors, list(gains.values()), "o-")
ax.set_xscale("log"), ax.set_xticks(factors, [str(f) for f in factors]), ax.minorticks_off()
ax.set_xlabel("assumed σ / true σ"), ax.set_ylabel(f"mean PSNR (dB), {len(sub)} digits"), ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %% [markdown]
# The curve is flat at the top: told $0.85$ times the true $\sigma$, the denoiser loses
# {glue:text}`cost_085:.2f` dB, and told $1.15$ times, {glue:text}`cost_115:.2f` dB, errors several times larger than
# the learned estimator's median error on unclipped inputs. It is also lopsided:
# underestimating costs more than overestimating by the same factor, {glue:text}`cost_half:.1f` dB
# at half the noise against {glue:text}`cost_double:.1f` dB at twice it. Told too little noise, the
# model starts at a too-early $t^*$, trusts the input too much and leaves noise in; told too much,
# it smooths a little more than needed, and the prior of clean digits keeps that cheap. Far from
# the top both cost whole dB: that is what a spread-based reading of clipped noise, a fraction of
# the truth, would cost.
#
# ## Blind denoising, end to end
#
# Estimating $\sigma$ and handing it to a denoiser that needs it is one way to denoise blind. The
# other is a denoiser that is never told $\sigma$: Mohan et al. showed that a CNN denoiser with
# every additive bias removed works without being told the noise level and generalises to noise
# levels outside the range it was trained on {cite}`mohan2020biasfree`. Kadkhodaie and Simoncelli
# then used such a blind denoiser as a prior: its residual points along the gradient of the log
# density of noisy images, and they read the current noise level off the residual's size to set
# the step size while drawing images from the prior implicit in the denoiser
# {cite}`kadkhodaie2021prior`. tinyddpm's network is told its step, so it takes the first way.
#
# `denoise(y, sigma="auto")` estimates one $\sigma$ per image with `estimate_sigma` (here the
# learned estimator: nothing is clipped), maps each to its own $t^*$, and continues exactly as in chapter 5. Compared with
# the same denoiser given the true $\sigma$, on the same digits:

# %%
body, gaps = [], []
for sigma in (0.1, 0.2, 0.3, 0.5):
    y = noisy_set(sub, sigma)
    if sigma not in known:
        known[sigma] = tinyddpm.denoise(y, sigma, model=model, schedule=schedule)
    blind = tinyddpm.denoise(y, "auto", model=model, schedule=schedule)
    p_known, p_blind = float(psnr(known[sigma], sub).mean()), float(psnr(blind, sub).mean())
    err = float((tinyddpm.estimate_sigma(y) / sigma - 1).abs().median())
    gaps.append(p_blind - p_known)
    body.append([f"{sigma}", f"{p_known:.2f}", f"{p_blind:.2f}", f"{p_blind - p_known:+.2f}", f"{err:.3f}"])
display(HTMLTable(["σ", "true σ (dB)", "σ = 'auto' (dB)", "gap (dB)", "median |σ̂ / σ − 1|"], body,
                  f"mean PSNR over {len(sub)} digits"))
glue("blind_gap_max", max(abs(g) for g in gaps), display=False)

# %% [markdown]
# The gap column is at most {glue:text}`blind_gap_max:.2f` dB at every noise level: on
# unclipped noise, blind denoising is as good as knowing $\sigma$, for the reason the previous
# section showed. Averages can hide the bad cases, so look at the worst ones: the cell below
# finds, among all {glue:text}`n_all:,d` bundled digits at $\sigma = 0.3$, the eight whose
# estimates are furthest from the truth, and denoises them both ways.

# %%
sigma = 0.3
y = noisy_set(x, sigma)
sigma_hat = tinyddpm.estimate_sigma(y)
worst = (sigma_hat / sigma - 1).abs().argsort(descending=True)[:8]
print("sigma_hat of the 8 worst estimates:")
print(", ".join(f"{float(v):.3f}" for v in sigma_hat[worst]))
with_known = tinyddpm.denoise(y[worst], sigma, model=model, schedule=schedule)
with_auto = tinyddpm.denoise(y[worst], "auto", model=model, schedule=schedule)
glue("n_all", len(x), display=False)
glue("worst_label", int(labels[worst[0]]), display=False)
glue("worst_ratio", float(sigma_hat[worst[0]]) / sigma, display=False)
glue("worst_high", int((sigma_hat[worst[1:]] > sigma).sum()), display=False)
glue("worst_gap_max", float((psnr(with_known, x[worst]) - psnr(with_auto, x[worst])).abs().max()), display=False)
viz.comparison({"clean": x[worst], "noisy": y[worst], "known σ": with_known, "σ = 'auto'": with_auto})

# %% [markdown]
# The worst estimate, on a {glue:text}`worst_label:d` (first column), is
# {glue:text}`worst_ratio:.2f` times the truth; of the other seven, {glue:text}`worst_high:d` are
# too high. Even on these eight the two bottom rows are hard to tell apart, their PSNRs differ by
# at most {glue:text}`worst_gap_max:.2f` dB per digit: the flat top of the sensitivity curve
# again.

# %% [markdown]
# ## What to take away
#
# - A classical estimator needs nothing but the image: filter with Immerkaer's $M$, whose output
#   has standard deviation $6\sigma$ on white noise, and divide the median absolute response by
#   $6 \times 0.6745$, since $\Phi^{-1}(3/4) = 0.6745$ is the median of $|\mathcal N(0, 1)|$. On
#   digits it is reliable only once the noise is stronger than the strokes' own fine structure.
# - A small learned estimator, regressing $\log\sigma$, reads $\sigma$ to a median error of at
#   most {glue:text}`learned_err_max:.1%` across the whole range, because it knows what a digit
#   looks like.
# - The student's step classifier was fed clean digits, and its log divided the correct count by
#   the number of batches: at chance it prints {glue:text}`log_at_chance:.2f`, which reads as an
#   accuracy that is merely too low. Fed noisy digits it works; and the classical estimator alone,
#   untrained, puts their start step within ten steps for {glue:text}`mad_within10_50:.0%` of the
#   digits on the steps their denoising used.
# - Clipping to $[0, 1]$ biases both low and breaks the $\sigma \to t^*$ match itself. A
#   censored-normal fit reads $\sigma$ from a clipped image (`sigma="auto"` does it), and imputing
#   the clipped pixels recovers most of the rest; better still, estimate and denoise before you
#   clip.
# - With unclipped noise, blind denoising costs essentially nothing over knowing $\sigma$ (at most
#   {glue:text}`blind_gap_max:.2f` dB here): the denoiser is insensitive to the errors of a few
#   percent that the estimator makes.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) The student's log divides the number of exact matches in an
# epoch by the number of batches. (a) With $N$ images in batches of $B$ and a classifier that is
# right with probability $p$ on every image, what does the log print on average? (b) What does it
# print at chance over $K$ classes, and for a perfect classifier, with $N = 70\,000$, $B = 128$
# and $K = 300$? (c) Which change makes it an accuracy?
#
# ```{admonition} Solution
# :class: dropdown
# (a) The expected number of matches in an epoch is $pN$, the number of batches
# $\lceil N/B \rceil$, so the log prints $pN / \lceil N/B \rceil \approx pB$: the expected number
# of correct answers *per batch*, between $0$ and $B$.
#
# (b) At chance $p = 1/K$: $\frac{70\,000/300}{547} \approx 0.427 \approx B/K$. A perfect classifier,
# $p = 1$, prints $70\,000/547 \approx 127.97 \approx B$. Read as a share, $0.43$ looks like a weak
# classifier; on the right scale, $0$ to $128$, it is the bottom of the range.
#
# (c) Divide by $N$, the number of images, not by the number of batches (`len(loader.dataset)`,
# not `len(loader)`): the log then prints $p$, and chance is $1/K \approx 0.0033$.
# ```
#
# **Exercise 2.** (pen and paper) The fourth difference $d_4 = (1, -4, 6, -4, 1)$ is zero on every
# cubic, as the second difference is on every line. For the $5 \times 5$ mask
# $M_4 = d_4 d_4^\top$, which constant replaces $6$ in $\hat\sigma = \operatorname{median}|M * y| / (6 \times 0.6745)$?
#
# ```{admonition} Solution
# :class: dropdown
# On white noise of standard deviation $\sigma$ the response $M_4 * y$ is a weighted sum of $25$
# independent $\mathcal N(0, \sigma^2)$ pixels, so its variance is
# $\sigma^2 \sum_{ij} (d_{4,i} d_{4,j})^2 = \sigma^2 (\sum_i d_{4,i}^2)^2 = \sigma^2 (1 + 16 + 36 + 16 + 1)^2 = 70^2 \sigma^2$.
# The response's standard deviation is $70\,\sigma$, so
# $\hat\sigma = \operatorname{median}|M_4 * y| / (70 \times 0.6745)$; the $0.6745$ is unchanged,
# since the response is still normal.
# ```
#
# **Exercise 3.** (code) Check the previous exercise on pure noise, then compare the $5 \times 5$ estimator
# with the package's $3 \times 3$ one on the bundled digits at $\sigma = 0.05$ and $\sigma = 0.3$
# (median of $\hat\sigma / \sigma$). Does a filter that is blind to cubics as well read the
# noise better on digits, whose strokes are two or three pixels wide?

# %% tags=["hide-input", "solution"]
d4 = torch.tensor([1.0, -4.0, 6.0, -4.0, 1.0])
M4 = torch.outer(d4, d4)
pure = 0.3 * torch.randn(200, 1, 28, 28, generator=tinyddpm.seeded(1))
print(f"std(M4 * noise) / sigma = {float(F.conv2d(pure, M4[None, None]).std()) / 0.3:.2f} (Exercise 2: 70)")


def mad_5x5(images: torch.Tensor) -> torch.Tensor:
    r = F.conv2d(images, M4[None, None]).abs().flatten(1)
    return r.median(1).values / (float(M4.norm()) * noise_level.MAD_TO_SIGMA)


for sigma in (0.05, 0.3):
    y = noisy_set(x, sigma)
    print(f"sigma {sigma}: median sigma_hat / sigma, 5x5 {float((mad_5x5(y) / sigma).median()):.3f}, "
          f"3x3 {float((estimate_sigma_mad(y) / sigma).median()):.3f}")
