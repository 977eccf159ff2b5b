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
# exactly.
#
# The forward process of DDPM {cite}`ho2020ddpm` is a Markov chain that, at each step
# $t = 1, \dots, T$, shrinks the image a little and adds a little Gaussian noise:
#
# $$ q(x_t \mid x_{t-1}) = \mathcal N\big(\sqrt{1-\beta_t}\, x_{t-1},\ \beta_t I\big). $$
#
# The numbers $\beta_1, \dots, \beta_T$ are the *schedule*. The shrinking factor
# $\sqrt{1-\beta_t}$ is what keeps the chain from blowing up: if $x_{t-1}$ has unit variance, so
# does $x_t$, since $(1-\beta_t) + \beta_t = 1$. Images live in model units, $[-1, 1]$ (pixels
# $p$ become $2p - 1$). The package implements one step exactly as written:
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: q_step
# ```

# %%

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue

import tinyddpm
from tinyddpm import diffusion, samplers, viz
from tinyddpm.baselines import ScheduleAdapter
from tinyddpm.book_data import HTMLTable
from tinyddpm.metrics import predict_labels
from tinyddpm.schedules import NoiseSchedule


schedules = {
    "linear, T = 300 (the original project)": NoiseSchedule.linear(300),
    "linear, T = 1000 (DDPM paper)": NoiseSchedule.linear(1000),
    "cosine, T = 1000 (tinyddpm's model)": NoiseSchedule.cosine(1000),
}
HTMLTable(
    ["schedule", "smallest beta", "largest beta", "steps with beta > 0.05"],
    [[name, f"{float(s.betas.min()):.2g}", f"{float(s.betas.max()):.3g}", int((s.betas > 0.05).sum())]
     for name, s in schedules.items()],
)

# %%
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
# = 1 - \alpha_t \bar\alpha_{t-1}$. So by induction, with $\bar\alpha_t = \prod_{s \le t} \alpha_s$,
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
for name, s in schedules.items():
    m, v, worst = 1.0, 0.0, 0.0
    for t in range(1, s.T + 1):
        beta = float(s.betas[t - 1])
        m, v = (1 - beta) ** 0.5 * m, (1 - beta) * v + beta
        ab = float(s.alpha_bar[t])
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
x0d = x0.double()
body, z_right, z_wrong, var_gap = [], [], {}, []
for t, c in snapshots.items():
    slope = float((c.mean(0) * x0d).sum() / (x0d**2).sum())
    var = float(c.var(0).mean())
    ab, ab_prev = float(schedule.alpha_bar[t]), float(schedule.alpha_bar[t - 1])
    se = float(((1 - ab) / (n * (x0d**2).sum())) ** 0.5)  # standard error of the slope
    z, z_prev = (slope - ab**0.5) / se, (slope - ab_prev**0.5) / se
    z_right.append(abs(z))
    z_wrong[t] = abs(z_prev)
    var_gap.append(abs(var - (1 - ab)))
    body.append([t, f"{slope:.4f}", f"{ab**0.5:.4f}", f"{z:.1f}", f"{ab_prev**0.5:.4f}", f"{z_prev:.1f}",
                 f"{var:.4f}", f"{1 - ab:.4f}"])
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
# $f(t) = \cos^2\!\big(\tfrac{t/T + s}{1+s}\tfrac{\pi}{2}\big)$, so that the log-SNR falls
# almost linearly in $t$ and no stretch of steps is wasted.

# %%
fig, axes = plt.subplots(1, 2, figsize=(6.8, 4.2), layout="constrained")
for name, s in schedules.items():
    frac = torch.arange(s.T + 1) / s.T
    ab = s.alpha_bar
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
for name, s in schedules.items():
    ab = s.alpha_bar[1:]
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
# ## "Pure noise" that is not pure
#
# Generation runs the chain backwards from $x_T$, and the only $x_T$ we can draw without a
# digit in hand is $\mathcal N(0, I)$. That is harmless only if $q(x_T \mid x_0)$ is
# $\mathcal N(0, I)$ for every digit, i.e. if $\bar\alpha_T \approx 0$. For the original
# project's schedule it is not:

# %%
s300 = schedule
ab_T = float(s300.alpha_bar[-1])
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
# parameter affects it, and picks $T$ and the betas so that it is negligible. Averaged over the
# 1,000 sample digits:
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: prior_kl
# ```

# %%
x0_all = tinyddpm.to_model(x)
L_T = {name: float(diffusion.prior_kl(x0_all, s).mean()) for name, s in schedules.items()}
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
x_T = diffusion.q_sample(x0_all, 300.0, torch.randn(x0_all.shape, generator=g), s300)  # (1000, 1, 28, 28)
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
net = ScheduleAdapter(model, cos_schedule, s300)  # asks the model at the cosine step with equal alpha_bar
few = torch.cat([torch.nonzero(labels == c)[:5, 0] for c in range(10)])  # 50 digits, 5 of each class
print("digits per class:", torch.bincount(labels[few]).tolist())
starts = {"true x_300": x_T[few], "N(0, I)": pure[few]}
steps = samplers.ddim_timesteps(300.0, 10)
rows = {"source digit": x[few[::5]]}
ink = {"real digits": 100 * float((x[few] > 0.5).float().mean())}
same = {}
for name, start in starts.items():
    out = tinyddpm.to_pixels(samplers.sample_loop(samplers.ddim_step, net, start, steps, s300)).clamp(0, 1)
    same[name] = int((predict_labels(classifier, out) == labels[few]).sum())
    ink[f"from {name}"] = 100 * float((out > 0.5).float().mean())
    rows[f"from {name}"] = out[::5]
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
# schedule's uneven use of steps).
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
body = []
for sigma in (0.05, 0.1, 0.2, 0.3, 0.5, 1.0):
    t_lin = float(tinyddpm.start_step(sigma, s300))
    t_cos = float(tinyddpm.start_step(sigma, cos))
    body.append([f"{sigma:.2f}", f"{t_lin:.2f}", f"{t_cos:.2f}"])
HTMLTable(["pixel sigma", "t* of 300 (linear)", "t* of 1000 (cosine)"], body)

# %% [markdown]
# The forward chain is fixed and fully understood. What remains is the hard part: running it
# backwards, from $x_t$ to $x_{t-1}$, which requires knowing what digits look like. That is what
# the network of chapter 3 learns.
