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
# # Denoising a given image with any DDPM

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
# Three questions come back again and again in the issue trackers of
# [diffusers](https://github.com/huggingface/diffusers/issues) and
# [denoising-diffusion-pytorch](https://github.com/lucidrains/denoising-diffusion-pytorch/issues):
# *how do I start the reverse chain from my own noisy image instead of fresh noise; which
# timestep belongs to my noise level; and why does img2img's `strength` make my noisy image
# noisier?* This page answers them for any DDPM that predicts the noise $\epsilon$, first with
# a diffusers scheduler, then with tinyddpm, on the same network and the same digits. The
# reasons are in chapter 5; symbols are listed on the {doc}`notation` page.
#
# ## Which timestep belongs to my noise level?
#
# A noisy image $y = x + \sigma n$ in pixel units is $y = x_0 + 2\sigma n$ in model units, where
# the data lies in $[-1, 1]$: the range is twice as wide, so the noise is twice as large. The
# forward process gives $x_t/\sqrt{\bar\alpha_t} = x_0 + \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}\,\epsilon$,
# so $y$ *is* $x_t/\sqrt{\bar\alpha_t}$ at the step $t^*$ with
#
# $$ \frac{1-\bar\alpha_{t^*}}{\bar\alpha_{t^*}} = (2\sigma)^2, \qquad \bar\alpha_{t^*} = \frac{1}{1 + 4\sigma^2}, $$
#
# the change of variables between the variance-preserving chain and the variance-exploding view
# of Karras et al. {cite}`karras2022edm`. Forgetting the factor $2$ starts the chain at a step
# with a quarter of the noise variance. With a diffusers scheduler the lookup is one line on
# its `alphas_cumprod` (tinyddpm's schedule, handed to diffusers as `trained_betas`, so the two
# agree):

# %%
import torch

import tinyddpm
from tinyddpm.harness.interop import scheduler
from tinyddpm.metrics import psnr

model, schedule = tinyddpm.pretrained("ddpm")
ddim = scheduler(schedule, "ddim")  # diffusers' DDIMScheduler with tinyddpm's betas
sigma = 0.3
alphas_cumprod = ddim.alphas_cumprod  # diffusers' index k is step k + 1
k = int((alphas_cumprod - 1 / (1 + 4 * sigma**2)).abs().argmin())
print("diffusers index", k, "= step", k + 1, "| tinyddpm's fractional t*:", round(float(tinyddpm.start_step(sigma, schedule)), 2))

# %% [markdown]
# diffusers' timesteps are integers, so its chain starts on the grid step nearest $t^*$;
# tinyddpm interpolates $\bar\alpha$ and starts at the fractional $t^*$ itself.
#
# ## How do I start from my own image?
#
# Scale the image into the chain's state, $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$ (model units,
# *not* clipped first), and run the scheduler's steps from $t^*$ down instead of from $T$.
# Here is the whole loop with a diffusers scheduler; `eps_model(x, t)` stands for your
# network's noise prediction (for a diffusers `UNet2DModel` it is `unet(x, t).sample`):

# %%
def denoise_with_scheduler(eps_model, sched, y, k, steps):
    """Pixel-unit noisy digits y whose noise matches diffusers' index k: DDIM from there."""
    sched.set_timesteps(round(sched.config.num_train_timesteps * steps / (k + 1)))
    stride = sched.config.num_train_timesteps // sched.num_inference_steps
    x = sched.alphas_cumprod[k].sqrt() * (2 * y - 1)  # x_{t*} = sqrt(abar) y, model units
    for s in range(k, -1, -stride):  # k, k - stride, ..., the last step lands on abar = 1
        eps = eps_model(x, torch.full((len(x),), float(s + 1)))  # tinyddpm's step is s + 1
        x = sched.step(eps, s, x, eta=0.0, use_clipped_model_output=True).prev_sample
    return ((x + 1) / 2).clamp(0, 1)


# %% [markdown]
# The same network driven by `tinyddpm.denoise` on 64 of the bundled test digits, one noise
# draw, ten DDIM steps for both, and the posterior mean (one network call) beside them:

# %%
x = tinyddpm.load_sample()[0][::16]  # 64 test digits, pixel units
y = tinyddpm.add_noise(x, sigma, generator=tinyddpm.seeded(0))
with torch.no_grad():
    theirs = denoise_with_scheduler(model, ddim, y, k, steps=10)
ours = tinyddpm.denoise(y, sigma, method="ddim", steps=10, precision="fp32")
mean = tinyddpm.denoise(y, sigma, precision="fp32")
outputs = {"noisy": y.clamp(0, 1), "diffusers": theirs, "tinyddpm": ours, "mean": mean}
db = {name: float(psnr(out, x).mean()) for name, out in outputs.items()}
print({name: round(v, 2) for name, v in db.items()})

# %% tags=["hide-input"]
from myst_nb import glue

glue("faq_sigma", sigma, display=False)
glue("faq_k", k, display=False)
glue("faq_t_star", float(tinyddpm.start_step(sigma, schedule)), display=False)
for name, v in db.items():
    glue(f"faq_psnr_{name}", v, display=False)
gap = abs(db["diffusers"] - db["tinyddpm"])
glue("faq_gap", gap, display=False)

# %% [markdown]
# The diffusers loop scores {glue:text}`faq_psnr_diffusers:.2f` dB and `tinyddpm.denoise`
# {glue:text}`faq_psnr_tinyddpm:.2f` dB (a difference of {glue:text}`faq_gap:.2f` dB, from the
# integer start step and its stride), up from {glue:text}`faq_psnr_noisy:.2f` dB for the noisy
# input; the posterior mean, one call at $t^*$, scores {glue:text}`faq_psnr_mean:.2f` dB.
# Chapter 5 explains why the mean wins on this measure and what a sample buys instead. The
# idea of starting the chain in the middle is as old as DDPM: Ho et al.'s figure 7
# {cite}`ho2020ddpm` and SDEdit {cite}`meng2022sdedit` start from an intermediate step, and
# Carlini et al. {cite}`carlini2023certified` map a noise level to its step and take one
# Tweedie step, exactly the posterior mean here.
#
# ## Why does img2img's `strength` make it worse?
#
# An img2img pipeline treats its input as a *clean* image: it picks the step
# $t = \text{strength} \cdot T$ and draws $x_t = \sqrt{\bar\alpha_t}\,y + \sqrt{1-\bar\alpha_t}\,\epsilon$
# with fresh noise $\epsilon$ (SDEdit). Given an image that is already noisy, the two noises add:
# the state's noise, in the variance-exploding view, is $\sqrt{(2\sigma)^2 + (1-\bar\alpha_t)/\bar\alpha_t}$
# instead of $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$, which at $t = t^*$ is $\sqrt 2$ times too much
# for the step the chain believes it is at. Matching the noise means adding none: scale, do not
# noise.

# %%
ab = alphas_cumprod[k]
fresh = torch.randn(y.shape, generator=tinyddpm.seeded(1))
y_img2img = y + ((1 - ab) / ab).sqrt() * fresh / 2  # what strength = t*/T adds, pixel units
with torch.no_grad():
    img2img = denoise_with_scheduler(model, ddim, y_img2img, k, steps=10)
db["img2img"] = float(psnr(img2img, x).mean())
print(round(db["img2img"], 2), "dB with fresh noise on top vs", round(db["diffusers"], 2), "without")

# %% tags=["hide-input"]
import matplotlib.pyplot as plt

glue("faq_psnr_img2img", db["img2img"], display=False)
glue("faq_img2img_cmp", "below" if db["img2img"] < db["diffusers"] else "above", display=False)
rows = {"noisy y": y, "from t*": theirs, "img2img": img2img, "clean": x}
fig, axes = plt.subplots(len(rows), 8, figsize=(8, 4.4))
for r, (name, imgs) in enumerate(rows.items()):
    for c in range(8):
        axes[r, c].imshow(imgs[c, 0].clamp(0, 1), cmap="gray", vmin=0, vmax=1)
        axes[r, c].set_xticks([]), axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name, fontsize=9)
fig.suptitle(f"sigma = {sigma}: the same ten DDIM steps under diffusers' scheduler", fontsize=10)
plt.tight_layout()

# %% [markdown]
# With the fresh noise on top, the same ten steps from the same step score
# {glue:text}`faq_psnr_img2img:.2f` dB, {glue:text}`faq_img2img_cmp` the
# {glue:text}`faq_psnr_diffusers:.2f` dB of the matched start: the chain removes the noise of
# step $t^*$ and leaves the rest in the digit. If you must use an img2img pipeline, give it the
# image scaled into $x_{t^*}$ and skip its noising step, or, equivalently, use its scheduler
# directly as above.
#
# ## The recipe in four lines
#
# 1. Pixel $\sigma$ to model units: $2\sigma$ (data in $[-1, 1]$).
# 2. The step: $\bar\alpha_{t^*} = 1/(1 + 4\sigma^2)$ (on an integer grid, the nearest step).
# 3. The state: $x_{t^*} = \sqrt{\bar\alpha_{t^*}}\,y$, with $y$ in model units and never clipped.
# 4. The chain from $t^*$ to $0$ with no fresh noise added at the start; or one Tweedie step,
#    $\hat x_0 = (x_{t^*} - \sqrt{1-\bar\alpha_{t^*}}\,\hat\epsilon)/\sqrt{\bar\alpha_{t^*}}$, for the
#    posterior mean.
#
# Not sure of $\sigma$? Chapter 6 estimates it from the image; `tinyddpm.denoise(y, "auto")`
# does both.
