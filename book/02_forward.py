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
# Chapter 1 ended with an encoder that had never seen a noisy digit. A diffusion model turns
# that weakness around: it is *defined* by a process that makes digits noisy, one small step at
# a time, and it is trained on every stage of that process. This chapter is about the process
# alone. It has no parameters and nothing is learned here, so everything in it can be checked
# exactly.
#
# The forward process of DDPM {cite}`ho2020ddpm` is a Markov chain that, at each step
# $t = 1, \dots, T$, shrinks the image a little and adds a little Gaussian noise:
#
# $$ q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\, x_{t-1},\ \beta_t I\big). $$
#
# The numbers $\beta_1, \dots, \beta_T$ (the *schedule*) are small, between $10^{-4}$ and a few
# percent. The shrinking factor $\sqrt{1-\beta_t}$ is what keeps the chain from blowing up: if
# $x_{t-1}$ has unit variance, so does $x_t$, since $(1-\beta_t) + \beta_t = 1$. Images live in
# model units, $[-1, 1]$ (pixels $p$ become $2p - 1$). The package implements one step exactly
# as written:

# %%
import inspect

import matplotlib.pyplot as plt
import torch

import tinyddpm
from tinyddpm import diffusion, samplers, viz
from tinyddpm.baselines import ScheduleAdapter
from tinyddpm.metrics import predict_labels
from tinyddpm.schedules import NoiseSchedule

print(inspect.getsource(diffusion.q_step))

# %% [markdown]
# Here is the chain at work on one test digit, with the linear schedule of the original
# project ($T = 300$, $\beta$ rising from $10^{-4}$ to $0.02$). Every column is 30 further steps.

# %%
schedule = NoiseSchedule.linear(300)
x, labels = tinyddpm.load_sample()  # 1,000 MNIST test digits in [0, 1], 100 per class
pick = torch.stack([torch.nonzero(labels == c)[0, 0] for c in range(10)])
g = tinyddpm.seeded(0)
x_t = tinyddpm.to_model(x[pick[:4]])  # (4, 1, 28, 28), model units
frames = [x_t]
for t in range(1, 301):
    x_t = diffusion.q_step(x_t, t, torch.randn(x_t.shape, generator=g), schedule)
    if t % 30 == 0:
        frames.append(x_t)
viz.trajectory([tinyddpm.to_pixels(f) for f in frames])

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
# = 1 - \alpha_t \bar\alpha_{t-1}$. So by induction, with $\bar\alpha_t = \prod_{s \le t} \alpha_s$,
#
# $$ q(x_t \mid x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\, x_0,\ (1-\bar\alpha_t) I\big),
#    \qquad\text{i.e.}\qquad x_t = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\quad \epsilon \sim \mathcal N(0, I). $$
#
# Any $x_t$ can therefore be drawn in one shot, without running the chain: that is `q_sample`,
# and it is what makes training cheap (chapter 3 draws a random $t$ per image and jumps there).

# %%
print(inspect.getsource(diffusion.q_sample))

# %% [markdown]
# ## Checking it numerically
#
# Two checks, one exact and one statistical.
#
# **The moments.** The chain's mean coefficient and variance obey the recursions
# $m_t = \sqrt{\alpha_t}\, m_{t-1}$ and $v_t = \alpha_t v_{t-1} + \beta_t$ with $m_0 = 1, v_0 = 0$.
# Running them step by step must give $\sqrt{\bar\alpha_t}$ and $1 - \bar\alpha_t$ from the
# schedule, for every $t$ and every schedule:

# %%
for s in (NoiseSchedule.linear(300), NoiseSchedule.linear(1000), NoiseSchedule.cosine(1000)):
    m, v, worst = 1.0, 0.0, 0.0
    for t in range(1, s.T + 1):
        beta = float(s.betas[t - 1])
        m, v = (1 - beta) ** 0.5 * m, (1 - beta) * v + beta
        ab = float(s.alpha_bar[t])
        worst = max(worst, abs(m - ab**0.5), abs(v - (1 - ab)))
    print(f"{s.kind:6s} T = {s.T:4d}: recursion and closed form agree to 1e-12 at every step: {worst < 1e-12}")

# %% [markdown]
# **The distribution.** Now run the actual random chain: 2,000 independent copies of one digit,
# 300 steps each. At a few steps $t$ we estimate, from the copies, how much of the digit is
# left (the slope $c$ of the per-pixel mean against $x_0$) and how much noise was added (the
# per-pixel variance $v$, averaged over pixels), and set them beside the closed form. To show
# that the check has teeth we also print the closed form one step *earlier*, $\sqrt{\bar\alpha_{t-1}}$:
# an off-by-one error in the indexing of $\bar\alpha$ is the classic bug here.

# %%
n = 2000
x0 = tinyddpm.to_model(x[pick[0]])  # (1, 28, 28), one digit
chain = x0.expand(n, -1, -1, -1).clone()  # (2000, 1, 28, 28)
snapshots = {}
for t in range(1, 301):
    chain = diffusion.q_step(chain, t, torch.randn(chain.shape, generator=g), schedule)
    if t in (50, 150, 300):
        snapshots[t] = chain.double()
x0d = x0.double()
print(f"{'t':>4} {'c (chain)':>10} {'sqrt(ab_t)':>11} {'z':>5} {'sqrt(ab_t-1)':>13} {'z':>5} {'v (chain)':>10} {'1 - ab_t':>9}")
for t, c in snapshots.items():
    slope = float((c.mean(0) * x0d).sum() / (x0d**2).sum())
    var = float(c.var(0).mean())
    ab, ab_prev = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[t - 1])
    se = float(((1 - ab) / (n * (x0d**2).sum())) ** 0.5)  # standard error of the slope
    z, z_prev = (slope - ab**0.5) / se, (slope - ab_prev**0.5) / se
    print(f"{t:4d} {slope:10.4f} {ab**0.5:11.4f} {z:5.1f} {ab_prev**0.5:13.4f} {z_prev:5.1f} {var:10.4f} {1 - ab:9.4f}")

# %% [markdown]
# The columns headed z give each difference in standard errors of the estimate. The chain
# agrees with $\sqrt{\bar\alpha_t}$ to within chance (a z of one or two), and it disagrees with
# the off-by-one value by many standard errors wherever one step changes $\bar\alpha$ enough to
# be seen with 2,000 copies. At $t = 300$ the noise is so large that one step's difference is
# close to the resolution of the test. The variances agree to about a thousandth, which is
# the size of their own sampling error.
#
# Matching two moments does not yet show that $x_t$ is *Gaussian*. Standardize the copies with
# the closed form, $(x_t - \sqrt{\bar\alpha_t} x_0)/\sqrt{1-\bar\alpha_t}$; if the closed form is
# right, these 1.6 million numbers are draws from $\mathcal N(0, 1)$, and they should look like
# the noise that `q_sample` draws directly:

# %%
ab = float(schedule.alpha_bar[300])
z_chain = ((snapshots[300] - ab**0.5 * x0d) / (1 - ab) ** 0.5).flatten()
direct = diffusion.q_sample(x0.expand(n, -1, -1, -1), 300.0, torch.randn(n, 1, 28, 28, generator=g), schedule)
z_direct = ((direct.double() - ab**0.5 * x0d) / (1 - ab) ** 0.5).flatten()
for name, z in (("iterated chain", z_chain), ("q_sample      ", z_direct)):
    kurt = float(((z - z.mean()) ** 4).mean() / z.var() ** 2)
    print(f"{name}: mean {float(z.mean()):+.3f}   std {float(z.std()):.3f}   kurtosis {kurt:.2f} (normal: 3)")
grid_z = torch.linspace(-4, 4, 200)
plt.figure(figsize=(5, 3))
plt.hist(z_chain.numpy(), bins=80, range=(-4, 4), density=True, alpha=0.6, label="chain, t = 300")
plt.plot(grid_z, torch.exp(-grid_z**2 / 2) / (2 * torch.pi) ** 0.5, "k", lw=1, label="N(0, 1)")
plt.xlabel("standardized x_t"), plt.legend(fontsize=8), plt.tight_layout()
plt.show()

# %% [markdown]
# ## Linear and cosine schedules
#
# How fast the signal fades is set by the betas. The clearest way to compare schedules is the
# signal-to-noise ratio of $x_t$, $\mathrm{SNR}(t) = \bar\alpha_t / (1-\bar\alpha_t)$: the power of
# the scaled digit over the power of the noise. DDPM's linear schedule runs from
# $\beta_1 = 10^{-4}$ to $\beta_T = 0.02$; the cosine schedule of improved DDPM
# {cite}`nichol2021improved` instead sets $\bar\alpha_t = f(t)/f(0)$ with
# $f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}\tfrac{\pi}{2}\big)$, so that the log-SNR falls
# almost linearly in $t$ and no stretch of steps is wasted.

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
axes[1].axhspan(-2, 2, color="0.9", zorder=0)
axes[0].legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# The grey band marks $10^{-2} \le \mathrm{SNR} \le 10^{2}$. Above it $x_t$ is nearly the clean
# digit, below it nearly pure noise; the interesting work of a denoiser happens inside. The
# table counts how the steps of each schedule are spent:

# %%
print(f"{'schedule':40s} {'alpha_bar_T':>11} {'SNR > 100':>10} {'inside':>7} {'SNR < 0.01':>11}")
for name, s in schedules.items():
    ab = s.alpha_bar[1:]
    snr = ab / (1 - ab)
    share = lambda m: f"{100 * float(m.double().mean()):.1f} %"  # noqa: E731
    print(f"{name:40s} {float(ab[-1]):11.3g} {share(snr > 100):>10} {share((snr >= 0.01) & (snr <= 100)):>7} {share(snr < 0.01):>11}")

# %% [markdown]
# The linear schedule with $T = 1000$ spends about a third of its steps at an SNR below
# $10^{-2}$, where $x_t$ is noise for every practical purpose; that is the waste the cosine
# schedule was designed to remove. The linear schedule with $T = 300$ has the opposite
# problem: it never gets there at all.
#
# ## "Pure noise" that is not pure
#
# Generation runs the chain backwards from $x_T$, and the only $x_T$ we can draw without a
# digit in hand is $\mathcal N(0, I)$. That is harmless only if $q(x_T \mid x_0)$ is
# $\mathcal N(0, I)$ for every digit, i.e. if $\bar\alpha_T \approx 0$. For the original
# project's schedule it is not:

# %%
s300, cos = schedules["linear, T = 300 (the original project)"], schedules["cosine, T = 1000 (tinyddpm's model)"]
ab_T = float(s300.alpha_bar[-1])
print(f"linear T = 300: alpha_bar_T = {ab_T:.4f}; x_T keeps sqrt(alpha_bar_T) = {ab_T**0.5:.3f} of the digit's amplitude")
print(f"                SNR(T) = {ab_T / (1 - ab_T):.4f}, i.e. {10 * torch.log10(torch.tensor(ab_T / (1 - ab_T))):.1f} dB")

# %% [markdown]
# Five percent of the signal's power is not much per pixel, but it is the same five percent in
# all 784 pixels. The KL divergence between the chain's last state and the noise that
# generation starts from, $D_{\mathrm{KL}}(q(x_T \mid x_0)\,\|\,\mathcal N(0, I))$, is the prior term
# $L_T$ of DDPM's variational bound. DDPM leaves it out of training, since no parameter affects
# it, and picks $T$ and the betas so that it is negligible. Averaged over the 1,000 sample
# digits:

# %%
print(inspect.getsource(diffusion.prior_kl))
x0_all = tinyddpm.to_model(x)
for name, s in schedules.items():
    print(f"{name:40s} L_T = {float(diffusion.prior_kl(x0_all, s).mean()):.3g} nats per image")

# %% [markdown]
# The linear $T = 300$ chain ends well over ten nats away from pure noise; the cosine chain, a
# millionth of a nat. A divergence of $k$ nats means an average log-likelihood ratio of $k$:
# with $e^{k}$ to one on her side, a statistician could tell the chain's $x_T$ from pure noise
# almost every time. She would not even need the digit. Since
# $x_0 \approx -1$ on the black background, which covers most of the image,
# $x_T$ has a *mean* of about $-\sqrt{\bar\alpha_T} \approx -0.2$ there, and the average pixel of
# an $x_T$ is a strong tell:

# %%
g = tinyddpm.seeded(1)
x_T = diffusion.q_sample(x0_all, 300.0, torch.randn(x0_all.shape, generator=g), s300)  # (1000, 1, 28, 28)
pure = torch.randn(x0_all.shape, generator=g)
m_T, m_pure = x_T.mean((1, 2, 3)), pure.mean((1, 2, 3))
threshold = 0.5 * float(m_T.mean() + m_pure.mean())
correct = float(((m_T < threshold).sum() + (m_pure >= threshold).sum()) / 2000)
print(f"average pixel of x_T: {float(m_T.mean()):+.3f} (spread {float(m_T.std()):.3f});  of N(0, I): {float(m_pure.mean()):+.3f} (spread {float(m_pure.std()):.3f})")
print(f"one threshold on the average pixel tells them apart in {100 * correct:.1f} % of 2,000 images")
plt.figure(figsize=(5, 3))
plt.hist(m_T.numpy(), bins=40, alpha=0.6, label="x_300 of the linear chain")
plt.hist(m_pure.numpy(), bins=40, alpha=0.6, label="N(0, I)")
plt.xlabel("average pixel (model units)"), plt.legend(fontsize=8), plt.tight_layout()
plt.show()

# %% [markdown]
# ## What the mismatch does to generation
#
# A network trained on the linear $T = 300$ chain has only ever seen, at $t = 300$, inputs with
# that dark offset and a faint digit inside. Started from $\mathcal N(0, I)$ it is asked about an
# input it never saw. We can run that experiment without training a second model: tinyddpm's
# network was trained on the cosine schedule at *continuous* $t$, so it can be asked at the
# cosine step whose $\bar\alpha$ equals the linear step's (`ScheduleAdapter`, the same trick
# the benchmarks use to reproduce the original project's procedure). We run the deterministic DDIM sampler
# (chapter 4) in 10 steps down the linear $T = 300$ chain for 50 digits, starting once from the
# chain's true $x_{300}$ and once from $\mathcal N(0, I)$, and measure the generated digits'
# ink (the share of pixels above 0.5), against the real digits':

# %%
model, cos_schedule = tinyddpm.pretrained("ddpm")
classifier, _ = tinyddpm.pretrained("classifier")
net = ScheduleAdapter(model, cos_schedule, s300)  # asks the model at the cosine step with equal alpha_bar
few = torch.arange(0, 1000, 20)  # 50 digits, 5 of each class
starts = {"true x_300": x_T[few], "N(0, I)": pure[few]}
steps = samplers.ddim_timesteps(300.0, 10)
rows = {"source digit": x[few[::5]]}
print(f"real digits:           ink {100 * float((x[few] > 0.5).float().mean()):.1f} %")
for name, start in starts.items():
    out = tinyddpm.to_pixels(samplers.sample_loop(samplers.ddim_step, net, start, steps, s300)).clamp(0, 1)
    same = int((predict_labels(classifier, out) == labels[few]).sum())
    print(f"from {name:10s}:      ink {100 * float((out > 0.5).float().mean()):.1f} %   same class as the source digit: {same} of 50")
    rows[f"from {name}"] = out[::5]
viz.comparison(rows)

# %% [markdown]
# Started where the chain really ends, the sampler returns digits with the real digits' amount
# of ink, and (as the class count shows) often the source digit's own class: $x_{300}$ still
# carries information about which digit it came from. Started from $\mathcal N(0, I)$, the digits
# come out heavier: the missing dark offset is read as extra ink. This is why tinyddpm uses the
# cosine schedule with $T = 1000$, whose last state really is noise ({cite}`nichol2021improved`
# make the same argument for the linear $T = 1000$ schedule's uneven use of steps).
#
# ## Every noise level is a step
#
# The closed form has a second reading that the rest of the book leans on. Adding noise of
# standard deviation $s$ (model units) to a clean image gives $y = x_0 + s n$, and
# $\sqrt{\bar\alpha_t}\, y = \sqrt{\bar\alpha_t}\, x_0 + \sqrt{\bar\alpha_t}\, s\, n$ has exactly the
# distribution of $x_t$ when $\bar\alpha_t s^2 = 1 - \bar\alpha_t$, that is
# $s^2 = (1-\bar\alpha_t)/\bar\alpha_t$. A noisy photograph is a (rescaled) point of the forward
# chain. The package solves this for $t$, interpolating $\bar\alpha$ between grid steps so that
# the match is exact rather than rounded; that is the whole trick of chapter 5. In pixel units
# (images in $[0, 1]$) the model-space noise is twice the pixel sigma:

# %%
for sigma in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
    t_lin = float(tinyddpm.start_step(sigma, s300))
    t_cos = float(tinyddpm.start_step(sigma, cos))
    print(f"pixel sigma {sigma:4.2f}: t* = {t_lin:7.2f} of 300 (linear)   t* = {t_cos:7.2f} of 1000 (cosine)")

# %% [markdown]
# The forward chain is fixed and fully understood. What remains is the hard part: running it
# backwards, from $x_t$ to $x_{t-1}$, which requires knowing what digits look like. That is what
# the network of chapter 3 learns.
