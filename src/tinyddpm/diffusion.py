"""The Gaussian diffusion process of DDPM (Ho et al. 2020, arXiv:2006.11239), in model units.

- ``q_sample``: the closed form q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) (Eq. 4)
- ``q_step``: one step of the forward Markov chain q(x_t | x_{t-1}) (Eq. 2)
- ``predict_x0``: x_0 from a noise prediction, Tweedie's estimate of E[x_0 | x_t] (Eq. 15)
- ``q_posterior``: q(x_s | x_t, x_0) for any 0 <= s < t, of which Eq. 6-7 is the case s = t - 1
- ``loss``: the simplified epsilon objective L_simple (Eq. 14), at continuous t: what training calls
- ``min_snr_weight``: the Min-SNR-gamma loss weight min(SNR_t, gamma) / SNR_t (Hang et al. 2023)
- ``supervised_loss``: E || f(x0 + level n, level) - x0 ||^2, a direct denoiser's objective at one noise level
- ``prior_kl``: KL(q(x_T | x_0) || N(0, I)), the prior term L_T of the variational bound (Eq. 5)

The noise-prediction model is any callable ``eps_model(x_t, t, y=None) -> eps`` with ``x_t`` of
shape (N, C, H, W), ``t`` a float tensor of shape (N,) and ``y`` an optional long tensor of labels.

Notation (the book's notation page lists the same), everything in model units ([-1, 1]):

- ``x0``: a clean image; ``x_t``: the state at step ``t`` (0 <= t <= T, fractional allowed);
- ``s``: an earlier step, s < t, when the chain jumps from t to s (never a noise level);
- ``alpha_bar`` (``ab``): the surviving signal, x_t = sqrt(ab_t) x0 + sqrt(1 - ab_t) eps;
- ``eps``: the forward process's standard normal noise; ``eps_theta``: the network's prediction;
- noise level: sqrt((1 - ab_t) / ab_t), the std of x_t / sqrt(ab_t) - x0 (Karras et al.'s sigma);
  it is 2 sigma for a user's pixel-unit sigma
  (:meth:`~tinyddpm.schedules.NoiseSchedule.t_from_sigma` takes it);
- ``beta_tilde``: the variance of q(x_s | x_t, x0), Ho et al.'s beta-tilde for s = t - 1.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .options import Norm, check_choice
from .schedules import NoiseSchedule


class EpsModel(Protocol):
    """The model interface: predict the noise epsilon in x_t = sqrt(ab) x0 + sqrt(1 - ab) eps."""

    def __call__(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor: ...


def bcast(v: Tensor, like: Tensor) -> Tensor:
    """Per-sample scalars (N,) -> (N, 1, 1, 1) in ``like``'s dtype and on its device, ready to
    broadcast (lucidrains' ``extract``; the package's one broadcast helper)."""
    return v.to(device=like.device, dtype=like.dtype).reshape(-1, *([1] * (like.ndim - 1)))


def per_sample(t: Tensor | float, n: int) -> Tensor:
    """A timestep for each of ``n`` images, float64 on the CPU (where the schedule lives): one
    number is repeated, a tensor (N,) is taken as it is."""
    t = torch.as_tensor(t, dtype=torch.float64)
    return t.expand(n) if t.ndim == 0 else t.cpu()


def q_sample(x0: Tensor, t: Tensor | float, noise: Tensor, schedule: NoiseSchedule) -> Tensor:
    """Sample x_t ~ q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I) (Eq. 4).

    ``t`` is a float or a (N,) tensor of continuous timesteps; ``noise`` is standard normal.
    """
    ab = bcast(schedule.alpha_bar_at(per_sample(t, x0.shape[0])), x0)
    return ab.sqrt() * x0 + (1 - ab).sqrt() * noise


def q_step(x_prev: Tensor, t: int, noise: Tensor, schedule: NoiseSchedule) -> Tensor:
    """One forward step x_t ~ q(x_t | x_{t-1}) = N(sqrt(1 - beta_t) x_{t-1}, beta_t I) (Eq. 2)."""
    beta = float(schedule.betas[t - 1])
    return (1 - beta) ** 0.5 * x_prev + beta**0.5 * noise


def prior_kl(x0: Tensor, schedule: NoiseSchedule, t: float | None = None) -> Tensor:
    """KL(q(x_t | x_0) || N(0, I)) in nats per image, t = T by default: L_T of Eq. 5.

    With ab = alpha_bar_t and D pixels: 1/2 sum_i (ab x0_i^2 + (1 - ab) - 1 - log(1 - ab)).
    It is how far the chain's last state is from the pure noise that generation starts from;
    DDPM leaves it out of training (no parameter affects it) and picks T and the betas so that
    it is negligible, which needs alpha_bar_T close to 0.
    Returns a float64 tensor of shape (N,).
    """
    ab = schedule.alpha_bar_at(float(schedule.T if t is None else t))
    per_pixel = ab * x0.double() ** 2 - ab - torch.log1p(-ab)
    return 0.5 * per_pixel.flatten(1).sum(1)


def predict_x0(x_t: Tensor, t: Tensor | float, eps: Tensor, schedule: NoiseSchedule) -> Tensor:
    """x0_hat = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t) (Eq. 15).

    With the exact eps = E[eps | x_t] this is Tweedie's formula for E[x_0 | x_t].
    """
    ab = bcast(schedule.alpha_bar_at(per_sample(t, x_t.shape[0])), x_t)
    return (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()


def eps_from_x0(x_t: Tensor, t: Tensor | float, x0: Tensor, schedule: NoiseSchedule) -> Tensor:
    """The noise implied by x_t and x0: (x_t - sqrt(alpha_bar_t) x0) / sqrt(1 - alpha_bar_t)."""
    ab = bcast(schedule.alpha_bar_at(per_sample(t, x_t.shape[0])), x_t)
    return (x_t - ab.sqrt() * x0) / (1 - ab).sqrt()


def q_posterior(
    x0: Tensor, x_t: Tensor, t: Tensor | float, s: Tensor | float, schedule: NoiseSchedule
) -> tuple[Tensor, Tensor]:
    """Mean and variance of q(x_s | x_t, x_0) for 0 <= s < t (Eqs. 6-7 with t - 1 -> s).

    With alpha_{t|s} = alpha_bar_t / alpha_bar_s and beta_{t|s} = 1 - alpha_{t|s}::

        mean = sqrt(alpha_bar_s) beta_{t|s} / (1 - alpha_bar_t) x0
               + sqrt(alpha_{t|s}) (1 - alpha_bar_s) / (1 - alpha_bar_t) x_t,
        var  = (1 - alpha_bar_s) / (1 - alpha_bar_t) beta_{t|s}.

    For integer s = t - 1 these are ``posterior_mean_coef1/2`` and ``posterior_variance``.
    Returns (mean, var) with var of shape (N, 1, 1, 1).
    """
    n = x_t.shape[0]
    ab_t = schedule.alpha_bar_at(per_sample(t, n))
    ab_s = schedule.alpha_bar_at(per_sample(s, n))
    if bool((ab_s <= ab_t).any()):
        raise ValueError("q_posterior needs s < t")
    beta_ts = 1 - ab_t / ab_s
    coef1 = ab_s.sqrt() * beta_ts / (1 - ab_t)
    coef2 = (ab_t / ab_s).sqrt() * (1 - ab_s) / (1 - ab_t)
    var = (1 - ab_s) / (1 - ab_t) * beta_ts
    mean = bcast(coef1, x_t) * x0 + bcast(coef2, x_t) * x_t
    return mean, bcast(var, x_t)


def loss(
    eps_model: EpsModel,
    x0: Tensor,
    t: Tensor,
    noise: Tensor,
    schedule: NoiseSchedule,
    y: Tensor | None = None,
    *,
    norm: Norm = "l2",
    weight: Tensor | None = None,
) -> Tensor:
    """L_simple = E || eps - eps_theta(sqrt(ab_t) x0 + sqrt(1 - ab_t) eps, t) ||^2 (Eq. 14).

    ``t`` holds continuous timesteps, shape (N,). The model may run under autocast: its output
    is compared with ``noise`` in ``noise``'s dtype. Returns the mean over batch and pixels.
    ``norm="l1"`` takes E abs(eps - eps_theta) instead (the student's loss): its minimiser is the
    per-pixel conditional *median* of eps given x_t, not the mean that Tweedie's formula needs.
    ``weight`` (N,) multiplies each image's error before the mean (e.g. ``min_snr_weight``);
    a per-t weight changes how the network's capacity is shared between noise levels, not the
    minimiser at any one t, which stays E[eps | x_t].
    """
    check_choice(norm, Norm, "loss norm")
    x_t = q_sample(x0, t, noise, schedule)  # (N, C, H, W), Eq. 4
    eps = eps_model(x_t, t.to(x0.dtype), y) if y is not None else eps_model(x_t, t.to(x0.dtype))
    err = eps.to(noise.dtype) - noise
    per_pixel = err**2 if norm == "l2" else err.abs()
    if weight is None:
        return torch.mean(per_pixel)
    return torch.mean(bcast(weight, per_pixel) * per_pixel)


def min_snr_weight(t: Tensor, schedule: NoiseSchedule, gamma: float) -> Tensor:
    """Min-SNR-gamma weight of the epsilon loss: min(SNR_t, gamma) / SNR_t (Hang et al. 2023, Eq. 9).

    SNR_t = alpha_bar_t / (1 - alpha_bar_t) = 1 / s^2 with s the model-unit sigma of step t.
    The epsilon loss equals the x0 loss times SNR_t; this weight caps that factor at gamma, so
    steps with s < 1 / sqrt(gamma) (the nearly clean ones) stop dominating. Weight 1 for
    SNR_t <= gamma. Returns a float64 tensor of ``t``'s shape.
    """
    if gamma <= 0:
        raise ValueError(f"gamma must be positive, got {gamma}")
    ab = schedule.alpha_bar_at(per_sample(t, t.shape[0]))
    snr = ab / (1 - ab)
    return torch.clamp(snr, max=gamma) / snr


def supervised_loss(model: EpsModel, x0: Tensor, level: float, noise: Tensor) -> Tensor:
    """E || f(x0 + level n, level) - x0 ||^2 at one model-unit noise ``level`` (2 sigma).

    Not a diffusion loss: the network is asked for x0 directly, so its minimiser is the MMSE
    denoiser E[x0 | y] at that one noise level (the supervised reference of the benchmarks).
    """
    x_hat = model(x0 + level * noise, torch.full((x0.shape[0],), level, dtype=x0.dtype, device=x0.device))
    return torch.mean((x_hat.to(x0.dtype) - x0) ** 2)
