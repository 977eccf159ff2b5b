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
# # Denoising with a diffusion model
#
# Chapter 2 ended with an identity: for a clean digit $x_0$ (model units) and Gaussian noise of
# standard deviation $s$,
#
# $$ y = x_0 + s\,n \quad\Longrightarrow\quad \sqrt{\bar\alpha_{t^*}}\; y \;\sim\; q(x_{t^*} \mid x_0)
#    \qquad\text{when}\qquad \bar\alpha_{t^*} = \frac{1}{1+s^2}. $$
#
# A noisy image *is* a point of the forward chain. So the trained reverse chain can take over
# from $t^*$: no new training, no new model. This chapter measures what that gives.

# %%
import torch

import tinyddpm
from tinyddpm import viz
from tinyddpm.evaluate import evaluate_denoiser, noisy_set
from tinyddpm.metrics import psnr

model, schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
x, labels = tinyddpm.load_sample()  # 1,000 test digits, 100 per class
print(f"schedule: {schedule.kind}, T = {schedule.T}")

# %% [markdown]
# ## From sigma to t*
#
# Users speak in pixel units (images in [0, 1]); the model works in [-1, 1], where the same
# noise has twice the standard deviation. `start_step` solves $\bar\alpha_{t^*} = 1/(1+4\sigma^2)$
# on the interpolated schedule; t* is usually fractional, and the model, trained on continuous
# t, is evaluated exactly there.

# %%
for sigma in (0.1, 0.2, 0.3, 0.5):
    t_star = float(tinyddpm.start_step(sigma, schedule))
    ab = float(schedule.alpha_bar_at(t_star))
    print(f"sigma {sigma:.1f}: t* = {t_star:8.3f}   alpha_bar = {ab:.4f}   check: sqrt((1 - ab) / ab) / 2 = {((1 - ab) / ab) ** 0.5 / 2:.4f}")

# %% [markdown]
# ## One step: the posterior mean
#
# With the noise prediction at $x_{t^*}$, Tweedie's formula {cite}`efron2011tweedie,miyasawa1961`
# gives the minimum-mean-squared-error estimate in one network evaluation:
#
# $$ \hat x_0 = \mathbb E[x_0 \mid y] = \frac{x_{t^*} - \sqrt{1-\bar\alpha_{t^*}}\,\epsilon_\theta(x_{t^*}, t^*)}{\sqrt{\bar\alpha_{t^*}}}. $$

# %%
sigma = 0.3
y = noisy_set(x, sigma)
pick = torch.stack([torch.nonzero(labels == c)[0, 0] for c in range(10)])
pm = tinyddpm.denoise(y, sigma, model=model, schedule=schedule)
print(f"noisy input:    {float(psnr(y, x).mean()):.2f} dB")
print(f"posterior mean: {float(psnr(pm, x).mean()):.2f} dB  (1,000 digits)")
viz.comparison({"clean": x[pick], "noisy": y[pick], "posterior mean": pm[pick]})

# %% [markdown]
# ## Running the chain from t*
#
# The posterior mean averages over every clean digit that could have produced $y$; it is the
# best estimate in squared error and, for that reason, blurry where the noise leaves doubt. The
# reverse chain started at $x_{t^*}$ instead *samples* one such digit. DDIM {cite}`song2021ddim`
# does it deterministically in a few steps; ancestral DDPM sampling takes every unit step down
# from t*, adding fresh noise each time; and averaging K ancestral samples moves back towards
# the posterior mean. Starting the chain from a noisy image is the idea of SDEdit
# {cite}`meng2022sdedit`; here the start is the matched step t*, not a guess.

# %%
few = x[pick]
y_few = y[pick]
rows = {"clean": few, "noisy": y_few, "posterior mean": pm[pick]}
for name, kw in {
    "DDIM, 10 steps": {"method": "ddim", "steps": 10},
    "ancestral": {"method": "ancestral"},
    "average of 8": {"method": "average", "samples": 8},
}.items():
    rows[name] = tinyddpm.denoise(y_few, sigma, model=model, schedule=schedule, seed=0, **kw)
    print(f"{name:15s} {float(psnr(rows[name], few).mean()):.2f} dB on these 10 digits")
viz.comparison(rows)
