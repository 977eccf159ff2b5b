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
# # Playground

# %% tags=["colab-setup"]
# Colab setup: installs tinyddpm (this release, with the book's extras) when this notebook runs
# in Colab; does nothing elsewhere.
import subprocess
import sys

if "google.colab" in sys.modules:
    SPEC = "tinyddpm[book] @ git+https://github.com/tinyddpm/tinyddpm@v0.1.0"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", SPEC], check=True)

# %% [markdown]
# A page to play with. Pick a digit, a noise level, a method, a number of steps and a seed, and
# watch the denoiser work. The controls need a running Python kernel: open this page in Colab
# (the rocket button at the top) or in Jupyter and run it top to bottom. On the HTML page there is
# no kernel, so the controls cannot redraw anything; there a static picture of their default view
# stands in, drawn by the same function (see [the default view](default-view) below).

# %%
import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch

import tinyddpm
from tinyddpm.denoise import METHODS
from tinyddpm.metrics import predict_labels, psnr

model, schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
x, labels = tinyddpm.load_sample()  # 1,000 test digits in [0, 1]

# %% [markdown]
# ## The drawing function
#
# One call draws one view: the clean digit, its noisy version, the denoised digit and the
# absolute error, each titled with its PSNR and the classifier's reading of it. $\sigma$ is in
# pixel units. Each digit has one fixed noise pattern, so moving $\sigma$ scales the same noise;
# `seed` drives only the sampler's own randomness. The methods are those of chapter 5: the one-step
# posterior mean, DDIM and ancestral sampling from the matched step $t^*$ in `steps` steps, and
# the average of 8 ancestral samples. `steps` does nothing for the posterior mean, which is
# always one network evaluation. For the average, the noisy digit is copied 8 times and the
# copies go through the ancestral sampler as one batch; each copy gets its own random numbers
# (`denoise` derives one generator per image from `seed`), so that is 8 independent samples, the
# same thing `method="average"` computes, only batched. Everything runs on one digit; how long
# a redraw takes is measured below the controls.

# %%
DEFAULTS = {"index": 0, "sigma": 0.5, "method": "ddim", "steps": 10, "seed": 0}
MAX_STEPS = 30  # the steps slider's largest value


def draw(index: int, sigma: float, method: str, steps: int, seed: int) -> plt.Figure:
    clean = x[index : index + 1]
    noisy = tinyddpm.add_noise(clean, sigma, generator=tinyddpm.seeded(index))  # one fixed noise pattern per digit
    if method == "average":  # 8 ancestral samples of this digit, run as one batch of 8 copies
        copies = noisy.expand(8, -1, -1, -1)
        out = tinyddpm.denoise(copies, sigma, model=model, schedule=schedule, method="ancestral", steps=steps, seed=seed)
        out = out.mean(0, keepdim=True)
    else:
        out = tinyddpm.denoise(noisy, sigma, model=model, schedule=schedule, method=method,
                               steps=None if method == "posterior_mean" else steps, seed=seed)
    t_star = float(tinyddpm.start_step(sigma, schedule))
    panels = [("clean", clean), ("noisy", noisy), (method, out), ("|error|", (out - clean).abs())]
    fig, axes = plt.subplots(1, 4, figsize=(6.8, 2.6))  # the book's text column: 10 pt text stays 10 pt
    for ax, (name, img) in zip(axes, panels):
        ax.imshow(img[0, 0].clamp(0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([]), ax.set_yticks([])
        if name == "clean":
            ax.set_title(f"clean\n(label {int(labels[index])})", fontsize=10)
        elif name == "|error|":
            ax.set_title("|denoised − clean|\n(white = 1)", fontsize=10)
        else:
            reads = int(predict_labels(classifier, img)[0])
            ax.set_title(f"{name}\n{float(psnr(img, clean)):.1f} dB, reads {reads}", fontsize=10)
    fig.suptitle(f"digit {index}, σ = {sigma:.2f} (t* = {t_star:.0f} of {schedule.T}), {method}"
                 f"{'' if method == 'posterior_mean' else f', {steps} steps'}, seed {seed}", fontsize=11)
    fig.tight_layout()
    return fig


# %% [markdown]
# ## The controls
#
# Sliders redraw when you let go of them. (When this page is executed without a front end, for
# the HTML book or the tests, the cell below builds the controls and draws nothing visible.)

# %% tags=["nbval-ignore-output", "remove-output"]
controls = widgets.interactive(
    draw,
    index=widgets.IntSlider(value=DEFAULTS["index"], min=0, max=len(x) - 1, description="digit", continuous_update=False),
    sigma=widgets.FloatSlider(value=DEFAULTS["sigma"], min=0.05, max=1.0, step=0.05, description="sigma", continuous_update=False),
    method=widgets.Dropdown(value=DEFAULTS["method"], options=list(METHODS), description="method"),
    steps=widgets.IntSlider(value=DEFAULTS["steps"], min=1, max=MAX_STEPS, description="steps", continuous_update=False),
    seed=widgets.IntSlider(value=DEFAULTS["seed"], min=0, max=20, description="seed", continuous_update=False),
)
controls

# %% [markdown]
# How long one redraw takes here, for each method at the largest number of steps the slider
# allows, on the default digit: {glue:text}`redraw_posterior_mean:.1f` s for the posterior mean,
# {glue:text}`redraw_ddim:.1f` s for DDIM, {glue:text}`redraw_ancestral:.1f` s for ancestral
# sampling and {glue:text}`redraw_average:.1f` s for the average (figure included; measured when
# this page was executed, so a different machine gives different times).

# %% tags=["nbval-ignore-output", "remove-output"]
import time

from myst_nb import glue

for method in METHODS:
    t0 = time.perf_counter()
    plt.close(draw(**{**DEFAULTS, "method": method, "steps": MAX_STEPS}))
    seconds = time.perf_counter() - t0
    glue(f"redraw_{method}", seconds, display=False)
    print(f"{method}: {seconds:.2f} s")

# %% [markdown]
# (default-view)=
# ## The default view
#
# This is what the controls above show before you touch them, drawn by the same `draw` with
# the default values and saved as `figures/playground.png`. On the HTML page it stands in for the
# live controls.

# %%
from pathlib import Path

fig = draw(**DEFAULTS)
Path("figures").mkdir(exist_ok=True)
fig.savefig(Path("figures") / "playground.png", dpi=100)
plt.show()

# %% [markdown]
# ## Things to try
#
# - **Push $\sigma$ up** on one digit until the reading in the title changes: that is the
#   identity flip of chapters 5 and 7. Which digits give up first?
# - **Change the seed** with the method set to `ancestral`: the same noisy image gives a
#   slightly different clean digit each time, because ancestral sampling *samples* the
#   posterior; at large $\sigma$, see whether the samples still agree on the digit. With
#   `posterior_mean` or `ddim` (deterministic, $\eta = 0$) the seed changes nothing.
# - **Compare methods at the same seed**: the posterior mean is the blurriest and has the best
#   PSNR on average; the samples are sharper and a little worse in PSNR (the perception-distortion
#   trade-off of chapter 5); the average of 8 samples sits in between.
# - **Set DDIM to one step.** A single DDIM step from $t^*$ to $0$ lands on the network's estimate of
#   $x_0$, which is the posterior mean. The cell below checks it:

# %%
noisy = tinyddpm.add_noise(x[:8], 0.5, generator=tinyddpm.seeded(0))
one_step = tinyddpm.denoise(noisy, 0.5, model=model, schedule=schedule, method="ddim", steps=1)
posterior_mean = tinyddpm.denoise(noisy, 0.5, model=model, schedule=schedule)
print(f"one DDIM step equals the posterior mean (to 1e-5): {bool(torch.allclose(one_step, posterior_mean, atol=1e-5))}")
