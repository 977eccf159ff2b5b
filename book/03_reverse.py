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
# one learned ingredient: a guess of $x_0$ from $x_t$. This chapter is about learning it: the
# loss and where it comes from, why it makes a denoiser, the network, and its training.
# Symbols are listed on the {doc}`notation` page.

# %% tags=["hide-input"]
import csv
import math
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from IPython.display import display
from myst_nb import glue
from torch.distributions import Normal, kl_divergence

import tinyddpm
from tinyddpm import diffusion, samplers, viz
from tinyddpm.harness.analytic import GaussianEps, gaussian_posterior
from tinyddpm.harness.book_data import HTMLTable, read_json, results_path
from tinyddpm.checkpoint import load_model, pretrained_path
from tinyddpm.metrics import psnr
from tinyddpm.harness.train import quick_config, train
from tinyddpm.unet import num_parameters, summary, timestep_embedding

MNIST_TRAINING_DIGITS = 60_000  # the size of MNIST's training split; TrainConfig.train_limit=None uses all of it
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
# ## Where the loss comes from: the variational bound
#
# Ho et al. did not pick this loss by taste. A diffusion model is a latent-variable model, like
# the VAE of chapter 1: the latents are $x_1, \dots, x_T$, the "encoder" is the fixed forward
# chain $q$, and the "decoder" is the learned reverse chain
# $p_\theta(x_{0:T}) = p(x_T) \prod_{t \ge 1} p_\theta(x_{t-1} \mid x_t)$, with
# $p(x_T) = \mathcal N(0, I)$. Its likelihood $p_\theta(x_0)$ integrates over every path and
# cannot be computed, but it has the same kind of lower bound as a VAE's (the ELBO)
# {cite}`sohl2015deep,kingma2014vae`, and its negative splits into one term per step
# (DDPM {cite}`ho2020ddpm`, Eq. 5):
#
# $$ -\log p_\theta(x_0) \le \mathbb E_q\Big[\underbrace{\mathrm{KL}\big(q(x_T \mid x_0)\,\Vert\,p(x_T)\big)}_{L_T} + \sum_{t>1} \underbrace{\mathrm{KL}\big(q(x_{t-1} \mid x_t, x_0)\,\Vert\,p_\theta(x_{t-1} \mid x_t)\big)}_{L_{t-1}} \underbrace{-\,\log p_\theta(x_0 \mid x_1)}_{L_0}\Big]. $$
#
# ```{admonition} Derivation: the bound, term by term
# :class: dropdown
#
# Jensen's inequality ($\log \mathbb E \ge \mathbb E \log$), with the forward chain as the
# distribution of the latents:
#
# $$ -\log p_\theta(x_0) = -\log \mathbb E_{q(x_{1:T} \mid x_0)}\Big[\frac{p_\theta(x_{0:T})}{q(x_{1:T} \mid x_0)}\Big] \le \mathbb E_q\Big[-\log p(x_T) - \sum_{t \ge 1} \log \frac{p_\theta(x_{t-1} \mid x_t)}{q(x_t \mid x_{t-1})}\Big]. $$
#
# The forward chain is Markov, so $q(x_t \mid x_{t-1}) = q(x_t \mid x_{t-1}, x_0)$, and by
# Bayes' rule, for $t > 1$,
#
# $$ q(x_t \mid x_{t-1}, x_0) = \frac{q(x_{t-1} \mid x_t, x_0)\; q(x_t \mid x_0)}{q(x_{t-1} \mid x_0)}. $$
#
# Put into the sum, the ratios $q(x_t \mid x_0) / q(x_{t-1} \mid x_0)$ telescope to
# $q(x_T \mid x_0) / q(x_1 \mid x_0)$, and $q(x_1 \mid x_0)$ cancels against the denominator of
# the $t = 1$ term. What is left is
#
# $$ \mathbb E_q\Big[\log \frac{q(x_T \mid x_0)}{p(x_T)} + \sum_{t>1} \log \frac{q(x_{t-1} \mid x_t, x_0)}{p_\theta(x_{t-1} \mid x_t)} - \log p_\theta(x_0 \mid x_1)\Big], $$
#
# and the expectation of each log-ratio is a KL divergence: $L_T + \sum_{t>1} L_{t-1} + L_0$.
# ```
#
# $L_T$ has no parameters: chapter 2 measured it with `diffusion.prior_kl`, and the cosine
# schedule makes it negligible. $L_0$ scores the last step against the data (Ho et al. use a
# decoder over the discrete pixel values; tinyddpm's last step simply returns $\hat x_0$ and
# the book does not compute it). Everything that trains is in the $L_{t-1}$, and each compares
# two Gaussians. The first is the forward posterior of chapter 2, with mean $\tilde\mu_t$ and
# variance $\tilde\beta_t$. The second is the network's reverse step,
# $p_\theta(x_{t-1} \mid x_t) = \mathcal N(\mu_\theta(x_t, t), \tilde\beta_t I)$: its variance
# is not learned, and tinyddpm takes the forward posterior's own $\tilde\beta_t$
# (`samplers.ancestral_step` draws with the variance that `q_posterior` returns; Ho et al. found
# $\beta_t$ about as good). With equal variances, the KL divergence of two Gaussians is a scaled
# squared distance between their means,
#
# $$ L_{t-1} = \frac{1}{2\tilde\beta_t}\, \big\lVert \tilde\mu_t(x_t, x_0) - \mu_\theta(x_t, t) \big\rVert^2 $$
#
# (Ho et al.'s Eq. 8 adds a constant $C$, for any variance; with $\tilde\beta_t$ on both sides
# $C = 0$). Written with the noise instead of $x_0$ (the algebra is in the box below), the
# target mean is $\tilde\mu_t = \big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\epsilon\big)/\sqrt{\alpha_t}$.
# $x_t$ is known to the network; only $\epsilon$ is not. So DDPM gives $\mu_\theta$ the same form
# with a predicted noise, $\mu_\theta = \big(x_t - \frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\epsilon_\theta(x_t, t)\big)/\sqrt{\alpha_t}$,
# and the two means differ only through the noise:
#
# $$ L_{t-1} = \underbrace{\frac{\beta_t^2}{2\tilde\beta_t\,\alpha_t\,(1-\bar\alpha_t)}}_{\lambda_t}\, \big\lVert \epsilon - \epsilon_\theta(x_t, t) \big\rVert^2 . $$
#
# ```{admonition} Derivation: the target mean in terms of the noise
# :class: dropdown
#
# Chapter 2's posterior mean is
# $\tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}}\,\beta_t}{1-\bar\alpha_t}\,x_0 + \frac{\sqrt{\alpha_t}\,(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}\,x_t$.
# Put in $x_0 = (x_t - \sqrt{1-\bar\alpha_t}\,\epsilon)/\sqrt{\bar\alpha_t}$ and use
# $\bar\alpha_t = \alpha_t \bar\alpha_{t-1}$, so that $\sqrt{\bar\alpha_{t-1}}/\sqrt{\bar\alpha_t} = 1/\sqrt{\alpha_t}$:
#
# - the coefficient of $x_t$ is $\frac{\beta_t + \alpha_t(1-\bar\alpha_{t-1})}{\sqrt{\alpha_t}\,(1-\bar\alpha_t)} = \frac{1 - \alpha_t + \alpha_t - \bar\alpha_t}{\sqrt{\alpha_t}\,(1-\bar\alpha_t)} = \frac{1}{\sqrt{\alpha_t}}$;
# - the coefficient of $\epsilon$ is $-\frac{\beta_t\,\sqrt{1-\bar\alpha_t}}{\sqrt{\alpha_t}\,(1-\bar\alpha_t)} = -\frac{\beta_t}{\sqrt{\alpha_t}\,\sqrt{1-\bar\alpha_t}}$.
#
# With $\mu_\theta$ of the same form, $\tilde\mu_t - \mu_\theta = \frac{\beta_t}{\sqrt{\alpha_t}\,\sqrt{1-\bar\alpha_t}}\,(\epsilon_\theta - \epsilon)$;
# its squared norm over $2\tilde\beta_t$ is $\lambda_t \lVert \epsilon - \epsilon_\theta \rVert^2$.
# Since $\tilde\mu_t$ is linear in $x_0$, the same $\mu_\theta$ is also $\tilde\mu_t$ evaluated
# at $\hat x_0$ = `predict_x0`$(x_t, t, \epsilon_\theta)$, which is how the package's sampler
# computes it.
# ```
#
# A check of both steps at three values of $t$, for one bundled digit, its true noise
# $\epsilon$ and a stand-in for the network, $\epsilon_\theta = \epsilon + $ an error: the KL
# divergence computed directly from the two Gaussians (the target from `q_posterior`, the
# network's step as `ancestral_step` computes it, without clipping or fresh noise) against the
# weighted noise error, in nats per image:

# %%
cosine = tinyddpm.NoiseSchedule.cosine(1000)
x0, g = tinyddpm.to_model(x[:1]).double(), tinyddpm.seeded(1)  # one digit, model units
for t in (2, 300, 999):
    eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
    eps_theta = eps + 0.3 * torch.randn(x0.shape, generator=g, dtype=torch.float64)  # a guess
    x_t = diffusion.q_sample(x0, t, eps, cosine)
    mean_q, var = diffusion.q_posterior(x0, x_t, t, t - 1, cosine)  # q(x_{t-1} | x_t, x_0)
    mean_p = samplers.ancestral_step(lambda *_: eps_theta, x_t, t, t - 1, cosine,
                                     clip_x0=False, add_noise=False)  # p_theta's mean
    kl = kl_divergence(Normal(mean_q, var.sqrt()), Normal(mean_p, var.sqrt())).sum()
    b, a, ab = (float(v) for v in (cosine.betas[t - 1], cosine.alphas[t - 1], cosine.alpha_bar[t]))
    weighted = b**2 / (2 * float(var) * a * (1 - ab)) * ((eps - eps_theta) ** 2).sum()
    mu_theta = (x_t - b / (1 - ab) ** 0.5 * eps_theta) / a**0.5  # the epsilon form
    print(f"t = {t:3d}: KL {float(kl):8.4f}, weighted error {float(weighted):8.4f} nats\n         equal: "
          f"{bool(torch.isclose(kl, weighted, rtol=1e-9))}; mean = mu_theta: {torch.allclose(mean_p, mu_theta)}")

# %% [markdown]
# The two agree to rounding error at every $t$ tried, and the sampler's mean is the
# $\epsilon$-form $\mu_\theta$. So the variational bound, for this choice of reverse step, is
# a sum of noise-prediction errors with weights $\lambda_t$. $L_{\text{simple}}$ is that sum
# with every $\lambda_t$ replaced by one (and averaged over pixels instead of summed, a
# constant factor). What does dropping the weights change? Here are the weights of the
# cosine schedule:

# %%
b, a, ab = cosine.betas, cosine.alphas, cosine.alpha_bar[1:]  # t = 1..T
lam = b**2 / (2 * cosine.posterior_variance * a * (1 - ab))  # lambda_t (infinite at t = 1)
steps = torch.arange(2, cosine.T + 1)
plt.figure(figsize=(6, 3.2))
plt.semilogy(steps, lam[1:], label=r"$\lambda_t$: the variational bound")
plt.axhline(1.0, color="k", ls=":", lw=1, label=r"$L_{\mathrm{simple}}$: one for every $t$")
plt.xlabel("t"), plt.ylabel("weight of the noise error"), plt.legend()
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
inner = lam[1:]  # t = 2..T
glue("lam_2", float(lam[1]), display=False)
glue("lam_min", float(inner.min()), display=False)
glue("lam_t_min", int(inner.argmin()) + 2, display=False)
glue("lam_ratio", float(lam[1] / inner.min()), display=False)
glue("lam_T1", float(lam[-2]), display=False)
glue("lam_T", float(lam[-1]), display=False)

# %% [markdown]
# The bound weighs the nearly clean steps most: $\lambda_2$ = {glue:text}`lam_2:.2f`, and the
# weight falls to {glue:text}`lam_min:.4f` at $t$ = {glue:text}`lam_t_min`, a factor
# {glue:text}`lam_ratio:.0f` below. $L_{\text{simple}}$ weighs them all the same, so compared
# with the bound it **down-weights the small $t$**, where the noise is a faint film on an
# almost clean digit, and **up-weights the middle and noisy steps**, where denoising is
# harder. Ho et al. found that this gives better samples than the bound itself
# {cite}`ho2020ddpm`. In the last steps the weight climbs again
# ({glue:text}`lam_T1:.1f` at $t = T - 1$, {glue:text}`lam_T:.0f` at $t = T$), because
# $\alpha_t = 1 - \beta_t$ in its denominator goes towards zero there (the cosine schedule caps
# $\beta_t$ at $0.999$); at those steps $x_t$ is almost pure noise and "the noise is $x_t$" is
# nearly exact, so their error is small either way. tinyddpm's training reweights once more,
# through how it draws $t$ (`t_sampling`, below). None of these weights changes the best
# $\epsilon_\theta$ at any one $t$, only how the network's capacity is shared between them.
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
#    formula {cite}`efron2011tweedie,miyasawa1961` says the same thing in another language
#    (the score view, below).
# 3. **The losses are the same up to a weight.** Substituting $\hat x_0$ and $x_0$ into the closed
#    form, $\lVert \hat x_0 - x_0 \rVert^2 = \frac{1-\bar\alpha_t}{\bar\alpha_t}\, \lVert \hat\epsilon - \epsilon \rVert^2$
#    exactly. Minimising the noise error at step $t$ *is* minimising the denoising error at the
#    model-unit noise level $2\sigma = \sqrt{(1-\bar\alpha_t)/\bar\alpha_t}$, weighted by the
#    signal-to-noise ratio $\mathrm{SNR}_t = \bar\alpha_t/(1-\bar\alpha_t)$.
#
# Since $t$ is an input, one network is an MMSE denoiser for every noise level the schedule
# covers. The conversion of the second point is `predict_x0`:
#
# ```{literalinclude} /src/tinyddpm/diffusion.py
# :pyobject: predict_x0
# ```
#
# We can check the second point where the answer is known in closed form. If the "digits" were
# Gaussian, $x_0 \sim \mathcal N(m, v I)$, the optimal noise predictor
# $\mathbb E[\epsilon \mid x_t]$ is a linear function (`tinyddpm.harness.analytic.GaussianEps`), and the
# MMSE denoiser of $y = x_0 + 2\sigma n$ (model units) is the classical Wiener filter
# $m + \frac{v}{v + 4\sigma^2}(y - m)$. Feeding the optimal noise predictor through
# `predict_x0` must give the Wiener filter, at every noise level:

# %%
m, v = -0.5, 0.36  # a Gaussian stand-in for the data, x0 ~ N(m, v), model units
ideal = GaussianEps(cosine, m, v**0.5)
g = tinyddpm.seeded(0)
x0 = m + v**0.5 * torch.randn(500, 1, 28, 28, generator=g, dtype=torch.float64)
for t in (50.0, 300.0, 700.0):
    ab = float(cosine.alpha_bar_at(t))
    x_t = diffusion.q_sample(x0, t, torch.randn(x0.shape, generator=g, dtype=torch.float64), cosine)
    via_eps = diffusion.predict_x0(x_t, t, ideal(x_t, torch.full((500,), t)), cosine)
    two_sigma = ((1 - ab) / ab) ** 0.5  # the model-unit noise of y = x_t / sqrt(alpha_bar_t)
    wiener, _ = gaussian_posterior(x_t / ab**0.5, two_sigma, m, v**0.5)
    agree = bool(torch.allclose(via_eps, wiener, rtol=0, atol=1e-12))
    print(f"t = {t:3.0f} (pixel sigma {two_sigma / 2:5.3f}): equals the Wiener filter to 1e-12: {agree}")

# %% [markdown]
# They agree to rounding error. Real digits are not Gaussian, so no formula gives
# $\mathbb E[x_0 \mid x_t]$; that is what the network is for.
#
# ### The score view
#
# The same network has a second reading, the one of score-based models {cite}`song2021sde`.
# The *score* of a density is the gradient of its logarithm, $\nabla_x \log p(x)$: an arrow
# pointing towards more probable images. For one training example the score of the forward
# process is known exactly, since $q(x_t \mid x_0)$ is a Gaussian with mean
# $\sqrt{\bar\alpha_t}\,x_0$ and variance $1 - \bar\alpha_t$:
#
# $$ \nabla_{x_t} \log q(x_t \mid x_0) = -\frac{x_t - \sqrt{\bar\alpha_t}\,x_0}{1-\bar\alpha_t} = -\frac{\epsilon}{\sqrt{1-\bar\alpha_t}} . $$
#
# The score we want is that of the noisy *data*, $\nabla_{x_t} \log q(x_t)$, which no formula
# gives. Vincent {cite}`vincent2011dsm` showed that regressing onto the per-example score,
# $\mathbb E\, \lVert s_\theta(x_t) - \nabla_{x_t} \log q(x_t \mid x_0) \rVert^2$
# (*denoising score matching*), has the same minimiser as regressing onto the unknown one: the
# two losses differ by a constant that does not depend on $s_\theta$, and the minimiser is
# $\mathbb E[\nabla_{x_t} \log q(x_t \mid x_0) \mid x_t] = \nabla_{x_t} \log q(x_t)$. Write
# $s_\theta = -\epsilon_\theta / \sqrt{1-\bar\alpha_t}$, and the denoising-score-matching loss at
# step $t$ becomes $\lVert \epsilon - \epsilon_\theta \rVert^2 / (1-\bar\alpha_t)$; weighted by
# $1-\bar\alpha_t$, as Song et al. weight it, that is $L_{\text{simple}}$ once more. So the
# noise predictor is a scaled score estimate,
#
# $$ \epsilon_\theta(x_t, t) \approx -\sqrt{1-\bar\alpha_t}\; \nabla_{x_t} \log q(x_t), $$
#
# and Tweedie's formula turns a score into the posterior mean:
#
# $$ \mathbb E[x_0 \mid x_t] = \frac{x_t + (1-\bar\alpha_t)\, \nabla_{x_t} \log q(x_t)}{\sqrt{\bar\alpha_t}} = \frac{x_t - \sqrt{1-\bar\alpha_t}\; \epsilon^*(x_t, t)}{\sqrt{\bar\alpha_t}}, $$
#
# which is `predict_x0`, term for term. First the per-example score, by automatic
# differentiation of the log-density:

# %%
t = 300.0
ab = float(cosine.alpha_bar_at(t))
g = tinyddpm.seeded(4)
x0 = m + v**0.5 * torch.randn(4, 1, 28, 28, generator=g, dtype=torch.float64)
eps = torch.randn(x0.shape, generator=g, dtype=torch.float64)
x_t = diffusion.q_sample(x0, t, eps, cosine).requires_grad_()
log_q = Normal(ab**0.5 * x0, (1 - ab) ** 0.5).log_prob(x_t).sum()  # log q(x_t | x_0)
(score,) = torch.autograd.grad(log_q, x_t)
print("score of q(x_t | x_0) = -eps / sqrt(1 - alpha_bar_t):",
      torch.allclose(score, -eps / (1 - ab) ** 0.5))

# %% [markdown]
# For the Gaussian stand-in the noisy data is Gaussian too,
# $q(x_t) = \mathcal N\big(\sqrt{\bar\alpha_t}\,m,\ (\bar\alpha_t v + 1 - \bar\alpha_t) I\big)$,
# so its score is known, and so is the posterior mean,
# $\mathbb E[x_0 \mid x_t] = m + \frac{\sqrt{\bar\alpha_t}\, v}{\bar\alpha_t v + 1 - \bar\alpha_t}\,(x_t - \sqrt{\bar\alpha_t}\,m)$
# (Gaussian conditioning). Tweedie's formula with the exact score, `predict_x0` fed the exact
# noise $-\sqrt{1-\bar\alpha_t}\,\nabla \log q(x_t)$, and that posterior mean must agree, and the
# package's exact noise model for Gaussian data must be the scaled score:

# %%
x_t = x_t.detach().requires_grad_()
log_q = Normal(ab**0.5 * m, (ab * v + 1 - ab) ** 0.5).log_prob(x_t).sum()  # log q(x_t)
(score,) = torch.autograd.grad(log_q, x_t)
x_t = x_t.detach()
posterior_mean = m + ab**0.5 * v / (ab * v + 1 - ab) * (x_t - ab**0.5 * m)
tweedie = (x_t + (1 - ab) * score) / ab**0.5
eps_exact = -((1 - ab) ** 0.5) * score
print("Tweedie's formula = E[x0 | x_t]:", torch.allclose(tweedie, posterior_mean))
via_package = diffusion.predict_x0(x_t, t, eps_exact, cosine)
print("predict_x0(exact noise) = E[x0 | x_t]:", torch.allclose(via_package, posterior_mean))
exact_model = ideal(x_t, torch.full((4,), t))  # the package's E[eps | x_t] for Gaussian data
print("GaussianEps = -sqrt(1 - alpha_bar_t) * score:", torch.allclose(exact_model, eps_exact))

# %% [markdown]
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
l1l2 = read_json("l1_vs_l2.json")
models = l1l2["models"]
rows = []
for name, title in (("l2", "L2 (L_simple)"), ("l1", "L1 (the student's)")):
    pm = models[name]["posterior_mean"]
    rows.append([title] + [(f"{v['psnr']:.2f}", f"{v['mean_on_background']:.4f}") for v in pm.values()])
l2_pm, l1_pm = models["l2"]["posterior_mean"], models["l1"]["posterior_mean"]
gap = [l2_pm[k]["psnr"] - l1_pm[k]["psnr"] for k in l2_pm]
glue("l1_cost_min", min(gap), display=False)
glue("l1_cost_max", max(gap), display=False)
glue("l1_side", "below" if min(gap) > 0 else "above" if max(gap) < 0 else "around", display=False)
glue("l1_id_gap", 100 * max(abs(l2_pm[k]["identity"] - l1_pm[k]["identity"]) for k in l2_pm), display=False)
bg = [l1_pm[k]["mean_on_background"] - l2_pm[k]["mean_on_background"] for k in l2_pm]
glue("l1_bg", "darker" if max(bg) < 0 else "lighter" if min(bg) > 0 else "neither darker nor lighter", display=False)
l2_psnr = [v["psnr"] for v in l2_pm.values()]
level_steps = [abs(a - b) for a, b in zip(l2_psnr, l2_psnr[1:])]
glue("level_step_min", min(level_steps), display=False)
glue("level_step_max", max(level_steps), display=False)
glue("l1l2_steps", models["l1"]["run"]["steps"], display=False)
HTMLTable(["loss"] + [f"σ = {k}" for k in l2_pm], rows,
          caption=f"posterior-mean PSNR (dB, first line) and mean output on the clean background (second "
                  f"line), {l1l2['digits']} bundled digits")

# %% [markdown]
# After {glue:text}`l1l2_steps:d` steps each, the L1 model's posterior mean is
# {glue:text}`l1_cost_min:.2f` to {glue:text}`l1_cost_max:.2f` dB {glue:text}`l1_side` the L2
# model's, and the classifier's identity score of the two differs by at most
# {glue:text}`l1_id_gap:.1f` percentage points. For scale, one step along the table, from one
# noise level to the next, moves PSNR by {glue:text}`level_step_min:.1f` to
# {glue:text}`level_step_max:.1f` dB: measured, the choice of loss changes little. The L1
# model's mean output on the clean background is {glue:text}`l1_bg`, as a median's should be:
# it does not spread the grey haze of "maybe a stroke here" that a mean does.
#
# So the loss is not what made the student's outputs look crisp. Either loss gives, in one
# step, an average over the digits that could lie under the noise, soft wherever the noise
# leaves doubt (the figure further down shows it for the shipped model). Crisp digits come from
# *sampling*: chapter 5 runs the reverse chain with the shipped model, trained with the square,
# and its ancestral samples commit to crisp edges where the posterior mean is grey. The
# student's procedure ran such a chain. Nor did the student invent L1: The Annotated Diffusion
# Model {cite}`rogge2022annotated`, a widely read tutorial, defaults its loss function to
# `loss_type="l1"` and trains with `"huber"` (`F.smooth_l1_loss`: the square for small errors,
# the absolute value for large ones). What the square buys is what this chapter relies on: the
# estimate with the least squared error, which is what PSNR measures and what Tweedie's
# formula needs.
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
print("\n".join(textwrap.wrap(repr(model.config), 76, subsequent_indent="    ")))
blocks = summary(model)  # one probe input through the network, with forward hooks

# %% tags=["hide-input"]
modules = dict(model.named_modules())
shape = lambda size: "x".join(map(str, size[1:])) or "label"  # noqa: E731  (drops the batch dimension)
rows = [[r.name, r.kind, shape(r.input_shape), shape(r.output_shape), f"{num_parameters(modules[r.name]):,}"]
        for r in blocks]
time_row = next(r for r in blocks if r.name == "time_mlp")
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
# Three of its parts deserve a few sentences each.
#
# ### The time embedding
#
# The network must know how much noise to expect, and $t$ is one number, possibly fractional.
# Fed in raw, one number would have to steer every feature through a few weights. Instead, as
# in DDPM and after the position code of the Transformer {cite}`vaswani2017attention`, $t$
# becomes a vector of cosines and sines at geometrically spaced frequencies,
#
# $$ e(t) = \big(\cos \omega_0 t, \dots, \cos \omega_{K-1} t,\ \sin \omega_0 t, \dots, \sin \omega_{K-1} t\big), \qquad \omega_k = 10000^{-k/K}, $$
#
# with $K$ = {glue:text}`emb_half` here, which the MLP (`time_mlp` in the table) then maps to
# the vector that every block adds. The fastest pair turns once every $2\pi \approx 6.3$ steps
# and tells neighbouring steps apart; the slowest turns once every
# {glue:text}`period_max:,.0f` steps, so over the whole chain it moves less than half a turn and
# places $t$ in the range. Every component is a smooth function of $t$: a fractional $t$ lands
# between its neighbours, and nearby steps, which need nearly the same denoising, start from
# nearly the same code. The distance of a few codes from that of $t = 500$:

# %%
ts = torch.tensor([500.0, 500.5, 501.0, 510.0, 600.0, 900.0])
e = timestep_embedding(ts, model.config.base_channels)  # (6, 2K): K cosines, K sines
distance = dict(zip(ts[1:].tolist(), (e[1:] - e[0]).norm(dim=1).tolist()))
for t_other, d in distance.items():
    print(f"|e({t_other:g}) - e(500)| = {d:.2f}")
grid = timestep_embedding(torch.arange(0.0, schedule.T + 1), model.config.base_channels)
plt.figure(figsize=(6, 2.6))
plt.imshow(grid.T, aspect="auto", cmap="RdBu", interpolation="nearest")
plt.xlabel("t"), plt.ylabel("component of e(t)"), plt.colorbar()
plt.tight_layout()
plt.show()

# %% tags=["hide-input"]
half = model.config.base_channels // 2
glue("emb_half", half, display=False)
glue("period_max", 2 * math.pi * 10000 ** ((half - 1) / half), display=False)  # the slowest omega_k
glue("d_half", distance[500.5], display=False)
glue("d_one", distance[501.0], display=False)
glue("d_far_min", min(distance[600.0], distance[900.0]), display=False)
glue("d_far_max", max(distance[600.0], distance[900.0]), display=False)
glue("d_max", 2 * half**0.5, display=False)  # two opposite codes: |e| = sqrt(K) each
glue("far_near", round(600.0 - 500.0), display=False)
glue("far_far", round(900.0 - 500.0), display=False)

# %% [markdown]
# Half a step away the code moves by {glue:text}`d_half:.2f` and one step away by
# {glue:text}`d_one:.2f`, against {glue:text}`d_far_min:.2f` to {glue:text}`d_far_max:.2f` for
# steps {glue:text}`far_near` and {glue:text}`far_far` away (two codes can be at most {glue:text}`d_max:.0f` apart). In the
# picture (cosines above, sines below), the first rows of each half, the fast components,
# flicker with $t$, and the last ones drift slowly.
#
# ### GroupNorm
#
# Every residual block normalises its input before each convolution. GroupNorm
# {cite}`wu2018groupnorm` splits the channels into groups (`groups` in the configuration) and
# shifts and scales each group *of each image* to mean zero and variance one, before a learned
# scale and shift. The statistics come from one image alone. BatchNorm, the usual choice in
# classifiers, takes them across the batch: an image's output would then depend on which other
# images share its batch, and, in training, on a batch that mixes every $t$. With GroupNorm the
# network is a function of one image, whatever the batch around it:

# %%
noise8 = torch.randn(8, 1, 28, 28, generator=tinyddpm.seeded(2))
noisy8 = diffusion.q_sample(tinyddpm.to_model(x[:8]), 300.0, noise8, schedule)  # 8 digits, t = 300
norms = {"GroupNorm": torch.nn.GroupNorm(1, 1), "BatchNorm, training mode": torch.nn.BatchNorm2d(1)}
with torch.no_grad():
    for name, norm in norms.items():
        same = torch.allclose(norm(noisy8[:1]), norm(noisy8)[:1], atol=1e-5)
        print(f"{name}: digit 0 alone = digit 0 in a batch of 8: {same}")
    alone = model(noisy8[:1], torch.full((1,), 300.0))
    in_batch = model(noisy8, torch.full((8,), 300.0))[:1]
same = torch.allclose(alone, in_batch, atol=1e-5)
print(f"the shipped network: digit 0 alone = digit 0 in a batch of 8: {same}")

# %% [markdown]
# ### Self-attention at the lowest resolution
#
# A $3 \times 3$ convolution mixes each position with its eight neighbours, and it takes many
# layers for the top of a digit to hear about the bottom. Self-attention
# {cite}`vaswani2017attention` lets every position read every other in one layer: each position
# emits a query, a key and a value (linear maps of its features), and its output is the average
# of all the values, weighted by the softmax of its query's products with every key. The
# package's layer has one head, a GroupNorm before it and a residual connection around it:
#
# ```{literalinclude} /src/tinyddpm/unet.py
# :pyobject: Attention.forward
# :dedent:
# ```
#
# Its cost grows with the square of the number of positions: $49^2 = 2401$ pairs at
# $7 \times 7$, $784^2 = 614{,}656$ at $28 \times 28$. So the U-Net uses it only at the
# bottleneck (`attention_at_lowest`), where the whole digit fits in a few positions. Change one
# position of a $7 \times 7$ feature map and count the output positions that move:

# %%
c = model.mid_attn.qkv.in_channels  # the bottleneck's channels
h = torch.randn(1, c, 7, 7, generator=tinyddpm.seeded(3))
bumped = h.clone()
bumped[..., 3, 3] += 1.0  # the centre position of the 7 x 7 grid
layers = {"3x3 convolution (mid1.conv1)": model.mid1.conv1, "self-attention (mid_attn)": model.mid_attn}
with torch.no_grad():
    for name, layer in layers.items():
        moved = int(((layer(bumped) - layer(h)).abs().amax(dim=1) > 1e-6).sum())
        print(f"{name}: {moved} of {h.shape[-2] * h.shape[-1]} output positions change")

# %% [markdown]
# The convolution's change stays in the $3 \times 3$ neighbourhood; attention's reaches every
# position. (Part of that reach is the GroupNorm inside the attention layer, whose statistics
# the bump moves; but those are two numbers per group, while attention lets each position
# choose which others to read.)
#
# ## Training, live
#
# The shipped model learned from MNIST's {glue:text}`train_digits:,d` training digits; it never
# saw the test digits that the package bundles and that this book evaluates on. Its weights file
# records how it was trained:

# %%
_, _, info = load_model(pretrained_path("ddpm"))  # the weights file records the training
stages = ([info["init_run"]] if "init_run" in info else []) + [info]  # a fine-tune records its start
for stage in stages:
    tc = stage["train_config"]
    n_digits = tc.get("train_limit") or MNIST_TRAINING_DIGITS  # None: all of them
    print(f"{stage['steps']:,} steps of {tc['batch_size']} digits drawn from {n_digits:,}: "
          f"lr {tc['lr']}, p_uncond {tc['p_uncond']}, {stage['wall_time_s'] / 60:.1f} min")
total_s = info.get("total_wall_time_s", info["wall_time_s"])
print(f"{tc['schedule']['kind']} schedule, T = {tc['schedule']['T']}; {total_s / 60:.1f} min in all")

# %% tags=["hide-input"]
shipped_images = sum(st["images_seen"] for st in stages)
glue("stage_sentence", "It trained in one run from scratch (the printout gives its steps, learning rate and share "
     "of null labels)" if len(stages) == 1 else f"It trained in {({2: 'two', 3: 'three'}).get(len(stages), len(stages))} "
     "stages, each continuing from the one "
     "before (the printout gives each one's steps, learning rate and share of null labels)", display=False)
glue("train_digits", n_digits, display=False)
glue("shipped_steps", sum(st["steps"] for st in stages), display=False)
glue("shipped_images", shipped_images, display=False)
glue("shipped_epochs", shipped_images / n_digits, display=False)
glue("shipped_minutes", round(total_s / 60), display=False)
glue("shipped_cores", read_json("models.json")["ddpm"]["machine"]["cores"], display=False)

# %% [markdown]
# {glue:text}`stage_sentence`: {glue:text}`shipped_steps:,d`
# steps and {glue:text}`shipped_images:,d` digits drawn in all, about
# {glue:text}`shipped_epochs:.0f` passes over the training digits, in
# {glue:text}`shipped_minutes` minutes on
# {glue:text}`shipped_cores` CPU cores (`MODELS.md` in the repository gives the commands). Here
# is the same training loop, `tinyddpm.harness.train`, on a much smaller network
# ({glue:text}`live_base` base channels, {glue:text}`live_levels` resolution levels instead of
# {glue:text}`shipped_levels`), {glue:text}`live_steps` steps of {glue:text}`live_batch`
# images, on the digits bundled with the package: {glue:text}`n_train:,d` of them, keeping
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
# ```{literalinclude} /src/tinyddpm/harness/train.py
# :pyobject: train_step
# ```
#
# The data and the configuration of the live run:

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

# %% [markdown]
# The run writes its log into a temporary folder, which we read back:

# %%
t0 = time.perf_counter()
with tempfile.TemporaryDirectory() as run_dir:
    weights = train(cfg, run_dir, data=data, progress=False)
    with open(Path(run_dir) / "log.csv", newline="") as f:
        log = list(csv.DictReader(f))
    tiny, _, _ = load_model(weights)
train_seconds = time.perf_counter() - t0
loss = torch.tensor([float(r["loss"]) for r in log])
print(f"{num_parameters(tiny):,} parameters, trained on {len(data[0])} digits")
print(f"mean loss, first 10 steps: {float(loss[:10].mean()):.1f};  last 50 steps: {float(loss[-50:].mean()):.1f}")

# %% tags=["hide-input"]
smooth = torch.nn.functional.avg_pool1d(loss[None, None], 10, stride=1)[0, 0]  # running mean of 10 steps
glue("n_train", len(data[0]), display=False)
glue("n_held", len(held_out), display=False)
glue("live_steps", cfg.steps, display=False)
glue("live_batch", cfg.batch_size, display=False)
glue("live_base", cfg.unet.base_channels, display=False)
glue("live_levels", len(cfg.unet.channel_mults), display=False)
glue("live_blocks", cfg.unet.num_res_blocks, display=False)
glue("live_params", num_parameters(tiny), display=False)
glue("size_ratio", num_parameters(model) / num_parameters(tiny), display=False)
glue("shipped_levels", len(model.config.channel_mults), display=False)
glue("shipped_base", model.config.base_channels, display=False)
glue("shipped_blocks", model.config.num_res_blocks, display=False)
glue("shipped_batch", tc["batch_size"], display=False)
glue("loss_first", round(float(loss[:10].mean()), 1), display=False)  # 1 decimal: stable across CPUs
glue("loss_last", round(float(loss[-50:].mean()), 1), display=False)
plt.figure(figsize=(6, 3.4))
plt.plot(range(1, len(loss) + 1), loss, lw=0.6, alpha=0.5, label="per step")
plt.plot(range(10, len(loss) + 1), smooth, label="running mean of 10")
plt.axhline(1.0, color="k", ls=":", lw=1, label="predicting 0")
plt.xlabel("training step"), plt.ylabel("L_simple (per pixel)"), plt.ylim(0, 1.2), plt.legend()
plt.tight_layout()
plt.show()

# %% tags=["nbval-ignore-output", "hide-input"]
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
# which neither model trained on, with one fixed draw of the noise: the loss
# $\lVert\hat\epsilon - \epsilon\rVert^2$ per pixel, and the same predictions converted by
# `predict_x0` into denoised digits, scored by PSNR against the clean digit. The noise level is
# given as the pixel-unit $\sigma$ of the equivalent noisy photograph
# $y = x_t/\sqrt{\bar\alpha_t}$ (chapter 2).

# %%
digits = tinyddpm.to_model(x[held_out])  # 100 digits, 10 of each class, none of them trained on
noise = torch.randn(digits.shape, generator=tinyddpm.seeded(0))
pixel_sigmas = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0)
results = {"pretrained": [], "live": []}  # (eps MSE, x0_hat PSNR) per noise level
with torch.no_grad():
    for sig in pixel_sigmas:
        t = float(tinyddpm.start_step(sig, schedule))  # the step whose noise matches sigma
        x_t = diffusion.q_sample(digits, t, noise, schedule)
        for name, net in (("pretrained", model), ("live", tiny)):
            eps = net(x_t, torch.full((len(digits),), t))
            x0_hat = diffusion.predict_x0(x_t, t, eps, schedule)
            mse = float(((eps - noise) ** 2).mean())
            db = float(psnr(tinyddpm.to_pixels(x0_hat), tinyddpm.to_pixels(digits)).mean())
            results[name].append((mse, db))

# %% tags=["hide-input"]
t_star = [float(tinyddpm.start_step(sig, schedule)) for sig in pixel_sigmas]
noisy_psnr = [float(psnr(tinyddpm.to_pixels(digits + 2 * sig * noise), tinyddpm.to_pixels(digits)).mean())
              for sig in pixel_sigmas]
body = [[f"{sig:.2f}", f"{ts_:.1f}", f"{nz:.2f}", f"{pre[0]:.3f}", f"{live[0]:.2f}", f"{pre[1]:.1f}", f"{live[1]:.1f}"]
        for sig, ts_, nz, pre, live in zip(pixel_sigmas, t_star, noisy_psnr, results["pretrained"], results["live"])]
display(HTMLTable(["pixel sigma", "t", "noisy PSNR", "eps MSE, pretrained", "eps MSE, live",
                   "x0_hat PSNR, pretrained", "x0_hat PSNR, live"], body))
gap = [pre[1] - live[1] for pre, live in zip(results["pretrained"], results["live"])]
gain = [pre[1] - noisy for pre, noisy in zip(results["pretrained"], noisy_psnr)]
glue("gap_min", round(min(gap), 1), display=False)
glue("gap_max", round(max(gap), 1), display=False)
glue("gap_max_sigma", pixel_sigmas[max(range(len(gap)), key=gap.__getitem__)], display=False)
glue("gain_min", round(min(gain), 1), display=False)
glue("gain_max", round(max(gain), 1), display=False)
n_better = sum(gn > 0 for gn in gain)
glue("gain_scope", "At every noise level" if n_better == len(gain) else f"At {n_better} of {len(gain)} noise levels",
     display=False)
rising = all(b > a for a, b in zip(gain, gain[1:]))
glue("gain_trend", "and the gain grows with the noise" if rising
     else f"the gain largest at pixel sigma {pixel_sigmas[max(range(len(gain)), key=gain.__getitem__)]}", display=False)

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
# weight $\bar\alpha_t/(1-\bar\alpha_t)$ of the third point above. {glue:text}`gain_scope` the
# shipped model's denoised digits are better than the input (the dotted line), by
# {glue:text}`gain_min:.1f` to {glue:text}`gain_max:.1f` dB, {glue:text}`gain_trend`: at high
# noise the network falls back on what digits look like. The live model is a denoiser too,
# {glue:text}`gap_min:.1f` to {glue:text}`gap_max:.1f` dB behind the shipped one (the widest gap
# at $\sigma =$ {glue:text}`gap_max_sigma`): a network {glue:text}`size_ratio:.0f` times smaller,
# trained for {glue:text}`live_steps` steps on {glue:text}`n_train:,d` digits, has not learned
# all of what digits look like. (The two differ in more than training length; the end of this
# chapter spells it out.)
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
# The training log of the shipped model's first {glue:text}`log_steps:,d` steps, and its denoising PSNR
# measured at checkpoints along the way, are result files that ship inside the package
# (`src/tinyddpm/harness/results`, read through `tinyddpm.harness.book_data`), so the next cell runs wherever
# tinyddpm is installed, Colab included.

# %% tags=["hide-input"]
def results_csv(name: str) -> list[dict]:
    """The rows of a CSV result file shipped with the package (src/tinyddpm/harness/results/)."""
    with open(results_path(name), newline="") as f:
        return list(csv.DictReader(f))


full = torch.tensor([float(r["loss"]) for r in results_csv("ddpm_train_log.csv")])
full_smooth = torch.nn.functional.avg_pool1d(full[None, None], 10, stride=1)[0, 0]
logged = stages[0]["train_config"]  # the log is the first stage's
live_end = round(float(loss[-50:].mean()), 1)  # 1 decimal, as printed above: stable across CPUs
below = int(torch.nonzero(full_smooth < live_end)[0, 0]) + 10  # the step, for a running mean of 10
glue("log_steps", len(full), display=False)
glue("shipped_below_live", below, display=False)
glue("shipped_warmup", logged["warmup_steps"], display=False)
glue("live_warmup", cfg.warmup_steps, display=False)
plt.figure(figsize=(6, 3.4))
plt.plot(range(10, len(full) + 1), full_smooth, label=f"shipped model (batch {logged['batch_size']})")
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
glue("late_verb", "still improves" if min(late) > 0 else "changes", display=False)
HTMLTable(
    ["step"] + [f"sigma {c[5:]}" for c in columns],
    [[f"{int(r['step']):,}"] + [f"{float(r[c]):.2f}" for c in columns] for r in curve],
    caption="posterior-mean PSNR (dB) on the 1,000 sample digits, at checkpoints of the shipped run's first stage",
)

# %% [markdown]
# The shipped run's loss comes down later, because its learning rate ramps up over
# {glue:text}`shipped_warmup` warm-up steps (the live run's: {glue:text}`live_warmup`), and then
# its running mean passes below where the live run ends by step
# {glue:text}`shipped_below_live:,d`.
#
# The two curves, like the per-noise-level comparison above, set two *recipes* side by side,
# not one recipe trained for two lengths. The shipped network has {glue:text}`params:,d`
# parameters against the live one's {glue:text}`live_params:,d` ({glue:text}`shipped_base`
# base channels against {glue:text}`live_base`, {glue:text}`shipped_levels` resolution levels
# against {glue:text}`live_levels`, {glue:text}`shipped_blocks` residual blocks per level
# against {glue:text}`live_blocks`); it learned from the {glue:text}`train_digits:,d` training
# digits instead of {glue:text}`n_train:,d` bundled ones, in batches of
# {glue:text}`shipped_batch` instead of {glue:text}`live_batch`, for
# {glue:text}`shipped_steps:,d` steps instead of {glue:text}`live_steps`. The gap between the
# two models is what all of that buys together. Training length alone is what the checkpoint
# table measures, one run of one network on one data set: from step
# {glue:text}`late_steps`, while the loss curve looks flat, its denoising
# {glue:text}`late_verb` by {glue:text}`late_gain_min:.2f` to {glue:text}`late_gain_max:.2f` dB.
# Much of what longer training buys does not show in the average loss.

# %% [markdown]
# ## What to take away
#
# - $L_{\text{simple}}$ is DDPM's variational bound with its weights dropped: each term
#   $L_{t-1}$ is $\lambda_t \lVert \epsilon - \epsilon_\theta \rVert^2$, and on the cosine
#   schedule $\lambda_t$ falls from {glue:text}`lam_2:.2f` at $t = 2$ to
#   {glue:text}`lam_min:.4f` at $t$ = {glue:text}`lam_t_min`. Dropping it down-weights the
#   nearly clean steps and up-weights the harder, noisier ones.
# - Predicting the noise is denoising and score estimation at once:
#   $\epsilon_\theta \approx -\sqrt{1-\bar\alpha_t}\,\nabla \log q(x_t)$, and Tweedie's formula
#   (`predict_x0`) turns it into $\mathbb E[x_0 \mid x_t]$, the MMSE estimate, at every noise
#   level, with one network.
# - The student's L1 loss costs {glue:text}`l1_cost_min:.2f` to {glue:text}`l1_cost_max:.2f` dB
#   here; crisp outputs come from sampling the reverse chain (chapter 5), not from the loss.
# - The U-Net ({glue:text}`params:,d` parameters) reads $t$ through a sinusoidal code (nearby
#   steps, nearby codes), normalises each image on its own (GroupNorm: the same output in any
#   batch) and lets every position see the whole digit through attention at $7 \times 7$.
# - The shipped model learned from MNIST's {glue:text}`train_digits:,d` training digits in
#   {glue:text}`shipped_steps:,d` steps ({glue:text}`shipped_minutes` minutes). The live model is
#   {glue:text}`gap_min:.1f` to {glue:text}`gap_max:.1f` dB behind it, a difference of whole
#   recipes (size, data, batch, steps), not of training length alone.

# %% [markdown]
# ## Exercises
#
# **Exercise 1.** (pen and paper) Show that the weight of the bound can be written with the
# signal-to-noise ratio alone, $\lambda_t = \frac{1}{2}\big(\mathrm{SNR}_{t-1}/\mathrm{SNR}_t - 1\big)$,
# and, with the third point of "Why predicting the noise is denoising", that
# $L_{t-1} = \frac{1}{2}\big(\mathrm{SNR}_{t-1} - \mathrm{SNR}_t\big)\,\lVert x_0 - \hat x_0 \rVert^2$.
# What does the second form say about why the weight is large at small $t$?
#
# ```{admonition} Solution
# :class: dropdown
#
# With $\tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\,\beta_t$ the weight
# simplifies to $\lambda_t = \frac{\beta_t}{2\,\alpha_t\,(1-\bar\alpha_{t-1})}$. On the other
# side,
#
# $$ \frac{\mathrm{SNR}_{t-1}}{\mathrm{SNR}_t} - 1 = \frac{\bar\alpha_{t-1}(1-\bar\alpha_t)}{\bar\alpha_t(1-\bar\alpha_{t-1})} - 1 = \frac{1-\bar\alpha_t}{\alpha_t(1-\bar\alpha_{t-1})} - 1 = \frac{1 - \bar\alpha_t - \alpha_t + \bar\alpha_t}{\alpha_t(1-\bar\alpha_{t-1})} = \frac{\beta_t}{\alpha_t(1-\bar\alpha_{t-1})}, $$
#
# using $\bar\alpha_t = \alpha_t\bar\alpha_{t-1}$; half of it is $\lambda_t$. The third point
# gives $\lVert \epsilon - \hat\epsilon \rVert^2 = \mathrm{SNR}_t\,\lVert x_0 - \hat x_0 \rVert^2$,
# so $L_{t-1} = \frac{1}{2}(\mathrm{SNR}_{t-1} - \mathrm{SNR}_t)\,\lVert x_0 - \hat x_0 \rVert^2$.
# Read this way, the bound charges each step's denoising error by how much signal-to-noise ratio
# that one step removes. Near $t = 0$ the SNR grows without bound ($\mathrm{SNR}_0 = \infty$),
# so one step there removes a great deal of it and its error is charged heavily; in the middle
# of the chain the SNR changes little from step to step.
# ```
#
# **Exercise 2.** (code) The terms of the bound for the shipped model. On the held-out digits,
# estimate the per-pixel noise error $\lVert \epsilon - \epsilon_\theta \rVert^2 / D$ (what
# $L_{\text{simple}}$ averages) and the bound's term $L_{t-1} = \lambda_t \lVert \epsilon - \epsilon_\theta \rVert^2$
# (nats per image) at $t = 2, 50, 500, 900$. Which step dominates the bound? By how much do
# the bound's terms vary over these steps, and by how much the errors that $L_{\text{simple}}$
# weighs equally?

# %% tags=["hide-input", "solution"]
lam_s = schedule.betas**2 / (2 * schedule.posterior_variance * schedule.alphas * (1 - schedule.alpha_bar[1:]))
g = tinyddpm.seeded(5)
terms = {}
for t in (2, 50, 500, 900):
    eps = torch.randn(digits.shape, generator=g)
    with torch.no_grad():
        eps_hat = model(diffusion.q_sample(digits, float(t), eps, schedule), torch.full((len(digits),), float(t)))
    per_image = ((eps - eps_hat) ** 2).flatten(1).sum(1).mean()  # the squared norm, D = 784 pixels
    terms[t] = (float(per_image) / digits[0].numel(), float(lam_s[t - 1] * per_image))
    print(f"t = {t:3d}: noise error per pixel {terms[t][0]:.3f}, L_(t-1) {terms[t][1]:8.3f} nats")
simple, bound = [v[0] for v in terms.values()], [v[1] for v in terms.values()]
print(f"largest / smallest over these steps: the bound's terms {max(bound) / min(bound):.0f}x,\n"
      f"  the per-pixel errors {max(simple) / min(simple):.0f}x; "
      f"largest bound term at t = {max(terms, key=lambda k: terms[k][1])}")

# %% [markdown]
# **Exercise 3.** (pen and paper) Show that the dot product of two time codes,
# $e(t) \cdot e(t + \Delta)$, depends only on the gap $\Delta$, not on $t$. Why is that a
# useful property for a network that must treat every step alike?
#
# ```{admonition} Solution
# :class: dropdown
#
# Pair the cosine and the sine of each frequency:
# $\cos(\omega_k t)\cos(\omega_k (t+\Delta)) + \sin(\omega_k t)\sin(\omega_k (t+\Delta)) = \cos(\omega_k\,\Delta)$,
# so $e(t) \cdot e(t+\Delta) = \sum_k \cos(\omega_k\,\Delta)$, and
# $\lVert e(t+\Delta) - e(t) \rVert^2 = 2\sum_k \big(1 - \cos(\omega_k\,\Delta)\big)$.
# "How far apart are two steps" is then the same question anywhere in the chain: a linear layer
# on the code can measure a gap, or shift a code by a fixed gap (a rotation of each pair), the
# same way at $t = 10$ as at $t = 900$. For small gaps the distance is about
# $|\Delta|\,\sqrt{\sum_k \omega_k^2}$, which is why the codes of nearby steps are close.
# ```

# %% [markdown]
# We now have a network that, given any $x_t$ and its $t$, estimates the noise in it, and so the
# posterior mean $\mathbb E[x_0 \mid x_t]$. Chapter 4 turns that one-step estimate into the
# reverse chain, and asks why each of its steps adds fresh noise back in.
