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
# # Learning the reverse chain

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
# The forward chain of chapter 2 turns a digit into noise. To generate digits, or to clean a
# noisy one, we need the reverse steps $q(x_{t-1} \mid x_t)$. These depend on what digits look
# like: from a noisy $x_t$ alone, where the ink was is a question about the data. But with the
# clean digit in hand the reverse step is simple. By Bayes' rule on Gaussians,
# $q(x_{t-1} \mid x_t, x_0)$ is a Gaussian whose mean is a fixed blend of $x_t$ and $x_0$
# (DDPM {cite}`ho2020ddpm`, Eqs. 6-7; `tinyddpm.diffusion.q_posterior`). So everything hinges on
# one learned ingredient: a guess of $x_0$ from $x_t$. This chapter is about learning it.

# %%
import csv
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue

import tinyddpm
from tinyddpm import diffusion, viz
from tinyddpm.analytic import GaussianEps, gaussian_posterior
from tinyddpm.book_data import HTMLTable, results_path
from tinyddpm.checkpoint import load_model, pretrained_path
from tinyddpm.metrics import psnr
from tinyddpm.train import quick_config, train
from tinyddpm.unet import num_parameters, summary




x, labels = tinyddpm.load_sample()  # 1,000 MNIST test digits in [0, 1], 100 per class

# %% [markdown]
# ## The epsilon objective
#
# DDPM does not ask the network for $x_0$ directly. By the closed form of chapter 2, a training
# example is made as $x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \epsilon$, and the
# network $\epsilon_\theta(x_t, t)$ is asked for the noise $\epsilon$ that was added. The loss is
# plain mean squared error, averaged over digits, timesteps and noise:
#
# $$ L_{\text{simple}} = \mathbb E_{x_0,\, t,\, \epsilon}\, \big\lVert \epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\, \epsilon,\ t\big) \big\rVert^2 . $$
#
# That is all of training: draw a digit, a timestep and a noise image, make $x_t$ in one shot,
# and regress. The package's version, at continuous $t$, is the one loss that training calls:
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: loss
# ```
#
# ## Why predicting the noise is denoising
#
# Three lines explain why this innocent regression produces a denoiser, at every noise level
# at once.
#
# 1. **A squared-error regression learns the conditional mean.** For each $(x_t, t)$ the loss is
#    minimised by $\epsilon^*(x_t, t) = \mathbb E[\epsilon \mid x_t]$, the average of all the noises
#    that could have produced this $x_t$ (from all the digits that could lie under it).
# 2. **The closed form is linear**, so the conditional mean of $x_0$ follows from that of
#    $\epsilon$:
#
#    $$ \hat x_0(x_t, t) = \frac{x_t - \sqrt{1-\bar\alpha_t}\, \epsilon^*(x_t, t)}{\sqrt{\bar\alpha_t}} = \mathbb E[x_0 \mid x_t]. $$
#
#    This is the minimum-mean-squared-error (MMSE) estimate of the clean digit. Tweedie's
#    formula {cite}`efron2011tweedie,miyasawa1961` says the same thing in another language:
#    $\mathbb E[x_0 \mid x_t] = \big(x_t + (1-\bar\alpha_t)\nabla \log p_t(x_t)\big)/\sqrt{\bar\alpha_t}$, so
#    $\epsilon^* = -\sqrt{1-\bar\alpha_t}\, \nabla\log p_t(x_t)$: the noise predictor is a scaled
#    *score*, the direction in which noisy digits become more probable.
# 3. **The losses are the same up to a weight.** Substituting $\hat x_0$ and $x_0$ into the closed
#    form, $\lVert \hat x_0 - x_0 \rVert^2 = \frac{1-\bar\alpha_t}{\bar\alpha_t}\, \lVert \hat\epsilon - \epsilon \rVert^2$
#    exactly. Minimising the noise error at step $t$ *is* minimising the denoising error at noise
#    level $\sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$, weighted by the signal-to-noise ratio
#    $\bar\alpha_t/(1-\bar\alpha_t)$.
#
# Since $t$ is an input, one network is an MMSE denoiser for every noise level the schedule
# covers. The conversion of the second point is `predict_x0`:
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: predict_x0
# ```
#
# We can check the second point where the answer is known in closed form. If the "digits" were
# Gaussian, $x_0 \sim \mathcal N(\mu, s^2 I)$, the optimal noise predictor
# $\mathbb E[\epsilon \mid x_t]$ is a linear function (`tinyddpm.analytic.GaussianEps`), and the
# MMSE denoiser of $y = x_0 + \sigma n$ is the classical Wiener filter
# $\mu + \frac{s^2}{s^2+\sigma^2}(y - \mu)$. Feeding the optimal noise predictor through
# `predict_x0` must give the Wiener filter, at every noise level:

# %%
cosine = tinyddpm.NoiseSchedule.cosine(1000)
mu, s = -0.5, 0.6  # a Gaussian stand-in for the data, model units
ideal = GaussianEps(cosine, mu, s)
g = tinyddpm.seeded(0)
x0 = mu + s * torch.randn(500, 1, 28, 28, generator=g, dtype=torch.float64)
for t in (50.0, 300.0, 700.0):
    ab = float(cosine.alpha_bar_at(t))
    x_t = diffusion.q_sample(x0, t, torch.randn(x0.shape, generator=g, dtype=torch.float64), cosine)
    via_eps = diffusion.predict_x0(x_t, t, ideal(x_t, torch.full((500,), t)), cosine)
    wiener, _ = gaussian_posterior(x_t / ab**0.5, ((1 - ab) / ab) ** 0.5, mu, s)
    agree = bool(torch.allclose(via_eps, wiener, rtol=0, atol=1e-12))
    print(f"t = {t:3.0f} (noise level {((1 - ab) / ab) ** 0.5:5.3f}): equals the Wiener filter to 1e-12: {agree}")

# %% [markdown]
# They agree to rounding error. Real digits are not Gaussian, so no formula gives
# $\mathbb E[x_0 \mid x_t]$; that is what the network is for.
#
# ### The student's L1 loss
#
# The project this book answers trained with the absolute error $\lvert\epsilon - \epsilon_\theta\rvert$
# instead of the square. The first point above then changes: an absolute error is minimised by
# the conditional *median* of $\epsilon$, pixel by pixel, not its mean, and the formula of the
# second point turns a median of $\epsilon$ into something that is not $\mathbb E[x_0 \mid x_t]$.
# Where the posterior is symmetric (the Gaussian case above) median and mean coincide. On a
# digit they part ways on the black background, where $x_0$ cannot go below $0$ and the
# posterior is one-sided. `benchmarks/l1_vs_l2.py` trains the shipped recipe twice from scratch,
# equal but for the loss, and denoises the bundled digits with each:

# %% tags=["remove-input"]
from tinyddpm.book_data import read_json

l1l2 = read_json("l1_vs_l2.json")
models = l1l2["models"]
rows = []
for name, title in (("l2", "L2 (L_simple)"), ("l1", "L1 (the student's)")):
    pm = models[name]["posterior_mean"]
    rows.append([title] + [(f"{v['psnr']:.2f}", f"{v['mean_on_background']:.4f}") for v in pm.values()])
gap = [models["l2"]["posterior_mean"][k]["psnr"] - models["l1"]["posterior_mean"][k]["psnr"]
       for k in models["l2"]["posterior_mean"]]
glue("l1_cost_min", min(gap), display=False)
glue("l1_cost_max", max(gap), display=False)
glue("l1l2_steps", models["l1"]["run"]["steps"], display=False)
HTMLTable(["loss"] + [f"σ = {k}" for k in models["l2"]["posterior_mean"]], rows,
          caption=f"posterior-mean PSNR (dB, first line) and mean output on the clean background (second "
                  f"line), {l1l2['digits']} bundled digits")

# %% [markdown]
# After {glue:text}`l1l2_steps:d` steps each, the L1 model's posterior mean is
# {glue:text}`l1_cost_min:.2f` to {glue:text}`l1_cost_max:.2f` dB further from the clean digits
# at every noise level, and its background is darker: the median does not spread the grey haze
# of "maybe a stroke here" that the mean does. That is what a median is for, and why the
# student's outputs looked crisp; for the estimate that minimises the squared error, which is
# what PSNR measures and what the rest of this book builds on, the loss has to be the square.
#
# ## The network: a small U-Net
#
# $\epsilon_\theta$ must map a $28 \times 28$ image and a timestep to a $28 \times 28$ image. tinyddpm
# uses the DDPM paper's design, scaled down: a U-Net whose encoder halves the resolution twice
# ($28 \to 14 \to 7$) and whose decoder climbs back, with *skip connections* that hand each
# decoder level the encoder's features at the same resolution, so fine detail does not have to
# squeeze through the $7 \times 7$ bottleneck. The timestep enters as a sinusoidal embedding
# passed through a small MLP and added inside every residual block; so does an optional class
# label (chapter 7), with an extra "null" label for "no label". Self-attention at $7 \times 7$
# lets every position see the whole digit. The output layer starts at zero, so an untrained
# network predicts $\hat\epsilon = 0$.
#
# The pretrained model's configuration, and a summary generated from the code by running one
# input through it with forward hooks (`tinyddpm.unet.summary`):

# %%
model, schedule = tinyddpm.pretrained("ddpm")
_, _, info = load_model(pretrained_path("ddpm"))  # the shipped weights file also records how it was trained
print("\n".join(textwrap.wrap(repr(model.config), 76, subsequent_indent="    ")))
modules = dict(model.named_modules())
shape = lambda size: "x".join(map(str, size[1:])) or "label"  # noqa: E731  (drops the batch dimension)
rows = [[r.name, r.kind, shape(r.input_shape), shape(r.output_shape), f"{num_parameters(modules[r.name]):,}"]
        for r in summary(model)]
time_row = next(r for r in summary(model) if r.name == "time_mlp")
glue("time_in", time_row.input_shape[-1], display=False)
glue("time_out", time_row.output_shape[-1], display=False)
glue("params", num_parameters(model), display=False)
HTMLTable(["block", "kind", "input", "output", "parameters"], rows + [["total", "", "", "", f"{num_parameters(model):,}"]])

# %% [markdown]
# Read the table top to bottom: the time embedding ({glue:text}`time_in` sinusoids to
# {glue:text}`time_out` numbers) and the class embedding come first; `down.*` blocks keep or
# widen the channels and the strided `down` convolutions halve the size; the middle works at
# $7 \times 7$; every `up.*` block receives more channels than the block before it produced,
# because the matching encoder output is concatenated to its input (the skip connection); the
# `up` convolutions follow a nearest-neighbour doubling of the size. In all,
# {glue:text}`params:,d` parameters. Each residual block is:
#
# ```{literalinclude} /src/tinyddpm/unet.py
# :pyobject: ResBlock.forward
# :dedent:
# ```
#
# ## Training, live
#
# The shipped model trained for {glue:text}`shipped_minutes:.0f` minutes (below). Here is the
# same training loop, `tinyddpm.train`, on a much smaller network ({glue:text}`live_base`
# base channels, {glue:text}`live_levels` resolution levels instead of
# {glue:text}`shipped_levels`), {glue:text}`live_steps` steps of {glue:text}`live_batch` images,
# on the digits bundled with the package: {glue:text}`n_train:,d` of them, keeping
# {glue:text}`n_held:,d` (ten of each class) aside to evaluate it on digits it never saw. No
# download is needed.
#
# Two details of the recipe, both visible in the printed configuration. Timesteps are drawn
# half uniformly on $[0, T]$ and half at noise levels spread log-uniformly over a range of pixel
# sigmas (`t_sampling="mixture"`): a weighting of the loss that spends more of the budget on
# the noise levels at which the model will serve as a denoiser. And a fraction `p_uncond` of the
# labels is replaced by the null label, so that one network learns both with and without
# labels (chapter 7 uses both).
#
# One step of the loop is `train_step`: `diffusion.loss` from above, under bfloat16 autocast,
# then backpropagation, gradient clipping, the AdamW step and the update of the exponential
# moving average (EMA) of the weights that the shipped model is made of:
#
# ```{literalinclude} /src/tinyddpm/train.py
# :pyobject: train_step
# ```
#
# The run writes its log into a temporary folder, which we read back:

# %%
held_out = torch.cat([torch.nonzero(labels == c)[:10, 0] for c in range(10)])  # 100 digits, 10 per class
keep = torch.ones(len(x), dtype=torch.bool)
keep[held_out] = False
data = ((x[keep, 0] * 255).round().to(torch.uint8), labels[keep])  # uint8 (900, 28, 28), labels (900,)
cfg = quick_config(steps=200, lr=2e-3, checkpoint_every=200)
settings = cfg.to_dict()
for k in ("steps", "batch_size", "lr", "warmup_steps", "t_sampling", "sigma_range", "p_uncond"):
    print(f"{k:14s} {settings[k]}")
for k in ("base_channels", "channel_mults", "num_res_blocks"):
    print(f"unet.{k:9s} {settings['unet'][k]}")
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as run_dir:
    weights = train(cfg, run_dir, data=data, progress=False)
    with open(Path(run_dir) / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    tiny, _, _ = load_model(weights)
train_seconds = time.perf_counter() - t0
loss = torch.tensor([float(r["loss"]) for r in log])
smooth = torch.nn.functional.avg_pool1d(loss[None, None], 10, stride=1)[0, 0]  # running mean of 10 steps
print(f"{num_parameters(tiny):,} parameters, trained on {len(data[0])} digits")
print(f"mean loss, first 10 steps: {float(loss[:10].mean()):.1f};  last 50 steps: {float(loss[-50:].mean()):.1f}")
glue("n_train", len(data[0]), display=False)
glue("n_held", len(held_out), display=False)
glue("live_steps", cfg.steps, display=False)
glue("live_batch", cfg.batch_size, display=False)
glue("live_base", cfg.unet.base_channels, display=False)
glue("live_levels", len(cfg.unet.channel_mults), display=False)
glue("shipped_levels", len(model.config.channel_mults), display=False)
glue("shipped_minutes", round(info.get("total_wall_time_s", info["wall_time_s"]) / 60), display=False)
glue("loss_first", round(float(loss[:10].mean()), 1), display=False)  # 1 decimal: stable across CPUs
glue("loss_last", round(float(loss[-50:].mean()), 1), display=False)
plt.figure(figsize=(6, 3.4))
plt.plot(range(1, len(loss) + 1), loss, lw=0.6, alpha=0.5, label="per step")
plt.plot(range(10, len(loss) + 1), smooth, label="running mean of 10")
plt.axhline(1.0, color="k", ls=":", lw=1, label="predicting 0")
plt.xlabel("training step"), plt.ylabel("L_simple (per pixel)"), plt.ylim(0, 1.2), plt.legend()
plt.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output"]
glue("train_seconds", round(train_seconds), display=False)  # wall time: differs from run to run

# %% [markdown]
# On the machine that built this page the training took {glue:text}`train_seconds` seconds.
# The loss starts near $1$ (its mean over the first ten steps is
# {glue:text}`loss_first:.1f`): the zero-initialised output predicts $\hat\epsilon = 0$, and the
# noise has unit variance. It falls fast, to {glue:text}`loss_last:.1f` over the last fifty
# steps, because part of the task is easy. At large $t$, $x_t$ is mostly noise, and "the noise is
# roughly $x_t$" is already a good answer; at small $t$ the noise is a faint film on a clean
# digit and must be told apart from the digit's own texture. Each batch mixes timesteps at
# random, which is why the per-step loss is so jumpy.
#
# ## The pretrained model, one noise level at a time
#
# A single number hides where the loss comes from. Below, both models (asked without a label)
# are scored separately at a range of noise levels on the {glue:text}`n_held` held-out digits,
# with one fixed draw of the noise: the loss $\lVert\hat\epsilon - \epsilon\rVert^2$ per pixel,
# and the same predictions converted by `predict_x0` into denoised digits, scored by PSNR
# against the clean digit. The noise level is given as the pixel-unit $\sigma$ of the
# equivalent noisy photograph $y = x_t/\sqrt{\bar\alpha_t}$ (chapter 2).

# %%
for stage in ([info["init_run"]] if "init_run" in info else []) + [info]:  # a fine-tune records its start
    tc = stage["train_config"]
    print(f"pretrained model: {stage['steps']:,} steps of {tc['batch_size']} images ({stage['images_seen']:,} seen),")
    print(f"  lr {tc['lr']}, p_uncond {tc['p_uncond']}")
print(f"{tc['schedule']['kind']} schedule, T = {tc['schedule']['T']}")

digits = tinyddpm.to_model(x[held_out])  # 100 digits, 10 of each class, none of them trained on live
noise = torch.randn(digits.shape, generator=tinyddpm.seeded(0))
pixel_sigmas = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
results = {"pretrained": [], "live": []}
noisy_psnr, body = [], []
with torch.no_grad():
    for sig in pixel_sigmas:
        t = float(tinyddpm.start_step(sig, schedule))
        x_t = diffusion.q_sample(digits, t, noise, schedule)
        noisy_db = float(psnr(tinyddpm.to_pixels(digits + 2 * sig * noise), tinyddpm.to_pixels(digits)).mean())
        noisy_psnr.append(noisy_db)
        for name, net in (("pretrained", model), ("live", tiny)):
            eps = net(x_t, torch.full((len(digits),), t))
            x0_hat = diffusion.predict_x0(x_t, t, eps, schedule)
            mse = float(((eps - noise) ** 2).mean())
            db = float(psnr(tinyddpm.to_pixels(x0_hat), tinyddpm.to_pixels(digits)).mean())
            results[name].append((mse, db))
        (m_pre, db_pre), (m_live, db_live) = results["pretrained"][-1], results["live"][-1]
        body.append([f"{sig:.2f}", f"{t:.1f}", f"{noisy_db:.2f}", f"{m_pre:.3f}", f"{m_live:.2f}", f"{db_pre:.1f}", f"{db_live:.1f}"])
display(HTMLTable(["pixel sigma", "t", "noisy PSNR", "eps MSE, pretrained", "eps MSE, live",
                    "x0_hat PSNR, pretrained", "x0_hat PSNR, live"], body))
gap = [pre[1] - live[1] for pre, live in zip(results["pretrained"], results["live"])]
gain = [pre[1] - noisy for pre, noisy in zip(results["pretrained"], noisy_psnr)]
glue("gap_min", round(min(gap), 1), display=False)
glue("gap_max", round(max(gap), 1), display=False)
glue("gap_max_sigma", pixel_sigmas[max(range(len(gap)), key=gap.__getitem__)], display=False)
glue("gain_min", round(min(gain), 1), display=False)
glue("gain_max", round(max(gain), 1), display=False)

fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.9), layout="constrained")
for name, rows in results.items():
    axes[0].plot(pixel_sigmas, [r[0] for r in rows], "o-", ms=3, label=name)
    axes[1].plot(pixel_sigmas, [r[1] for r in rows], "o-", ms=3, label=f"{name} model")
axes[1].plot(pixel_sigmas, noisy_psnr, "k:", label="noisy input")
axes[0].set(xscale="log", xlabel="pixel sigma", ylabel="eps MSE per pixel", title="the loss")
axes[1].set(xscale="log", xlabel="pixel sigma", ylabel="PSNR (dB)", title="as denoisers")
fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncols=3)
plt.show()

# %% [markdown]
# The left panel is the loss the network was trained on, split by noise level: the noise is
# hard to predict when there is little of it, and easy when there is a lot. The right panel is
# the *same* predictions read as denoisers, and there the picture flips: the clean digit is
# easy to recover under little noise and hard under a lot. Both are one curve seen through the
# weight $\bar\alpha_t/(1-\bar\alpha_t)$ of the third point above. At every noise level the
# shipped model's denoised digits are better than the input (the dotted line), by
# {glue:text}`gain_min:.1f` to {glue:text}`gain_max:.1f` dB, and the gap grows with the noise:
# at high noise the network falls back on what digits look like. The live model is already a
# denoiser too, {glue:text}`gap_min:.1f` to {glue:text}`gap_max:.1f` dB behind the shipped one
# (the widest gap at $\sigma =$ {glue:text}`gap_max_sigma`): {glue:text}`live_steps` steps on
# {glue:text}`n_train:,d` digits cannot teach all of what digits look like.
#
# Here is what "predict the noise" looks like for one digit, at four noise levels: the noisy
# input $y$, the network's estimate of the noise in it (scaled for display), and
# $\hat x_0 = \mathbb E[x_0 \mid y]$:

# %%
one = digits[3:4].expand(4, -1, -1, -1)
levels = torch.tensor([0.1, 0.3, 0.6, 1.2])
t_one = tinyddpm.start_step(levels, schedule).float()
x_t = diffusion.q_sample(one, t_one, noise[:4], schedule)
with torch.no_grad():
    eps = model(x_t, t_one)
ab = schedule.alpha_bar_at(t_one.double()).float().reshape(-1, 1, 1, 1)
viz.comparison({
    "noisy y, pixel sigma " + ", ".join(f"{v:.1f}" for v in levels.tolist()): tinyddpm.to_pixels(x_t / ab.sqrt()),
    "eps_hat": 0.5 + 0.2 * eps,
    "x0_hat": tinyddpm.to_pixels(diffusion.predict_x0(x_t, t_one, eps, schedule)),
    "clean": tinyddpm.to_pixels(one),
})

# %% [markdown]
# Read left to right, pixel sigma 0.1, 0.3, 0.6 and 1.2. At the lowest level the noise estimate
# is nearly pure speckle and the digit is recovered almost exactly. At the highest, the input
# barely shows a digit, and the estimate $\hat x_0$ is a blurred average of the digits that could
# lie under it: the *mean* of the posterior, not a sample from it. That blur is the
# best possible answer in squared error, and it is not a digit. Turning the posterior mean into
# a sharp sample is the job of the reverse chain, which takes many small steps, each of which
# only has to denoise a little: chapter 4.
#
# ## How the shipped model got there
#
# The training log of the shipped model, and its denoising PSNR measured at checkpoints along
# the way, are results of the repository (`benchmarks/results`) that ship inside the package as
# well (`tinyddpm.book_data`), so the next cell runs wherever tinyddpm is installed, Colab
# included.

# %%
def results_csv(name: str) -> list[dict]:
    """The rows of a CSV result file shipped with the package (a copy of benchmarks/results/)."""
    with open(results_path(name), newline="") as f:
        return list(csv.DictReader(f))


full = torch.tensor([float(r["loss"]) for r in results_csv("ddpm_train_log.csv")])
full_smooth = torch.nn.functional.avg_pool1d(full[None, None], 10, stride=1)[0, 0]
live_end = round(float(loss[-50:].mean()), 1)  # 1 decimal, as printed above: stable across CPUs
below = int(torch.nonzero(full_smooth < live_end)[0, 0]) + 10  # the step, for a running mean of 10
glue("shipped_below_live", below, display=False)
glue("shipped_warmup", tc["warmup_steps"], display=False)
glue("live_warmup", cfg.warmup_steps, display=False)
plt.figure(figsize=(6, 3.4))
plt.plot(range(10, len(full) + 1), full_smooth, label=f"shipped model (batch {tc['batch_size']})")
plt.plot(range(10, len(loss) + 1), smooth, label=f"live run above (batch {cfg.batch_size})")
plt.xscale("log"), plt.xlabel("training step"), plt.ylabel("L_simple, running mean of 10"), plt.legend()
plt.tight_layout()
plt.show()

curve = results_csv("ddpm_learning_curve.csv")
columns = [c for c in curve[0] if c.startswith("psnr@")]
late = [float(curve[-1][c]) - float(curve[-2][c]) for c in columns]
glue("late_steps", f"{int(curve[-2]['step']):,} to {int(curve[-1]['step']):,}", display=False)
glue("late_gain_min", round(min(late), 2), display=False)
glue("late_gain_max", round(max(late), 2), display=False)
HTMLTable(
    ["step"] + [f"sigma {c[5:]}" for c in columns],
    [[f"{int(r['step']):,}"] + [f"{float(r[c]):.2f}" for c in columns] for r in curve],
    caption="posterior-mean PSNR (dB) on the 1,000 sample digits, at checkpoints of the shipped run",
)

# %% [markdown]
# The shipped run's loss comes down later, because its learning rate ramps up over
# {glue:text}`shipped_warmup` warm-up steps (the live run's: {glue:text}`live_warmup`), and then
# its running mean passes below where the live run ends by step
# {glue:text}`shipped_below_live:,d`. Most of what the long run buys after that is invisible in
# the average loss; it shows in the per-noise-level measurements above (the live model's gap)
# and in the checkpoint table, where denoising still improves long after the loss curve looks
# flat: from step {glue:text}`late_steps`, by {glue:text}`late_gain_min:.2f` to
# {glue:text}`late_gain_max:.2f` dB.
#
# We now have a network that, given any $x_t$ and its $t$, estimates the noise in it, and so the
# posterior mean $\mathbb E[x_0 \mid x_t]$. Chapter 4 turns that one-step estimate into the
# reverse chain, and asks why each of its steps adds fresh noise back in.
