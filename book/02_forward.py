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
# # The forward chain
#
# A diffusion model is defined by how it *destroys* an image. The forward process of DDPM
# {cite}`ho2020ddpm` is a Markov chain that, at every step t = 1, ..., T, shrinks the image a
# little and adds a little Gaussian noise:
#
# $$ q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\, x_{t-1},\ \beta_t I\big). $$
#
# Images live in model units, [-1, 1]. The package implements one step exactly as written:

# %%
import inspect

import matplotlib.pyplot as plt
import torch

import tinyddpm
from tinyddpm import diffusion, viz
from tinyddpm.schedules import NoiseSchedule

print(inspect.getsource(diffusion.q_step))

# %% [markdown]
# ## The closed form
#
# Write $\alpha_t = 1 - \beta_t$ and unroll two steps, with independent standard normal
# $\epsilon_{t-1}, \epsilon_t$:
#
# $$ x_t = \sqrt{\alpha_t}\, x_{t-1} + \sqrt{1-\alpha_t}\, \epsilon_t
#        = \sqrt{\alpha_t \alpha_{t-1}}\, x_{t-2} + \sqrt{\alpha_t (1-\alpha_{t-1})}\, \epsilon_{t-1} + \sqrt{1-\alpha_t}\, \epsilon_t . $$
#
# The two noise terms are independent Gaussians, so their sum is one Gaussian whose variance is
# $\alpha_t(1-\alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t\alpha_{t-1}$. By induction, with
# $\bar\alpha_t = \prod_{s \le t} \alpha_s$,
#
# $$ q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t) I\big), $$
#
# so any $x_t$ can be sampled in one shot: `q_sample`.

# %%
print(inspect.getsource(diffusion.q_sample))

# %% [markdown]
# ## Checking it numerically
#
# Take one real test digit, run the one-step chain 120 times for 20,000 independent copies, and
# compare the per-pixel mean and variance with the closed form. The deviations are measured in
# standard errors of the estimate, so values of a few are what chance alone produces.

# %%
schedule = NoiseSchedule.linear(300)
x, labels = tinyddpm.load_sample()
x0 = tinyddpm.to_model(x[0:1]).double()  # (1, 1, 28, 28)
g = torch.Generator().manual_seed(0)
n, t = 20000, 120
chain = x0.expand(n, -1, -1, -1).clone()
for k in range(1, t + 1):
    chain = diffusion.q_step(chain, k, torch.randn(chain.shape, generator=g, dtype=torch.float64), schedule)
ab = float(schedule.alpha_bar[t])
mean_true, var_true = ab**0.5 * x0[0], 1 - ab
z_mean = (chain.mean(0) - mean_true) / (var_true / n) ** 0.5
z_var = (chain.var(0) - var_true) / (var_true * (2 / (n - 1)) ** 0.5)
print(f"alpha_bar_{t} = {ab:.4f}")
print(f"largest mean deviation over 784 pixels:     {float(z_mean.abs().max()):.1f} standard errors")
print(f"largest variance deviation over 784 pixels: {float(z_var.abs().max()):.1f} standard errors")

# %% [markdown]
# Over 784 pixels the largest of 784 roughly standard-normal deviations is expected around 3:
# the chain and the closed form agree.
#
# ## Linear and cosine schedules
#
# How fast the signal fades is set by the betas. DDPM's linear schedule runs from
# $\beta_1 = 10^{-4}$ to $\beta_T = 0.02$; the cosine schedule of improved DDPM
# {cite}`nichol2021improved` sets $\bar\alpha_t$ directly so that the signal-to-noise ratio
# $\bar\alpha_t / (1-\bar\alpha_t)$ falls more evenly.

# %%
schedules = {
    "linear, T = 300 (the original project)": NoiseSchedule.linear(300),
    "linear, T = 1000 (DDPM paper)": NoiseSchedule.linear(1000),
    "cosine, T = 1000 (tinyddpm's model)": NoiseSchedule.cosine(1000),
}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, s in schedules.items():
    frac = torch.arange(s.T + 1) / s.T
    ab = s.alpha_bar
    axes[0].plot(frac, ab, label=name)
    axes[1].plot(frac[1:], torch.log10(ab[1:] / (1 - ab[1:])), label=name)
axes[0].set(xlabel="t / T", ylabel="alpha_bar_t", title="signal kept")
axes[1].set(xlabel="t / T", ylabel="log10 SNR", title="signal-to-noise ratio")
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %%
for name, s in schedules.items():
    print(f"{name:40s} alpha_bar_T = {float(s.alpha_bar[-1]):.3g}")

# %% [markdown]
# ## "Pure noise" that is not pure
#
# With T = 300 the linear schedule ends at $\bar\alpha_T \approx 0.048$: $x_T$ still holds
# $\sqrt{0.048} \approx 0.22$ of the digit. A model trained on that chain has only ever seen
# $x_T$ with a faint digit inside, yet generation starts from $x_T \sim \mathcal N(0, I)$,
# which has none. The mismatch costs sample quality; the cosine schedule with T = 1000 ends at
# $\bar\alpha_T \approx 2 \times 10^{-9}$, which is pure noise for all practical purposes.

# %%
s300 = schedules["linear, T = 300 (the original project)"]
digits = tinyddpm.to_model(x[[0, 100, 200, 300, 400, 500, 600, 700]])
x_T = diffusion.q_sample(digits, 300.0, torch.randn(digits.shape, generator=g), s300)
corr = [float(torch.corrcoef(torch.stack([a.flatten(), b.flatten()]))[0, 1]) for a, b in zip(x_T, digits)]
print("correlation of x_T with its digit:", [round(c, 2) for c in corr])
viz.comparison({"x_0": tinyddpm.to_pixels(digits), "x_300, linear": tinyddpm.to_pixels(x_T).clamp(0, 1)})

# %% [markdown]
# ## Every noise level is a step
#
# Adding noise of standard deviation $s$ (model units) to a clean image gives $y = x_0 + s n$,
# and $\sqrt{\bar\alpha_t}\, y$ has exactly the distribution of $x_t$ when
# $s^2 = (1-\bar\alpha_t)/\bar\alpha_t$. The package solves this for t, interpolating
# $\bar\alpha$ between grid steps so that the match is exact rather than rounded. That is the
# whole trick of chapter 5. In pixel units (images in [0, 1]) the model-space noise is twice the
# pixel sigma:

# %%
cos = schedules["cosine, T = 1000 (tinyddpm's model)"]
for sigma in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
    t_lin = float(tinyddpm.start_step(sigma, s300))
    t_cos = float(tinyddpm.start_step(sigma, cos))
    print(f"pixel sigma {sigma:4.2f}: t* = {t_lin:7.2f} of 300 (linear)   t* = {t_cos:7.2f} of 1000 (cosine)")
