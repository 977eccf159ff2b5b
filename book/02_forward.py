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
# # The forward chain

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
# Chapter 1 ended with an encoder that had never seen a noisy digit. A diffusion model turns
# that weakness around: it is *defined* by a process that makes digits noisy, one small step at
# a time, and it is trained on every stage of that process. This chapter is about the process
# alone. It has no parameters and nothing is learned here, so everything in it can be checked
# exactly. Symbols are listed on the {doc}`notation` page.
#
# The forward process of DDPM {cite}`ho2020ddpm` is a Markov chain that, at each step
# $t = 1, \dots, T$, shrinks the image a little and adds a little Gaussian noise:
#
# $$ q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\, x_{t-1},\ \beta_t I\big). $$
#
# The numbers $\beta_1, \dots, \beta_T$ are the *schedule*. The shrinking factor
# $\sqrt{1-\beta_t}$ is what keeps the chain from blowing up: if $x_{t-1}$ has unit variance, so
# does $x_t$, since $(1-\beta_t) + \beta_t = 1$. Images live in model units, $[-1, 1]$ (a digit
# $x$ in pixel units becomes $x_0 = 2x - 1$). The package implements one step exactly as written
# (the imports of the chapter come first, folded away):
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: q_step
# ```

# %% tags=["hide-input"]
import math

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue
from torch.distributions import Normal

import tinyddpm
from tinyddpm import diffusion, samplers, viz
from tinyddpm.harness.baselines import ScheduleAdapter
from tinyddpm.harness.book_data import HTMLTable
from tinyddpm.metrics import predict_labels
from tinyddpm.schedules import NoiseSchedule

# %%
schedules = {
    "linear, T = 300 (the original project)": NoiseSchedule.linear(300),
    "linear, T = 1000 (DDPM paper)": NoiseSchedule.linear(1000),
    "cosine, T = 1000 (tinyddpm's model)": NoiseSchedule.cosine(1000),
}

# %% tags=["hide-input"]
HTMLTable(
    ["schedule", "smallest beta", "largest beta", "steps with beta > 0.05"],
    [[name, f"{float(sch.betas.min()):.2g}", f"{float(sch.betas.max()):.3g}", int((sch.betas > 0.05).sum())]
     for name, sch in schedules.items()],
)

# %% tags=["hide-input"]
cos = schedules["cosine, T = 1000 (tinyddpm's model)"]
glue("cos_beta_min", float(f"{float(cos.betas.min()):.2g}"), display=False)
glue("cos_beta_max", round(float(cos.betas.max()), 3), display=False)
glue("cos_big_steps", int((cos.betas > 0.05).sum()), display=False)

# %% [markdown]
# The linear schedules of DDPM and of the original project keep every $\beta_t$ small, between
# $10^{-4}$ and $0.02$. The cosine schedule, which tinyddpm's model uses, is defined through
# $\bar\alpha_t$ instead (below), and its betas span a far wider range: from
# {glue:text}`cos_beta_min:.1e` at the first step to {glue:text}`cos_beta_max:.3f` (the cap the
# schedule puts on them) at the last, with {glue:text}`cos_big_steps` of its steps above $0.05$,
# all at the very end of the chain where almost nothing of the digit is left.
#
# Here is the chain at work on four test digits, with the linear schedule of the original
# project ($T = 300$, $\beta$ rising from $10^{-4}$ to $0.02$). The columns are labelled with
# the step $t$.

# %%
schedule = schedules["linear, T = 300 (the original project)"]
x, labels = tinyddpm.load_sample()  # 1,000 MNIST test digits in [0, 1], 100 per class
pick = torch.stack([torch.nonzero(labels == c)[0, 0] for c in range(10)])
g = tinyddpm.seeded(0)
x_t = tinyddpm.to_model(x[pick[:4]])  # (4, 1, 28, 28), model units
frames, shown = [x_t], [0]
for t in range(1, 301):
    x_t = diffusion.q_step(x_t, t, torch.randn(x_t.shape, generator=g), schedule)
    if t % 30 == 0:
        frames.append(x_t)
        shown.append(t)
viz.trajectory([tinyddpm.to_pixels(f) for f in frames], columns=[f"t = {t}" for t in shown])

# %% [markdown]
# ## The closed form
#
# Write $\alpha_t = 1 - \beta_t$ and unroll two steps, with independent standard normal
# $\epsilon_{t-1}, \epsilon_t$:
#
# $$ x_t = \sqrt{\alpha_t}\, x_{t-1} + \sqrt{1-\alpha_t}\, \epsilon_t
#        = \sqrt{\alpha_t \alpha_{t-1}}\, x_{t-2} + \sqrt{\alpha_t (1-\alpha_{t-1})}\, \epsilon_{t-1} + \sqrt{1-\alpha_t}\, \epsilon_t . $$
#
# The two noise terms are independent zero-mean Gaussians, so their sum is one Gaussian whose
# variance is the sum of theirs, $\alpha_t(1-\alpha_{t-1}) + 1 - \alpha_t = 1 - \alpha_t\alpha_{t-1}$.
# The same computation works at every step: if $x_{t-1} = \sqrt{\bar\alpha_{t-1}}\, x_0 +
# \sqrt{1-\bar\alpha_{t-1}}\,\epsilon$, then one more step gives signal coefficient
# $\sqrt{\alpha_t \bar\alpha_{t-1}}$ and noise variance $\alpha_t(1-\bar\alpha_{t-1}) + 1 - \alpha_t
# = 1 - \alpha_t \bar\alpha_{t-1}$. So by induction, with $\bar\alpha_t = \prod_{i \le t} \alpha_i$,
#
# $$ q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t) I\big),
#    \qquad\text{i.e.}\qquad x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\quad \epsilon \sim \mathcal N(0, I). $$
#
# Any $x_t$ can therefore be drawn in one shot, without running the chain: that is `q_sample`,
# and it is what makes training cheap (chapter 3 draws a random $t$ per image and jumps there).
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: q_sample
# ```
#
# ## Checking it numerically
#
# Two checks, one exact and one statistical.
#
# **The moments.** The chain's mean coefficient and variance obey the recursions
# $m_t = \sqrt{\alpha_t}\, m_{t-1}$ and $v_t = \alpha_t v_{t-1} + \beta_t$ with $m_0 = 1, v_0 = 0$.
# Running them step by step must give $\sqrt{\bar\alpha_t}$ and $1 - \bar\alpha_t$ from the
# schedule, for every $t$ and every schedule:

# %%
for name, sch in schedules.items():
    m, v, worst = 1.0, 0.0, 0.0
    for t in range(1, sch.T + 1):
        beta = float(sch.betas[t - 1])
        m, v = (1 - beta) ** 0.5 * m, (1 - beta) * v + beta
        ab = float(sch.alpha_bar[t])
        worst = max(worst, abs(m - ab**0.5), abs(v - (1 - ab)))
    print(f"{name}:\n  recursion and closed form agree to 1e-12 at every step: {worst < 1e-12}")

# %% [markdown]
# **The distribution.** Now run the actual random chain: 2,000 independent copies of one digit,
# 300 steps each. At a few steps $t$ we estimate, from the copies, how much of the digit is
# left (the slope $c$ of the per-pixel mean against $x_0$) and how much noise was added (the
# per-pixel variance $v$, averaged over pixels), and set them beside the closed form. To show
# that the check has teeth we also compare with the closed form one step *earlier*,
# $\sqrt{\bar\alpha_{t-1}}$: an off-by-one error in the indexing of $\bar\alpha$ is the classic
# bug here.

# %%
n = 2000
x0 = tinyddpm.to_model(x[pick[0]])  # (1, 28, 28), one digit
chain = x0.expand(n, -1, -1, -1).clone()  # (2000, 1, 28, 28)
snapshots = {}
for t in range(1, 301):
    chain = diffusion.q_step(chain, t, torch.randn(chain.shape, generator=g), schedule)
    if t in (50, 150, 300):
        snapshots[t] = chain.double()

# %% [markdown]
# From the copies at each of those steps: the slope $c$ (least squares of the per-pixel mean on
# $x_0$), the per-pixel variance $v$, and $z$, the distance of $c$ from each candidate value in
# standard errors of the slope.

# %%
x0d = x0.double()
est = {}
for t, c in snapshots.items():
    slope = float((c.mean(0) * x0d).sum() / (x0d**2).sum())
    var = float(c.var(0).mean())
    ab, ab_prev = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[t - 1])
    se = float(((1 - ab) / (n * (x0d**2).sum())) ** 0.5)  # standard error of the slope
    z, z_prev = (slope - ab**0.5) / se, (slope - ab_prev**0.5) / se
    est[t] = dict(slope=slope, var=var, ab=ab, ab_prev=ab_prev, z=z, z_prev=z_prev)

# %% tags=["hide-input"]
body = [[t, f"{e['slope']:.4f}", f"{e['ab']**0.5:.4f}", f"{e['z']:.1f}", f"{e['ab_prev']**0.5:.4f}", f"{e['z_prev']:.1f}",
         f"{e['var']:.4f}", f"{1 - e['ab']:.4f}"] for t, e in est.items()]
z_right = [abs(e["z"]) for e in est.values()]
z_wrong = {t: abs(e["z_prev"]) for t, e in est.items()}
var_gap = [abs(e["var"] - (1 - e["ab"])) for e in est.values()]
glue("z_right_max", round(max(z_right), 1), display=False)
glue("z_wrong_50", round(z_wrong[50], 1), display=False)
glue("z_wrong_150", round(z_wrong[150], 1), display=False)
glue("z_wrong_300", round(z_wrong[300], 1), display=False)
glue("var_gap_max", round(max(var_gap), 4), display=False)
HTMLTable(["t", "c (chain)", "sqrt(ab_t)", "z", "sqrt(ab_t-1)", "z", "v (chain)", "1 - ab_t"], body)

# %% [markdown]
# The columns headed z give each difference in standard errors of the estimate. The chain
# agrees with $\sqrt{\bar\alpha_t}$ to within chance (no $|z|$ above
# {glue:text}`z_right_max:.1f`), and it disagrees with the off-by-one value by many standard
# errors wherever one step changes $\bar\alpha$ enough to be seen with 2,000 copies:
# $|z| =$ {glue:text}`z_wrong_50:.1f` at $t = 50$ and {glue:text}`z_wrong_150:.1f` at $t = 150$.
# At $t = 300$ the noise is so large that one step's difference is close to the resolution of
# the test ($|z| =$ {glue:text}`z_wrong_300:.1f`). The variances agree to within
# {glue:text}`var_gap_max:.4f`, which is the size of their own sampling error.
#
# Matching two moments does not yet show that $x_t$ is *Gaussian*. Standardize the copies with
# the closed form, $(x_t - \sqrt{\bar\alpha_t} x_0)/\sqrt{1-\bar\alpha_t}$; if the closed form is
# right, these $2000 \times 784$ numbers are draws from $\mathcal N(0, 1)$, and they should look
# like the noise that `q_sample` draws directly:

# %%
ab = float(schedule.alpha_bar[300])
z_chain = ((snapshots[300] - ab**0.5 * x0d) / (1 - ab) ** 0.5).flatten()
direct = diffusion.q_sample(x0.expand(n, -1, -1, -1), 300.0, torch.randn(n, 1, 28, 28, generator=g), schedule)
z_direct = ((direct.double() - ab**0.5 * x0d) / (1 - ab) ** 0.5).flatten()
body = []
for name, z in (("iterated chain", z_chain), ("q_sample", z_direct)):
    kurt = float(((z - z.mean()) ** 4).mean() / z.var() ** 2)
    body.append([name, f"{float(z.mean()):+.3f}", f"{float(z.std()):.3f}", f"{kurt:.2f}"])
display(HTMLTable(["standardized x_300", "mean", "std", "kurtosis (normal: 3)"], body))
grid_z = torch.linspace(-4, 4, 200)
plt.figure(figsize=(5.5, 3.2))
plt.hist(z_chain.numpy(), bins=80, range=(-4, 4), density=True, alpha=0.6, label="chain, t = 300")
plt.plot(grid_z, torch.exp(-grid_z**2 / 2) / (2 * torch.pi) ** 0.5, "k", lw=1, label="N(0, 1)")
plt.xlabel("standardized x_300 (standard deviations)"), plt.ylabel("density"), plt.legend(), plt.tight_layout()
plt.show()

# %% [markdown]
# ## Linear and cosine schedules
#
# How fast the signal fades is set by the betas. The clearest way to compare schedules is the
# signal-to-noise ratio of $x_t$, $\mathrm{SNR}(t) = \bar\alpha_t / (1-\bar\alpha_t)$: the power of
# the scaled digit over the power of the noise. DDPM's linear schedule runs from
# $\beta_1 = 10^{-4}$ to $\beta_T = 0.02$; the cosine schedule of improved DDPM
# {cite}`nichol2021improved` instead sets $\bar\alpha_t = f(t)/f(0)$ with
# $f(t) = \cos^2\!\big(\tfrac{t/T + \delta}{1+\delta}\tfrac{\pi}{2}\big)$ and a small offset
# $\delta = 0.008$ (below), so that the log-SNR falls almost linearly in $t$ and no stretch of
# steps is wasted.

# %%
fig, axes = plt.subplots(1, 2, figsize=(6.8, 4.2), layout="constrained")
for name, sch in schedules.items():
    frac = torch.arange(sch.T + 1) / sch.T
    ab = sch.alpha_bar
    axes[0].plot(frac, ab, label=name)
    axes[1].plot(frac[1:], torch.log10(ab[1:] / (1 - ab[1:])), label=name)
axes[0].set(xlabel="t / T", ylabel="alpha_bar_t", title="signal kept")
axes[1].set(xlabel="t / T", ylabel="log10 SNR", title="signal-to-noise ratio")
axes[1].axhspan(-2, 2, color="0.9", zorder=0)
fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center")
plt.show()

# %% [markdown]
# The grey band marks $10^{-2} \le \mathrm{SNR} \le 10^{2}$. Above it $x_t$ is nearly the clean
# digit, below it nearly pure noise; the interesting work of a denoiser happens inside. The
# table counts how the steps of each schedule are spent:

# %%
body, share = [], {}
for name, sch in schedules.items():
    ab = sch.alpha_bar[1:]
    snr = ab / (1 - ab)
    share[name] = [100 * float(m.double().mean()) for m in (snr > 100, (snr >= 0.01) & (snr <= 100), snr < 0.01)]
    body.append([name, f"{float(ab[-1]):.3g}"] + [f"{v:.1f} %" for v in share[name]])
glue("lin1000_lost", round(share["linear, T = 1000 (DDPM paper)"][2], 1), display=False)
glue("lin300_lost", round(share["linear, T = 300 (the original project)"][2], 1), display=False)
glue("cos_lost", round(share["cosine, T = 1000 (tinyddpm's model)"][2], 1), display=False)
HTMLTable(["schedule", "alpha_bar_T", "SNR > 100", "inside the band", "SNR < 0.01"], body)

# %% [markdown]
# The linear schedule with $T = 1000$ spends {glue:text}`lin1000_lost:.1f` % of its steps at an
# SNR below $10^{-2}$, where $x_t$ is noise for every practical purpose; that is the waste the
# cosine schedule was designed to remove (it spends {glue:text}`cos_lost:.1f` % there). The
# linear schedule with $T = 300$ has the opposite problem: it never gets there at all
# ({glue:text}`lin300_lost:.1f` %).
#
# ### The cosine schedule's offset $\delta$
#
# Why the offset? Without it, $\bar\alpha_t = \cos^2\!\big(\tfrac{t}{T}\tfrac{\pi}{2}\big)$ starts
# out flat: $\bar\alpha_0 = 1$ with zero slope, so the first steps add almost no noise. To see
# how little, write $\theta_t = \tfrac{t/T + \delta}{1+\delta}\tfrac{\pi}{2}$ and
# $\Delta_t = \theta_t - \theta_0 = \tfrac{\pi t}{2T(1+\delta)}$. Then
# $\bar\alpha_t = \cos^2\theta_t / \cos^2\theta_0$, and since
# $\cos^2 a - \cos^2 b = \sin(b + a)\sin(b - a)$,
#
# $$ 1 - \bar\alpha_t = \frac{\sin(2\theta_0 + \Delta_t)\,\sin\Delta_t}{\cos^2\theta_0}. $$
#
# - Without the offset ($\delta = 0$, so $\theta_0 = 0$): $1 - \bar\alpha_t = \sin^2\Delta_t$, and the
#   noise of the first step, $\sqrt{1 - \bar\alpha_1} = \sqrt{\beta_1}$, is about
#   $\Delta_1 = \pi/(2T)$. The noise grows only *linearly* from zero.
# - With the offset and $t$ small ($\Delta_t \ll \theta_0 \approx \pi\delta/2$):
#   $1 - \bar\alpha_t \approx 2\theta_0\Delta_t \approx \pi^2\delta\, t/(2T)$, a *variance* that grows
#   linearly, so the first step's noise is about $\pi\sqrt{\delta/(2T)}$, far more than
#   $\pi/(2T)$.
#
# Nichol and Dhariwal {cite}`nichol2021improved` found that tiny amounts of noise at the start
# of the chain made the noise hard for the network to predict accurately, and chose $\delta$ so
# that $\sqrt{\beta_1}$ is slightly smaller than the size of one pixel bin of an $8$-bit image:
# $2/255$ in model units, $1/255$ in pixel units. At the other end the formula gives
# $\bar\alpha_T = 0$ and so $\beta_T = 1 - \bar\alpha_T/\bar\alpha_{T-1} = 1$: a last step that keeps
# nothing of $x_{T-1}$, whose $1/\sqrt{\alpha_T}$ (which the reverse step divides by) is infinite.
# They clip every $\beta_t$ at $0.999$. The package builds both schedules,
# `NoiseSchedule.cosine(1000, s=delta)` (the package's argument is Nichol and Dhariwal's $s$);
# we check the formula against it and look at the first steps' noise, as the pixel-unit
# $\sigma$ that each step matches ($2\sigma = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$,
# `sigma_from_t`), beside one pixel bin:

# %%
T, bin_pixel = 1000, 1 / 255  # one pixel bin of an 8-bit image, pixel units
offsets = {f"delta = {delta}": NoiseSchedule.cosine(T, s=delta) for delta in (0.008, 0.0)}
for name, sch in offsets.items():
    delta = sch.s
    theta0 = delta / (1 + delta) * math.pi / 2
    d_t = torch.arange(T, dtype=torch.float64) / T / (1 + delta) * math.pi / 2  # Delta_t, t < T
    formula = torch.sin(2 * theta0 + d_t) * torch.sin(d_t) / math.cos(theta0) ** 2  # 1 - alpha_bar_t
    ok = bool((formula - (1 - sch.alpha_bar[:T])).abs().max() < 1e-12)  # beta_T is clipped: t < T
    sigma_first = sch.sigma_from_t(torch.tensor([1.0, 2.0, 5.0, 10.0])) / 2  # pixel units
    clipped = (torch.nonzero(sch.betas >= 0.999)[:, 0] + 1).tolist()
    print(f"{name}: formula = package (t < T): {ok}")
    print(f"  betas clipped at 0.999 at t = {clipped}")
    print(f"  pixel sigma of steps 1, 2, 5, 10: {[round(float(v), 5) for v in sigma_first]}")
    print(f"  in pixel bins:                    {[round(float(v / bin_pixel), 2) for v in sigma_first]}")

# %% tags=["hide-input"]
first_sigma = {name: float(sch.sigma_from_t(1.0)) / 2 for name, sch in offsets.items()}
glue("sigma1_delta", round(first_sigma["delta = 0.008"], 4), display=False)
glue("sigma1_nodelta", round(first_sigma["delta = 0.0"], 5), display=False)
glue("bins1_delta", round(first_sigma["delta = 0.008"] / bin_pixel, 2), display=False)
glue("bins1_nodelta", round(first_sigma["delta = 0.0"] / bin_pixel, 2), display=False)
glue("sqrt_beta1_delta", round(float(offsets["delta = 0.008"].betas[0].sqrt()), 5), display=False)
glue("n_clipped", int((cos.betas >= 0.999).sum()), display=False)
glue("clipped_at", ", ".join(str(int(i) + 1) for i in torch.nonzero(cos.betas >= 0.999)[:, 0]), display=False)
glue("nodelta_vs_bin", "less than" if first_sigma["delta = 0.0"] < bin_pixel else "more than", display=False)

# %% [markdown]
# With the offset, the first step matches a pixel noise of {glue:text}`sigma1_delta:.4f`,
# {glue:text}`bins1_delta:.2f` of a pixel bin ($\sqrt{\beta_1} =$
# {glue:text}`sqrt_beta1_delta:.5f` in model units, against a bin of $2/255$); without it,
# {glue:text}`sigma1_nodelta:.5f`, {glue:text}`bins1_nodelta:.2f` of a bin, {glue:text}`nodelta_vs_bin`
# the rounding that the $8$-bit digits already carry. In tinyddpm's schedule the clip touches
# {glue:text}`n_clipped` of the betas, at $t =$ {glue:text}`clipped_at`.
#
# ## "Pure noise" that is not pure
#
# Generation runs the chain backwards from $x_T$, and the only $x_T$ we can draw without a
# digit in hand is $\mathcal N(0, I)$. That is harmless only if $q(x_T \mid x_0)$ is
# $\mathcal N(0, I)$ for every digit, i.e. if $\bar\alpha_T \approx 0$. For the original
# project's schedule it is not:

# %%
lin300 = schedule
ab_T = float(lin300.alpha_bar[-1])
snr_T = ab_T / (1 - ab_T)
print(f"linear T = 300: alpha_bar_T = {ab_T:.4f}")
print(f"x_T keeps sqrt(alpha_bar_T) = {ab_T**0.5:.3f} of the digit's amplitude")
print(f"SNR(T) = {snr_T:.4f}, i.e. {10 * torch.log10(torch.tensor(snr_T)):.1f} dB")
glue("ab_T_pct", round(100 * ab_T, 1), display=False)
glue("sqrt_ab_T", round(ab_T**0.5, 3), display=False)

# %% [markdown]
# {glue:text}`ab_T_pct:.1f` % of the signal's power is not much per pixel, but it is the same
# share in every one of the $784$ pixels. The KL divergence between the chain's last state and
# the noise that generation starts from, $D_{\mathrm{KL}}(q(x_T \mid x_0)\,\|\,\mathcal N(0, I))$,
# is the prior term $L_T$ of DDPM's variational bound. DDPM leaves it out of training, since no
# parameter affects it, and picks $T$ and the betas so that it is negligible.
#
# Both distributions are Gaussians that treat the $D = 784$ pixels independently, so the KL is a
# sum of one-dimensional KLs. For one pixel, $q = \mathcal N(\mu, v)$ with
# $\mu = \sqrt{\bar\alpha_T}\,x_0$ and $v = 1 - \bar\alpha_T$, against $p = \mathcal N(0, 1)$:
# $\log q(z) = -\tfrac12\log(2\pi v) - \tfrac{(z-\mu)^2}{2v}$ and
# $\log p(z) = -\tfrac12\log(2\pi) - \tfrac{z^2}{2}$. Under $q$, $\mathbb E(z-\mu)^2 = v$ and
# $\mathbb E z^2 = v + \mu^2$, so
#
# $$ \mathrm{KL}(q\,\Vert\,p) = \mathbb E_q[\log q - \log p] = \tfrac12\big(v + \mu^2 - 1 - \ln v\big),
#    \qquad
#    L_T = \tfrac12 \sum_{i=1}^{D} \Big(\bar\alpha_T\, x_{0,i}^2 + (1 - \bar\alpha_T) - 1 - \ln(1 - \bar\alpha_T)\Big). $$
#
# For small $\bar\alpha_T$, $-\ln(1-\bar\alpha_T) = \bar\alpha_T + \bar\alpha_T^2/2 + \dots$, so
# $L_T \approx \tfrac12\,\bar\alpha_T \lVert x_0 \rVert^2$: half the energy of the digit that
# survives to step $T$. This is `prior_kl`:
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: prior_kl
# ```
#
# The formula, written out by hand for every digit, against `prior_kl`, and the approximation
# $\tfrac12\bar\alpha_T\lVert x_0\rVert^2$:

# %%
x0_all = tinyddpm.to_model(x)  # (1000, 1, 28, 28), model units
for name, sch in schedules.items():
    ab = sch.alpha_bar[-1]  # alpha_bar_T
    # (1 - ab) - 1 = -ab, and log1p(-ab) is ln(1 - ab) without rounding 1 - ab first
    by_hand = 0.5 * (ab * x0_all.double() ** 2 - ab - torch.log1p(-ab)).sum((1, 2, 3))
    approx = 0.5 * ab * (x0_all.double() ** 2).sum((1, 2, 3))
    ok = bool((by_hand / diffusion.prior_kl(x0_all, sch) - 1).abs().max() < 1e-9)
    print(f"{name}:\n  by hand = prior_kl to 1e-9 relative: {ok}\n"
          f"  approximation {float(approx.mean()):.3g} nats against {float(by_hand.mean()):.3g}")

# %% [markdown]
# That compares the formula with the package's code. The formula itself can be checked without
# any algebra: draw one pixel from $q(x_T \mid x_0)$ many times and average $\log q - \log p$, a
# Monte Carlo estimate of the KL. Here for a background pixel, $x_0 = -1$, of the linear
# $T = 300$ chain:

# %%
ab = lin300.alpha_bar[-1]
q_T = Normal(-ab.sqrt(), (1 - ab).sqrt())  # q(x_T | x_0 = -1), one pixel
p_T = Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
n_mc = 1_000_000
z = q_T.mean + q_T.stddev * torch.randn(n_mc, generator=tinyddpm.seeded(3), dtype=torch.float64)
log_ratio = q_T.log_prob(z) - p_T.log_prob(z)  # log q - log p at draws from q
formula = 0.5 * (ab * (-1.0) ** 2 - ab - torch.log1p(-ab))
print(f"Monte Carlo: {float(log_ratio.mean()):.4f} +- {float(log_ratio.std()) / n_mc**0.5:.4f} nats")
print(f"formula:     {float(formula):.4f} nats")

# %% [markdown]
# Averaged over the 1,000 sample digits, for the three schedules:

# %%
L_T = {name: float(diffusion.prior_kl(x0_all, sch).mean()) for name, sch in schedules.items()}
glue("LT_300", round(L_T["linear, T = 300 (the original project)"], 1), display=False)
glue("LT_cos", float(f"{L_T[next(iter(n for n in L_T if n.startswith('cosine')))]:.2g}"), display=False)
HTMLTable(["schedule", "L_T (nats per image)"], [[name, f"{v:.3g}"] for name, v in L_T.items()])

# %% [markdown]
# The linear $T = 300$ chain ends {glue:text}`LT_300:.1f` nats away from pure noise; the cosine
# chain, {glue:text}`LT_cos:.1e` nats. A divergence of $k$ nats means an average
# log-likelihood ratio of $k$: with $e^{k}$ to one on her side, a statistician could tell the
# chain's $x_T$ from pure noise almost every time. She would not even need the digit. Since
# $x_0 \approx -1$ on the black background, which covers most of the image, $x_T$ has a *mean*
# of about $-\sqrt{\bar\alpha_T} =$ −{glue:text}`sqrt_ab_T:.3f` there, and the average pixel of an
# $x_T$ is a strong tell:

# %%
g = tinyddpm.seeded(1)
x_T = diffusion.q_sample(x0_all, 300.0, torch.randn(x0_all.shape, generator=g), lin300)  # (1000, 1, 28, 28)
pure = torch.randn(x0_all.shape, generator=g)
m_T, m_pure = x_T.mean((1, 2, 3)), pure.mean((1, 2, 3))
threshold = 0.5 * float(m_T.mean() + m_pure.mean())
correct = float(((m_T < threshold).sum() + (m_pure >= threshold).sum()) / 2000)
print(f"average pixel of x_T:    {float(m_T.mean()):+.3f} (spread {float(m_T.std()):.3f})")
print(f"average pixel of N(0, I): {float(m_pure.mean()):+.3f} (spread {float(m_pure.std()):.3f})")
print(f"one threshold on the average pixel separates them in {100 * correct:.1f} % of 2,000")
glue("tell_pct", round(100 * correct, 1), display=False)
plt.figure(figsize=(5.5, 3.2))
plt.hist(m_T.numpy(), bins=40, alpha=0.6, label="x_300 of the linear chain")
plt.hist(m_pure.numpy(), bins=40, alpha=0.6, label="N(0, I)")
plt.xlabel("average pixel (model units)"), plt.ylabel("images"), plt.legend(), plt.tight_layout()
plt.show()

# %% [markdown]
# One threshold on that average tells the two apart in {glue:text}`tell_pct:.1f` % of the
# images.
#
# ## What the mismatch does to generation
#
# A network trained on the linear $T = 300$ chain has only ever seen, at $t = 300$, inputs with
# that dark offset and a faint digit inside. Started from $\mathcal N(0, I)$ it is asked about an
# input it never saw. We can run that experiment without training a second model: tinyddpm's
# network was trained on the cosine schedule at *continuous* $t$, so it can be asked at the
# cosine step whose $\bar\alpha$ equals the linear step's (`ScheduleAdapter`, the same trick
# the benchmarks use for their fixed-start-step rows). We run the deterministic
# DDIM sampler (chapter 4) in 10 steps down the linear $T = 300$ chain for 50 digits, 5 of
# each class, starting once from the chain's true $x_{300}$ and once from $\mathcal N(0, I)$,
# and measure the generated digits' ink (the share of pixels above $0.5$), against the real
# digits':

# %%
model, cos_schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
net = ScheduleAdapter(model, cos_schedule, lin300)  # asks the model at the cosine step with equal alpha_bar
few = torch.cat([torch.nonzero(labels == c)[:5, 0] for c in range(10)])  # 50 digits, 5 of each class
print("digits per class:", torch.bincount(labels[few]).tolist())
starts = {"true x_300": x_T[few], "N(0, I)": pure[few]}
steps = samplers.ddim_timesteps(300.0, 10)

# %%
rows = {"source digit": x[few[::5]]}
ink = {"real digits": 100 * float((x[few] > 0.5).float().mean())}
same = {}
for name, start in starts.items():
    out = tinyddpm.to_pixels(samplers.sample_loop(samplers.ddim_step, net, start, steps, lin300)).clamp(0, 1)
    same[name] = int((predict_labels(classifier, out) == labels[few]).sum())
    ink[f"from {name}"] = 100 * float((out > 0.5).float().mean())
    rows[f"from {name}"] = out[::5]

# %% tags=["hide-input"]
display(HTMLTable(["digits", "ink", "same class as the source digit"],
                   [[k, f"{v:.1f} %", f"{same[k[5:]]} of {len(few)}" if k.startswith("from") else ""]
                    for k, v in ink.items()]))
glue("ink_real", round(ink["real digits"], 1), display=False)
glue("ink_true", round(ink["from true x_300"], 1), display=False)
glue("ink_pure", round(ink["from N(0, I)"], 1), display=False)
glue("same_true", same["true x_300"], display=False)
glue("same_pure", same["N(0, I)"], display=False)
viz.comparison(rows)

# %% [markdown]
# Started where the chain really ends, the sampler returns digits with about the real digits'
# amount of ink ({glue:text}`ink_true:.1f` % against {glue:text}`ink_real:.1f` %), and
# {glue:text}`same_true` of 50 of them have the source digit's own class
# ({glue:text}`same_pure` of 50 from pure noise, where chance would give one in ten): $x_{300}$ still
# carries information about which digit it came from. Started from $\mathcal N(0, I)$, the
# digits come out heavier ({glue:text}`ink_pure:.1f` % ink): the missing dark offset is read as
# extra ink. This is why tinyddpm uses the cosine schedule with $T = 1000$, whose last state
# really is noise ({cite}`nichol2021improved` make the same argument for the linear $T = 1000$
# schedule's uneven use of steps). Lin et al. {cite}`lin2024common` found the same flaw in the
# schedules of widely used large image generators, whose last step also keeps some signal:
# started from pure noise, those models could not make very bright or very dark images, much as
# the ink changes here. Their fix is to rescale the schedule so that $\bar\alpha_T = 0$ exactly
# (zero terminal SNR).
#
# ## Every noise level is a step
#
# The closed form has a second reading that the rest of the book leans on. A digit with noise of
# standard deviation $\sigma$ in pixel units, $y = x + \sigma n$, is $y = x_0 + 2\sigma n$ in model
# units (the map $x_0 = 2x - 1$ doubles the noise too), and
# $\sqrt{\bar\alpha_t}\, y = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{\bar\alpha_t}\, 2\sigma\, n$ has exactly the
# distribution of $x_t$ when $\bar\alpha_t (2\sigma)^2 = 1 - \bar\alpha_t$, that is at the step
# $t^*$ with $\bar\alpha_{t^*} = 1/(1 + 4\sigma^2)$. A noisy photograph is a (rescaled) point of
# the forward chain. The package solves this for $t^*$, interpolating $\bar\alpha$ between grid
# steps so that the match is exact rather than rounded; that is the whole trick of chapter 5:

# %%
body = []
for sigma in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
    t_lin = float(tinyddpm.start_step(sigma, lin300))
    t_cos = float(tinyddpm.start_step(sigma, cos))
    body.append([f"{sigma:.2f}", f"{t_lin:.2f}", f"{t_cos:.2f}"])
HTMLTable(["pixel sigma", "t* of 300 (linear)", "t* of 1000 (cosine)"], body)

# %% [markdown]
# ## Running the chain backwards when $x_0$ is known
#
# Generation needs the reverse step, from $x_t$ to $x_{t-1}$. Without a digit in hand that needs
# a model of digits (chapter 3). With $x_0$ in hand it is exact, and that exact reverse step,
# the *forward posterior* $q(x_{t-1} \mid x_t, x_0)$, is what the network will be trained to
# imitate. By Bayes' rule, and since the chain is Markov ($x_t$ depends on $x_0$ only through
# $x_{t-1}$),
#
# $$ q(x_{t-1} \mid x_t, x_0) = \frac{q(x_t \mid x_{t-1})\, q(x_{t-1} \mid x_0)}{q(x_t \mid x_0)}
#    \;\propto\; q(x_t \mid x_{t-1})\, q(x_{t-1} \mid x_0) \quad\text{as a function of } x_{t-1}. $$
#
# Both factors are Gaussians we know, $\mathcal N(\sqrt{\alpha_t}\,x_{t-1}, \beta_t)$ for $x_t$ and
# $\mathcal N(\sqrt{\bar\alpha_{t-1}}\,x_0, 1-\bar\alpha_{t-1})$ for $x_{t-1}$. Per pixel, the log of
# their product is, up to terms without $x_{t-1}$,
#
# $$ -\frac12\left[\frac{(x_t - \sqrt{\alpha_t}\,x_{t-1})^2}{\beta_t}
#      + \frac{(x_{t-1} - \sqrt{\bar\alpha_{t-1}}\,x_0)^2}{1-\bar\alpha_{t-1}}\right]
#    = -\frac12\Big[a\,x_{t-1}^2 - 2b\,x_{t-1}\Big] + \text{const},
#    \qquad a = \frac{\alpha_t}{\beta_t} + \frac{1}{1-\bar\alpha_{t-1}},
#    \quad b = \frac{\sqrt{\alpha_t}}{\beta_t}\,x_t + \frac{\sqrt{\bar\alpha_{t-1}}}{1-\bar\alpha_{t-1}}\,x_0 . $$
#
# Completing the square, $-\tfrac12(a x^2 - 2bx) = -\tfrac{a}{2}(x - b/a)^2 + \text{const}$: the
# posterior is Gaussian, with variance $1/a$ and mean $b/a$. The variance simplifies because
# $\alpha_t(1-\bar\alpha_{t-1}) + \beta_t = \alpha_t - \bar\alpha_t + 1 - \alpha_t = 1 - \bar\alpha_t$:
#
# $$ \tilde\beta_t = \frac1a = \frac{\beta_t\,(1-\bar\alpha_{t-1})}{\alpha_t(1-\bar\alpha_{t-1}) + \beta_t}
#    = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t,
#    \qquad
#    \tilde\mu_t = \frac{b}{a} = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0
#    + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t . $$
#
# The mean has a second form. Put $x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}$
# from the closed form into it; since $\sqrt{\bar\alpha_{t-1}}/\sqrt{\bar\alpha_t} = 1/\sqrt{\alpha_t}$,
# the coefficient of $x_t$ becomes
# $\big(\beta_t + \alpha_t(1-\bar\alpha_{t-1})\big)/\big(\sqrt{\alpha_t}(1-\bar\alpha_t)\big) = 1/\sqrt{\alpha_t}$,
# and
#
# $$ \tilde\mu_t = \frac{1}{\sqrt{\alpha_t}}\Big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\epsilon\Big). $$
#
# With the network's $\hat\epsilon$ in place of $\epsilon$, this is the step of DDPM's sampler
# (chapter 3). Two remarks: $\tilde\beta_t < \beta_t$, since knowing where the chain started
# makes the step back less uncertain than the step forward; and at $t = 1$, $\tilde\beta_1 = 0$,
# since $x_0$ is given. The package's `q_posterior` implements the first form (for any earlier
# step $s < t$; here $s = t - 1$). The check below draws a random $x_0$ and $x_t$ for every step
# $t \ge 2$ of both schedules and compares $b/a$, the $\epsilon$ form, $1/a$ and $\tilde\beta_t$
# with it:

# %%
g = tinyddpm.seeded(2)
for name, sch in schedules.items():
    t = torch.arange(2, sch.T + 1)  # t = 1 is a point mass: beta_tilde_1 = 0
    ab, beta = sch.alpha_bar.view(-1, 1, 1, 1), sch.betas[t - 1].view(-1, 1, 1, 1)
    a = (1 - beta) / beta + 1 / (1 - ab[t - 1])  # the coefficient of x_{t-1}^2
    x0, x_t = torch.randn(2, len(t), 1, 1, 1, generator=g, dtype=torch.float64)  # a pixel per t
    b = (1 - beta).sqrt() / beta * x_t + ab[t - 1].sqrt() / (1 - ab[t - 1]) * x0
    eps = (x_t - ab[t].sqrt() * x0) / (1 - ab[t]).sqrt()
    mu_eps = (x_t - beta / (1 - ab[t]).sqrt() * eps) / (1 - beta).sqrt()
    mean, var = diffusion.q_posterior(x0, x_t, t.double(), t.double() - 1, sch)
    beta_tilde = (1 - ab[t - 1]) / (1 - ab[t]) * beta
    gaps = {"b/a": b / a - mean, "eps form": mu_eps - mean, "1/a": 1 / a - var, "beta_tilde": beta_tilde - var}
    agree = {key: bool(gap.abs().max() < 1e-10) for key, gap in gaps.items()}
    print(f"{name}: agree with q_posterior to 1e-10")
    print("  " + ", ".join(f"{key} {ok}" for key, ok in agree.items()))

# %% [markdown]
# A second check needs no algebra: simulate. Fix one pixel of full ink, $x_0 = 1$, draw
# $x_{t-1}$ from $q(x_{t-1} \mid x_0)$ and then $x_t$ by one forward step, 400,000 times. If the
# posterior is $\mathcal N(\tilde\mu_t, \tilde\beta_t)$ with $\tilde\mu_t$ linear in $x_t$, the
# least-squares line of $x_{t-1}$ on $x_t$ has as slope the coefficient of $x_t$, as intercept the
# coefficient of $x_0$ (times $x_0 = 1$), and as residual variance $\tilde\beta_t$ (the package's
# `posterior_mean_coef2`, `posterior_mean_coef1` and `posterior_variance`):

# %%
n_draws, x0_value = 400_000, 1.0  # one pixel of full ink (model units), many independent draws
def noise():
    return torch.randn(n_draws, 1, 1, 1, generator=g, dtype=torch.float64)
start, fit = torch.full((n_draws, 1, 1, 1), x0_value, dtype=torch.float64), {}
for t in (10, 100, 300):
    x_prev = diffusion.q_sample(start, t - 1.0, noise(), schedule)
    x_t = diffusion.q_step(x_prev, t, noise(), schedule)
    a, b = x_t.flatten(), x_prev.flatten()
    slope = float(((a - a.mean()) * (b - b.mean())).mean() / a.var(unbiased=False))
    intercept = float(b.mean() - slope * a.mean())
    resid = float((b - intercept - slope * a).var())
    se = [(resid / (n_draws * float(a.var()))) ** 0.5,  # standard errors: slope, intercept, variance
          (resid / n_draws * (1 + float(a.mean()) ** 2 / float(a.var()))) ** 0.5,
          resid * (2 / n_draws) ** 0.5]
    fit[t] = {"slope": slope, "intercept": intercept, "resid": resid, "se": se}

# %% tags=["hide-input"]
exact = {"slope": schedule.posterior_mean_coef2, "intercept": schedule.posterior_mean_coef1 * x0_value,
         "resid": schedule.posterior_variance}
body, zs = [], []
names = {"slope": "slope: coefficient of x_t", "intercept": "intercept: coefficient of x_0 times x_0",
         "resid": "residual variance: β̃_t"}
for t, f in fit.items():
    for (key, formula), se in zip(exact.items(), f["se"]):
        z = (f[key] - float(formula[t - 1])) / se
        zs.append(abs(z))
        body.append([t, names[key], f"{f[key]:.4g}", f"{float(formula[t - 1]):.4g}", f"{z:+.1f}"])
glue("post_z_max", round(max(zs), 1), display=False)
glue("post_verdict", "all within" if max(zs) < 3 else "not all within", display=False)
HTMLTable(["t", "quantity", "fit", "formula", "z"], body, "fit on simulated pairs against the formula")

# %% [markdown]
# The column headed z gives each difference in standard errors of the estimate; the largest
# $|z|$ is {glue:text}`post_z_max:.1f`, so the fits are {glue:text}`post_verdict` three standard
# errors of the formulas: the simulated chain steps back the way the algebra says.

# %% [markdown]
# ## What to take away
#
# - The forward chain $q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)$ has the
#   closed form $x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon$; 2,000 simulated
#   chains agree with it to within chance (no $|z|$ above {glue:text}`z_right_max:.1f`).
# - Given $x_0$, the chain runs backwards exactly: $q(x_{t-1} \mid x_t, x_0) =
#   \mathcal N(\tilde\mu_t, \tilde\beta_t I)$ with $\tilde\beta_t = \tfrac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t$
#   and $\tilde\mu_t = \tfrac{1}{\sqrt{\alpha_t}}\big(x_t - \tfrac{\beta_t}{\sqrt{1-\bar\alpha_t}}\epsilon\big)$,
#   found by completing the square (simulation: largest $|z|$ {glue:text}`post_z_max:.1f`).
# - The cosine schedule's offset $\delta$ sets the first step's noise to
#   {glue:text}`bins1_delta:.2f` of a pixel bin (a pixel noise of {glue:text}`sigma1_delta:.4f`),
#   against {glue:text}`bins1_nodelta:.2f` of a bin without it; its betas are clipped at $0.999$.
# - $L_T = \mathrm{KL}(q(x_T \mid x_0) \Vert \mathcal N(0, I)) \approx \tfrac12\bar\alpha_T\lVert x_0\rVert^2$:
#   {glue:text}`LT_300:.1f` nats for the original project's linear $T = 300$ chain,
#   {glue:text}`LT_cos:.1e` for the cosine one. Starting the linear chain's sampler from pure
#   noise changes the ink of its digits from {glue:text}`ink_true:.1f` % to
#   {glue:text}`ink_pure:.1f` %.
# - Every pixel noise $\sigma$ is a step $t^*$ of the chain, $\bar\alpha_{t^*} = 1/(1+4\sigma^2)$:
#   a noisy digit, scaled by $\sqrt{\bar\alpha_{t^*}}$, is a point of the forward chain.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) DDIM and strided samplers jump from $t$ to an earlier step
# $s < t$. Show that $q(x_t \mid x_s) = \mathcal N(\sqrt{\alpha_{t|s}}\,x_s, (1-\alpha_{t|s}) I)$ with
# $\alpha_{t|s} = \bar\alpha_t/\bar\alpha_s$, and derive $q(x_s \mid x_t, x_0)$ by completing the
# square as above.
#
# ```{admonition} Solution
# :class: dropdown
# Run the induction of the closed form from $x_s$ instead of $x_0$: after the steps
# $s+1, \dots, t$ the signal coefficient is $\prod_{s < i \le t}\sqrt{\alpha_i} = \sqrt{\bar\alpha_t/\bar\alpha_s}$
# and the noise variance is $1$ minus its square. So $q(x_t \mid x_s)$ is a single step with
# $\alpha_{t|s} = \bar\alpha_t/\bar\alpha_s$ and $\beta_{t|s} = 1 - \alpha_{t|s}$, and
# $q(x_s \mid x_0) = \mathcal N(\sqrt{\bar\alpha_s}\,x_0, 1-\bar\alpha_s)$. The derivation above goes
# through with $\alpha_t \to \alpha_{t|s}$, $\beta_t \to \beta_{t|s}$ and $\bar\alpha_{t-1} \to \bar\alpha_s$; the
# identity it needs, $\alpha_{t|s}(1-\bar\alpha_s) + \beta_{t|s} = 1 - \bar\alpha_t$, still holds. Hence
#
# $$ q(x_s \mid x_t, x_0) = \mathcal N\Big(\frac{\sqrt{\bar\alpha_s}\,\beta_{t|s}}{1-\bar\alpha_t}\,x_0
#    + \frac{\sqrt{\alpha_{t|s}}\,(1-\bar\alpha_s)}{1-\bar\alpha_t}\,x_t,\;
#    \frac{1-\bar\alpha_s}{1-\bar\alpha_t}\,\beta_{t|s}\,I\Big), $$
#
# which is what `q_posterior(x0, x_t, t, s, schedule)` computes (its docstring has the same
# formula); chapter 4's samplers use it with $s$ many steps below $t$.
# ```
#
# **Exercise 2.** (pen and paper) Show that $L_T \approx \tfrac12\bar\alpha_T\lVert x_0\rVert^2$
# when $\bar\alpha_T$ is small. A digit has $\lVert x_0\rVert^2 \le D = 784$. How small must
# $\bar\alpha_T$ be for $L_T \le 0.01$ nats for every digit? For a linear schedule from
# $\beta_1 = 10^{-4}$ to $\beta_T = 0.02$, use $\ln\bar\alpha_T \approx -\sum_t \beta_t$ (why?) to
# estimate the $T$ that needs.
#
# ```{admonition} Solution
# :class: dropdown
# Per pixel, $\tfrac12\big(\bar\alpha_T x_0^2 - \bar\alpha_T - \ln(1-\bar\alpha_T)\big)$ and
# $-\ln(1-\bar\alpha_T) = \bar\alpha_T + \bar\alpha_T^2/2 + \dots$, so the terms $-\bar\alpha_T$ and
# $+\bar\alpha_T$ cancel and $L_T = \tfrac12\bar\alpha_T\lVert x_0\rVert^2 + \tfrac{D}{4}\bar\alpha_T^2 + \dots$.
# With $\lVert x_0\rVert^2 \le 784$, $L_T \le 0.01$ needs $\bar\alpha_T \lesssim 2 \cdot 0.01/784 \approx 2.6\times10^{-5}$.
# Since $\ln\bar\alpha_T = \sum_t \ln(1-\beta_t)$ and $\ln(1-\beta) \approx -\beta$ for small
# $\beta$, $\ln\bar\alpha_T \approx -\sum_t\beta_t = -T(\beta_1+\beta_T)/2 \approx -0.01\,T$. So
# $T \gtrsim \ln(1/2.6\times10^{-5})/0.01005 \approx 1050$: about the DDPM paper's $T = 1000$,
# and more than three times the original project's $T = 300$.
# ```
#
# **Exercise 3.** (code) Check the previous exercise with the package: find the smallest $T$ (in steps of
# $50$) for which the linear schedule's mean $L_T$ over the sample, `prior_kl`, is below
# $0.01$ nats, and compare its $\bar\alpha_T$ with the bound on $\bar\alpha_T$ found there.

# %% tags=["hide-input", "solution"]
target = 0.01  # nats per image
for T_lin in range(300, 3001, 50):
    sch = NoiseSchedule.linear(T_lin)  # betas from 1e-4 to 0.02
    if float(diffusion.prior_kl(x0_all, sch).mean()) < target:
        break
bound = 2 * target / float((x0_all.double() ** 2).sum((1, 2, 3)).mean())  # for the average digit
print(f"smallest T (steps of 50) with mean L_T below {target} nats: {T_lin}")
print(f"alpha_bar_T = {float(sch.alpha_bar[-1]):.2e}; the bound 2 * 0.01 / ||x_0||^2 = {bound:.2e}")

# %% [markdown]
# The forward chain is fixed and fully understood. What remains is the hard part: running it
# backwards, from $x_t$ to $x_{t-1}$, *without* knowing $x_0$, which requires knowing what
# digits look like. That is what the network of chapter 3 learns.
