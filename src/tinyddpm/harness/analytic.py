"""Closed-form ground truth for Gaussian data, used by the tests and the book.

For data x0 ~ N(mu, s^2 I) (model units) everything a diffusion model learns is known exactly:

- x_t = sqrt(ab) x0 + sqrt(1 - ab) eps is N(sqrt(ab) mu, (ab s^2 + 1 - ab) I), so the optimal
  noise predictor, E[eps | x_t] = sqrt(1 - ab) (x_t - sqrt(ab) mu) / (ab s^2 + 1 - ab), is linear;
- for y = x0 + sigma n, the posterior p(x0 | y) is N(mu + k (y - mu), k sigma^2 I) with
  k = s^2 / (s^2 + sigma^2) (the Wiener filter): its mean is what one Tweedie step must return,
  its variance what ancestral samples must show.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from ..schedules import NoiseSchedule


@dataclass(frozen=True)
class GaussianEps:
    """The exact eps model E[eps | x_t] for x0 ~ N(mu, s^2 I); a stand-in for a trained network.

    Call it like any eps model: ``GaussianEps(schedule, mu, s)(x_t, t)``; labels are ignored.
    """

    schedule: NoiseSchedule
    mu: float
    s: float

    def __call__(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        ab = self.schedule.alpha_bar_at(t.double()).reshape(-1, *([1] * (x_t.ndim - 1)))
        eps = (1 - ab).sqrt() * (x_t.double() - ab.sqrt() * self.mu) / (ab * self.s**2 + 1 - ab)
        return eps.to(x_t.dtype)


def gaussian_posterior(y: Tensor, sigma: float, mu: float, s: float) -> tuple[Tensor, float]:
    """Exact posterior of x0 ~ N(mu, s^2) given y = x0 + sigma n: (mean, variance), model units."""
    k = s**2 / (s**2 + sigma**2)
    return mu + k * (y - mu), k * sigma**2
