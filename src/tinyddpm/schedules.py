"""Noise schedules for DDPM: betas, alphas, alpha-bars, posterior coefficients, sigma <-> t.

Linear betas follow Ho et al. 2020 (DDPM, arXiv:2006.11239, Sec. 4: beta from 1e-4 to 0.02);
cosine alpha-bars follow Nichol & Dhariwal 2021 (improved DDPM, arXiv:2102.09672, Eq. 17).

Timesteps are *continuous*: t lies in [0, T], grid steps are the integers 1..T and
``alpha_bar(0) = 1`` (no noise). Between grid steps ``alpha_bar`` is interpolated linearly, so
every noise level the schedule covers has an exact (usually fractional) timestep.

Everything here is in model units: images live in [-1, 1]. A noisy image y = x0 + s * n
equals x_t / sqrt(alpha_bar_t) exactly when s^2 = (1 - alpha_bar_t) / alpha_bar_t, so the
"noise level" of step t is ``sigma(t) = sqrt((1 - alpha_bar_t) / alpha_bar_t)``.

>>> s = NoiseSchedule.linear(300)
>>> round(float(s.alpha_bar[-1]), 3)
0.048
>>> t = s.t_from_sigma(0.4)
>>> abs(float(s.sigma_from_t(t)) - 0.4) < 1e-6
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor

from .config import Config
from .options import check_choice

ScheduleKind = Literal["linear", "cosine"]


@dataclass(frozen=True)
class ScheduleConfig(Config):
    """What rebuilds a schedule: its kind, T, and the parameters of that kind.

    ``s`` is the cosine schedule's offset (iDDPM Eq. 17); ``beta_1`` and ``beta_T`` are the
    linear schedule's end points (DDPM Sec. 4). The parameters of the other kind are ignored.
    """

    kind: ScheduleKind = "cosine"
    T: int = 1000
    s: float = 0.008
    beta_1: float = 1e-4
    beta_T: float = 0.02


def linear_betas(T: int, beta_1: float = 1e-4, beta_T: float = 0.02) -> Tensor:
    """Betas rising linearly from ``beta_1`` to ``beta_T`` over T steps (DDPM, Sec. 4)."""
    return torch.linspace(beta_1, beta_T, T, dtype=torch.float64)


def cosine_betas(T: int, s: float = 0.008, max_beta: float = 0.999) -> Tensor:
    """Betas from alpha_bar(t) = f(t)/f(0), f(t) = cos^2(((t/T + s)/(1 + s)) pi/2) (iDDPM Eq. 17).

    Betas are clipped at ``max_beta`` as in the paper so the last step stays finite.
    """
    steps = torch.arange(T + 1, dtype=torch.float64) / T
    f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = 1 - alpha_bar[1:] / alpha_bar[:-1]
    return betas.clamp(max=max_beta)


@dataclass(frozen=True)
class NoiseSchedule:
    """A frozen DDPM noise schedule over grid steps t = 1..T (float64 internally).

    Build one with :meth:`linear` or :meth:`cosine`. Index conventions: ``betas[t-1]`` is
    beta_t, while ``alpha_bar`` has T + 1 entries with ``alpha_bar[0] = 1`` so that
    ``alpha_bar[t]`` is alpha-bar at grid step t (Ho et al. 2020, Eq. 4).

    >>> import tinyddpm
    >>> schedule = tinyddpm.NoiseSchedule.cosine(1000)
    >>> t = schedule.t_from_sigma(2 * 0.3)     # pixel sigma 0.3 is 0.6 in model units
    >>> round(float(schedule.sigma_from_t(t)), 9), 0 < float(t) < schedule.T
    (0.6, True)
    """

    kind: str
    T: int
    betas: Tensor = field(repr=False)
    s: float | None = None  # the cosine offset, kept so that ``config()`` can rebuild the schedule

    def __post_init__(self) -> None:
        if self.T < 1:
            raise ValueError(f"T must be at least 1, got {self.T}")
        if self.betas.shape != (self.T,):
            raise ValueError(f"betas must have shape ({self.T},), got {tuple(self.betas.shape)}")
        if not bool(((self.betas > 0) & (self.betas < 1)).all()):
            raise ValueError("every beta must lie in (0, 1)")
        betas = self.betas.detach().to(torch.float64).clone()
        object.__setattr__(self, "betas", betas)
        # derived once: the schedule is immutable, and samplers query alpha_bar at every step
        alpha_bar = torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1 - betas, 0)])
        object.__setattr__(self, "_alpha_bar", alpha_bar)

    # ---- constructors -------------------------------------------------------------------
    @classmethod
    def linear(cls, T: int = 1000, *, beta_1: float = 1e-4, beta_T: float = 0.02) -> NoiseSchedule:
        """The DDPM paper's linear schedule (``T=300`` reproduces the original project)."""
        return cls("linear", T, linear_betas(T, beta_1, beta_T))

    @classmethod
    def cosine(cls, T: int = 1000, *, s: float = 0.008) -> NoiseSchedule:
        """The improved-DDPM cosine schedule (Nichol & Dhariwal 2021, Eq. 17)."""
        return cls("cosine", T, cosine_betas(T, s), s=s)

    @classmethod
    def from_config(cls, config: ScheduleConfig | dict) -> NoiseSchedule:
        """Rebuild a schedule from :meth:`config` (as stored in checkpoints); strict about keys."""
        c = config if isinstance(config, ScheduleConfig) else ScheduleConfig.from_dict(config)
        if c.kind == "linear":
            return cls.linear(c.T, beta_1=c.beta_1, beta_T=c.beta_T)
        if c.kind == "cosine":
            return cls.cosine(c.T, s=c.s)
        check_choice(c.kind, ScheduleKind, "schedule kind")
        raise AssertionError(c.kind)  # unreachable: the two kinds are handled above

    def config(self) -> dict:
        """The JSON form of this schedule's :class:`ScheduleConfig`: :meth:`from_config` rebuilds it."""
        if self.kind == "linear":
            c = ScheduleConfig("linear", self.T, beta_1=float(self.betas[0]), beta_T=float(self.betas[-1]))
        elif self.kind == "cosine":
            c = ScheduleConfig("cosine", self.T, s=0.008 if self.s is None else self.s)
        else:
            raise ValueError(f"a {self.kind!r} schedule has no config (built from raw betas)")
        return c.to_dict()

    # ---- grid quantities (Ho et al. 2020, Eqs. 4, 6, 7) ----------------------------------
    @property
    def alphas(self) -> Tensor:
        """alpha_t = 1 - beta_t for t = 1..T, shape (T,)."""
        return 1 - self.betas

    @property
    def alpha_bar(self) -> Tensor:
        """alpha_bar_t = prod_{s<=t} alpha_s for t = 0..T (alpha_bar_0 = 1), shape (T + 1,)."""
        return self._alpha_bar.clone()

    @property
    def posterior_variance(self) -> Tensor:
        """beta_tilde_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) beta_t for t = 1..T (Eq. 7)."""
        ab = self.alpha_bar
        return (1 - ab[:-1]) / (1 - ab[1:]) * self.betas

    @property
    def posterior_mean_coef1(self) -> Tensor:
        """Coefficient of x0 in the posterior mean mu_tilde_t (Eq. 7).

        ``sqrt(alpha_bar_{t-1}) beta_t / (1 - alpha_bar_t)``
        """
        ab = self.alpha_bar
        return ab[:-1].sqrt() * self.betas / (1 - ab[1:])

    @property
    def posterior_mean_coef2(self) -> Tensor:
        """Coefficient of x_t in the posterior mean mu_tilde_t (Eq. 7).

        ``sqrt(alpha_t) (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t)``
        """
        ab = self.alpha_bar
        return self.alphas.sqrt() * (1 - ab[:-1]) / (1 - ab[1:])

    # ---- continuous time -----------------------------------------------------------------
    def alpha_bar_at(self, t: Tensor | float) -> Tensor:
        """alpha_bar at continuous t in [0, T], linearly interpolated between grid steps.

        Returns a float64 tensor of t's shape; integer t gives the grid values exactly.
        """
        t = torch.as_tensor(t, dtype=torch.float64)
        if bool(((t < 0) | (t > self.T) | ~torch.isfinite(t)).any()):
            raise ValueError(f"timesteps must lie in [0, {self.T}]")
        ab = self._alpha_bar
        lo = t.floor().clamp(max=self.T - 1).long()
        w = t - lo
        return ab[lo] * (1 - w) + ab[lo + 1] * w

    def sigma_from_t(self, t: Tensor | float) -> Tensor:
        """Model-space noise level of step t: sqrt((1 - alpha_bar_t) / alpha_bar_t)."""
        ab = self.alpha_bar_at(t)
        return ((1 - ab) / ab).sqrt()

    @property
    def max_sigma(self) -> float:
        """The largest model-space noise level the schedule reaches (at t = T)."""
        return float(self.sigma_from_t(float(self.T)))

    def t_from_sigma(self, sigma: Tensor | float) -> Tensor:
        """The continuous timestep t* whose noise level equals ``sigma`` (model units, >= 0).

        Solves alpha_bar(t*) = 1 / (1 + sigma^2) on the interpolated alpha_bar, so
        ``sigma_from_t(t_from_sigma(s)) == s`` up to float64 rounding. Raises ``ValueError``
        for a sigma above :attr:`max_sigma`.
        """
        sigma = torch.as_tensor(sigma, dtype=torch.float64)
        if bool((~torch.isfinite(sigma) | (sigma < 0)).any()):
            raise ValueError("sigma must be finite and non-negative")
        if bool((sigma > self.max_sigma * (1 + 1e-12)).any()):
            raise ValueError(
                f"sigma {float(sigma.max()):.4g} (model units) is above the largest noise level "
                f"this schedule reaches ({self.max_sigma:.4g})"
            )
        target = 1 / (1 + sigma**2)
        ab = self._alpha_bar  # decreasing: ab[0] = 1 > ab[1] > ... > ab[T]
        # index of the first grid step whose alpha_bar is <= target
        hi = torch.searchsorted(-ab, -target.reshape(-1), right=False).clamp(1, self.T)
        lo = hi - 1
        w = (ab[lo] - target.reshape(-1)) / (ab[lo] - ab[hi])
        return (lo.to(torch.float64) + w.clamp(0, 1)).reshape(sigma.shape)
