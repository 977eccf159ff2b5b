# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
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
# # Benchmarks
#
# The earlier chapters measured one idea at a time on the 1,000 bundled digits. This chapter
# puts every method side by side on the full MNIST test set, with the numbers produced by one
# command in this repository:
#
# ```bash
# pip install -e ".[bench]"
# python benchmarks/run.py            # about an hour on 2 CPU cores; writes benchmarks/results/
# python benchmarks/run.py --quick    # the same code on a few digits, in a minute (the tests run it)
# ```
#
# The run writes one JSON file per section (`bench_quality.json`, `bench_speed.json`,
# `bench_diffusers.json`, `bench_fid.json`) and a generated summary, `BENCHMARKS.md`. Nothing
# below is typed in by hand: the cells read those files. In Colab, where the repository is
# not on disk, they are fetched from GitHub.
#
# **Protocol.** Clean test digits $x \in [0, 1]$, $y = x + \sigma n$ with a fixed seed and *no
# clipping*; every method sees $y$ and the true $\sigma$ (except the blind variants, which
# estimate it). Fast methods run on all 10,000 test digits; the multi-step samplers, which cost
# tens to hundreds of network evaluations per digit, run on a fixed subset of 50 of them
# (5 per class, `s50`), and the blind and guided variants on the 1,000 bundled digits
# (`s1000`). The sets are nested, so every method is also scored on `s50`. The classical
# denoisers from scikit-image have one parameter each, tuned per $\sigma$ on 300 *training*
# digits, never on test digits.

# %%
import json
import urllib.request
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

RESULTS = Path("../benchmarks/results")
RAW = "https://raw.githubusercontent.com/tinyddpm/tinyddpm/main/benchmarks/results"


def load(section: str) -> dict:
    """One results file: from the repository if it is here, else from GitHub (Colab)."""
    path = RESULTS / f"bench_{section}.json"
    if path.exists():
        return json.loads(path.read_text())
    with urllib.request.urlopen(f"{RAW}/bench_{section}.json") as f:
        return json.load(f)


quality, speed, versus, fid = (load(s) for s in ("quality", "speed", "diffusers", "fid"))
machine = speed["machine"]
print(f"machine: {machine['cpu']}, {machine['threads']} torch threads, torch {machine['torch']}")
print(f"quality section: {quality['section_seconds'] / 60:.0f} min, sample-quality section: {fid['section_seconds'] / 60:.0f} min")

# %% [markdown]
# ## Denoising quality
#
# Mean per-image PSNR (dB) and the fraction of digits the package's classifier still reads as
# their true label ("identity"). The ★ marks, per $\sigma$, the classical method that was best
# on the held-out training digits: the fair "best classical" choice, made without looking at
# the test set.

# %%
rows = quality["rows"]
sigmas = list(quality["sigmas"])
methods = list(dict.fromkeys(r["method"] for r in rows))


def cell(method: str, key: str, fmt) -> str:
    r = next((r for r in rows if r["method"] == method and r["sigma"] == key), None)
    return "" if r is None else fmt(r)


table = ["| method | digits | " + " | ".join(f"σ = {k}" for k in sigmas) + " |", "|---|---|" + "---|" * len(sigmas)]
for m in methods:
    digits = next(r["set"] for r in rows if r["method"] == m)
    table.append(f"| {m} | {digits} | " + " | ".join(
        cell(m, k, lambda r: f"{r['psnr']:.2f} / {100 * r['identity']:.1f}" + (" ★" if r.get("best_classical") else "")) for k in sigmas) + " |")
display(Markdown("**PSNR (dB) / identity kept (%)**\n\n" + "\n".join(table)))

# %% [markdown]
# The same numbers as curves, for the methods the book is about. "Best classical" follows the
# ★ choice at each $\sigma$; the supervised U-Nets, each trained at one noise level, are single
# points.

# %%
def series(pick) -> tuple[list[float], list[float], list[float]]:
    xs, ps, ids = [], [], []
    for k, s in quality["sigmas"].items():
        r = next((r for r in rows if r["sigma"] == k and pick(r)), None)
        if r is not None and k != "50/255":
            xs.append(s), ps.append(r["psnr"]), ids.append(100 * r["identity"])
    return xs, ps, ids


curves = {
    "noisy input": lambda r: r["method"] == "noisy input",
    "best classical (tuned)": lambda r: r.get("best_classical", False),
    "VAE": lambda r: r["method"].startswith("VAE"),
    "original procedure": lambda r: r["method"].startswith("original"),
    "posterior mean": lambda r: r["method"] == "posterior mean",
    "posterior mean, blind": lambda r: r["method"].startswith("posterior mean, blind"),
    "DDIM, 10 steps": lambda r: r["method"] == "DDIM, 10 steps",
    "ancestral sample": lambda r: r["method"].startswith("ancestral"),
    "supervised U-Net": lambda r: r["method"].startswith("supervised"),
}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
for name, pick in curves.items():
    xs, ps, ids = series(pick)
    style = "o" if name == "supervised U-Net" else "o-"
    ax1.plot(xs, ps, style, label=name, ms=4)
    ax2.plot(xs, ids, style, label=name, ms=4)
ax1.set(xlabel="noise level σ (pixel units)", ylabel="mean PSNR (dB)", title="Distortion")
ax2.set(xlabel="noise level σ (pixel units)", ylabel="identity kept (%)", title="Identity")
ax1.legend(fontsize=8)
for ax in (ax1, ax2):
    ax.grid(alpha=0.3)
plt.tight_layout()
plt.show()

# %%
def psnr_of(method_prefix: str, key: str) -> float:
    return next(r["psnr"] for r in rows if r["sigma"] == key and r["method"].startswith(method_prefix))


for key in ("0.1", "0.3", "0.5"):
    best = next(r for r in rows if r["sigma"] == key and r.get("best_classical"))
    print(f"σ = {key}: posterior mean {psnr_of('posterior mean', key):.2f} dB, best classical ({best['method']}) "
          f"{best['psnr']:.2f} dB, VAE {psnr_of('VAE', key):.2f} dB, original procedure {psnr_of('original', key):.2f} dB")

# %% [markdown]
# Three things stand out. The one-step posterior mean is the best *distortion* method at every
# noise level, as Tweedie's formula says it must be for a well-trained model: it is the
# minimum-mean-squared-error estimate. The original procedure, which starts the chain at one
# hand-picked step and feeds the noisy image in unscaled, comes closest to it near the noise
# level its step happens to match (step 100 of the linear T = 300 schedule is σ ≈ 0.32), and at
# low noise it *adds* noise: at σ = 0.05 its output is further from the clean digit than the
# noisy input. And the supervised U-Nets, the same network trained for one noise level only,
# land close to the diffusion model's posterior mean: one diffusion model does the job of a
# whole family of specialised denoisers.

# %% [markdown]
# ## All methods on the same 50 digits
#
# The samplers ran on `s50` only, so this is the table for comparing *them* with everything
# else: PSNR (dB) / SSIM, each cell on the same 50 digits.

# %%
table = ["| method | " + " | ".join(f"σ = {k}" for k in sigmas) + " |", "|---|" + "---|" * len(sigmas)]
for m in methods:
    table.append(f"| {m} | " + " | ".join(cell(m, k, lambda r: f"{r['s50']['psnr']:.2f} / {r['s50']['ssim']:.3f}") for k in sigmas) + " |")
display(Markdown("\n".join(table)))

# %% [markdown]
# ## The Soltanayev & Chun protocol (σ = 50/255)
#
# Soltanayev and Chun {cite}`soltanayev2018sure` report 25.36 dB on MNIST at σ = 50/255 for a
# stacked denoising autoencoder trained with clean targets, with outputs quantised to 8 bits and
# the PSNR computed from the MSE pooled over the whole set. The same protocol here:

# %%
table = ["| method | digits | pooled PSNR, uint8 output (dB) |", "|---|---|---|"]
for r in rows:
    if r["sigma"] == "50/255":
        table.append(f"| {r['method']} | {r['set']} | {r['psnr_pooled_uint8']:.2f} |")
display(Markdown(f"Their stacked denoising autoencoder: **{quality['soltanayev_sda_db']} dB**.\n\n" + "\n".join(table)))

# %% [markdown]
# ## Perception and distortion
#
# Chapter 5 predicted that, for an exact model, a sample from the posterior has twice the
# posterior mean's squared error, and the average of $K$ samples $1 + 1/K$ times it
# {cite}`blau2018perception`. Measured on `s50`:

# %%
pd = quality["perception_distortion"]
keys = [k for k in pd if k != "50/255"]
xs = [quality["sigmas"][k] for k in keys]
plt.figure(figsize=(6, 4))
plt.plot(xs, [pd[k]["ancestral_over_pm"] for k in keys], "o-", label="ancestral sample")
plt.plot(xs, [pd[k]["average_over_pm"] for k in keys], "s-", label="average of 8 samples")
plt.plot(xs, [pd[k]["ddim10_over_pm"] for k in keys], "^-", label="DDIM, 10 steps (deterministic)")
plt.axhline(2.0, color="k", ls="--", lw=1, label="exact model: sample (2)")
plt.axhline(1.125, color="gray", ls=":", lw=1, label="exact model: average of 8 (1.125)")
plt.xlabel("noise level σ")
plt.ylabel("MSE / MSE of the posterior mean")
plt.legend(fontsize=8)
plt.grid(alpha=0.3)
plt.show()
for k in keys:
    print(f"σ = {k:>4}: sample / posterior mean = {pd[k]['ancestral_over_pm']:.2f}, average of 8 / posterior mean = {pd[k]['average_over_pm']:.2f}")

# %% [markdown]
# ## Speed
#
# Images per second at σ = 0.3 on the machine named above, at batch 1 and batch 256, and how much
# the sampling loop costs beyond the network itself: the loop's time divided by (number of
# network evaluations × one bare forward pass). A ratio near 1 means the loop adds nothing.

# %%
table = ["| method | network evaluations per image | batch 1 (images/s) | batch 256 (images/s) |", "|---|---|---|---|"]
for name, v in speed["methods"].items():
    b1 = v.get("batch_1", {}).get("images_per_second", "")
    b256 = v.get("batch_256", {}).get("images_per_second", "not run (minutes of CPU)")
    table.append(f"| {name} | {v['nfe']} | {b1} | {b256} |")
display(Markdown("\n".join(table)))
table = ["| run | loop / (evaluations × bare forward) |", "|---|---|"]
for name, v in speed["overhead"].items():
    table.append(f"| {name} | {v['ratio']:.3f} |")
display(Markdown("\n".join(table)))

# %% [markdown]
# ## The same network in diffusers
#
# Users who already know 🤗 diffusers would drive a trained network with its `DDIMScheduler` or
# `DDPMScheduler`. The benchmark does exactly that with tinyddpm's network and schedule
# (diffusers' timestep $k$ is tinyddpm's grid step $k+1$), from the same start step, with the
# same number of steps and the same batch:

# %%
if "skipped" in versus:
    print(versus["skipped"])
else:
    table = ["| scheduler | steps | tinyddpm (s) | diffusers (s) | time ratio | PSNR tinyddpm (dB) | PSNR diffusers (dB) |", "|---|---|---|---|---|---|---|"]
    for name in ("DDIM", "DDPM ancestral"):
        r = versus[name]
        table.append(f"| {name} | {r['steps']} | {r['seconds_tinyddpm']:.2f} | {r['seconds_diffusers']:.2f} | "
                     f"{r['time_ratio_tinyddpm_over_diffusers']:.2f} | {r['psnr_tinyddpm']:.2f} | {r['psnr_diffusers']:.2f} |")
    display(Markdown(f"diffusers {versus['diffusers']}, batch {versus['batch']}, σ = {versus['sigma']:.4f} (t* = {versus['start_step']}).\n\n" + "\n".join(table)))
    print(f"largest pixel difference between the two DDIM results: {versus['DDIM']['max_abs_difference']:.1e}")

# %% [markdown]
# DDIM is deterministic, so the two libraries must produce the same images, and they do, to
# float precision. Ancestral sampling draws different noise in the two libraries, so only the
# PSNR over the batch can agree.

# %% [markdown]
# ## Sample quality
#
# Generating digits from pure noise is not this book's job, but it is the same network, and a
# denoiser that generates good digits has learned the data distribution. The Fréchet distance
# between the package classifier's 128-dimensional features of generated digits and of the
# 10,000 test digits ("classifier-feature FID") measures it; the same distance for real
# *training* digits is the floor, what a perfect generator would score with that many digits.
# FID is biased upward for small sets, so only rows with the same number of digits compare.

# %%
table = ["| run | FID | class counts 0-9 | total variation from uniform |", "|---|---|---|---|"]
for name, r in fid["runs"].items():
    table.append(f"| {name} | {r['fid']:.2f} | {' '.join(map(str, r['class_counts']))} | {r['class_tv_from_uniform']:.3f} |")
display(Markdown("\n".join(table)))

# %% [markdown]
# ## Reproducing and extending
#
# Every number above comes from `benchmarks/run.py` and the shipped models; rerunning it on a
# different machine changes the speed section and nothing else (all noise is seeded). To add a
# method, add one line to the `methods` table in `quality()`: a function from the noisy digits
# and $\sigma$ to denoised digits.
