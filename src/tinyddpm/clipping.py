"""Clipped and quantised inputs: detecting them, the censored-normal statistics, and undoing the clip.

An 8-bit PNG holds clip(x + sigma n, 0, 1) rounded to k / 255; on MNIST's black background
clipping at 0 removes half the noise, which breaks every estimator of sigma that assumes
Gaussian noise. :func:`detect_clipping` finds such images (a mass of pixels exactly at 0 or 1,
values on a 1/255 grid) and :func:`tinyddpm.noise_level.estimate_sigma_censored` fits sigma by maximum
likelihood of a *censored* normal to the background pixels (Tobin 1958; the EM iteration of Dempster, Laird &
Rubin 1977, Sec. 4.1.3): a pixel at 0 says only "the noisy value was below half a grey level",
and contributes Phi((c - mu) / sigma) to the likelihood instead of a density.
:func:`unclip` then puts back, for each clipped pixel, the mean of the noisy value given that it
was clipped, so that the denoiser sees noise of the kind it was trained on.
:func:`truncated_normal_mean` and :func:`censored_sigma` are the pure statistics, also used by
:mod:`tinyddpm.preprocess` on photos. Nothing here loads a model.

All units are pixel units ([0, 1] scale).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

GREY_STEP = 1 / 255  # the grid of 8-bit files


@dataclass(frozen=True)
class Clipping:
    """Per image: clipped at 0 (``low``), at 1 (``high``), and the grey-level ``step`` (0: continuous).

    A pixel stored as 0 stands for a noisy value below ``lower`` (half a grey level), one stored as
    1 for a value above ``upper``; without clipping the bound is -inf / +inf.
    """

    low: Tensor  # (N,) bool
    high: Tensor  # (N,) bool
    step: Tensor  # (N,) float64

    @property
    def any(self) -> Tensor:
        return self.low | self.high

    @property
    def lower(self) -> Tensor:
        return torch.where(self.low, self.step / 2, torch.full_like(self.step, -math.inf))

    @property
    def upper(self) -> Tensor:
        return torch.where(self.high, 1 - self.step / 2, torch.full_like(self.step, math.inf))


def detect_clipping(images: Tensor, *, min_fraction: float = 0.005) -> Clipping:
    """Which of the (N, 1, H, W) images were clipped to [0, 1], and which hold 8-bit values.

    Clipped at 0 (at 1): no pixel outside [0, 1] and at least ``min_fraction`` of the pixels
    exactly at 0 (at 1), a mass that Gaussian noise never puts on one value. Quantised: every value
    on the 1/255 grid (an 8-bit file).
    """
    flat = images.detach().flatten(1).double().cpu()
    in_range = (flat.min(1).values >= 0) & (flat.max(1).values <= 1)
    scaled = flat / GREY_STEP
    on_grid = in_range & ((scaled - scaled.round()).abs() < 1e-3).all(1)
    low = in_range & ((flat == 0).double().mean(1) >= min_fraction)
    high = in_range & ((flat == 1).double().mean(1) >= min_fraction)
    return Clipping(low, high, on_grid.double() * GREY_STEP)


def _mills(a: Tensor) -> Tensor:
    """phi(a) / Phi(a), the inverse Mills ratio, stable for any a: sqrt(2/pi) / erfcx(-a / sqrt 2)."""
    return math.sqrt(2 / math.pi) / torch.special.erfcx(-a / math.sqrt(2))


def truncated_normal_mean(mu: Tensor, sigma: Tensor, lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor]:
    """E[Y | Y <= lower] and E[Y | Y >= upper] for Y ~ N(mu, sigma^2) (all broadcastable)."""
    a, b = (lower - mu) / sigma, (upper - mu) / sigma
    return mu - sigma * _mills(a), mu + sigma * _mills(-b)


def censored_sigma(
    values: Tensor,
    weights: Tensor,
    mu: Tensor,
    lower: Tensor,
    upper: Tensor,
    *,
    step: Tensor | float = 0.0,
    iters: int = 500,
    tol: float = 1e-6,
) -> Tensor:
    """Maximum-likelihood sigma of N(mu, sigma^2) from values censored below ``lower``, above ``upper``.

    ``values``, ``weights`` (0/1: which values to use): (N, P); ``mu``: (N,); ``lower``, ``upper``:
    (N, 1) or (N, P). EM (Dempster et al. 1977): each censored value is replaced by its expected
    square given that it was censored, E[(Y - mu)^2 | Y <= c] = sigma^2 (1 - a phi(a) / Phi(a)),
    a = (c - mu) / sigma, and sigma^2 re-estimated until it moves by less than ``tol`` (relative).
    Uncensored values on a grid of ``step`` get Sheppard's correction (step^2 / 12 off each square).
    Returns (N,) float64; NaN where an image has no usable value.
    """
    y, w, mu = values.double(), weights.double(), mu.double()[:, None]
    lower, upper = torch.as_tensor(lower).double(), torch.as_tensor(upper).double()
    step = torch.as_tensor(step, dtype=torch.float64).reshape(-1, 1)
    low, high = (y <= lower) * w, (y >= upper) * w
    mid = w - low - high
    n = w.sum(1)
    sq_mid = (mid * ((y - mu) ** 2 - step**2 / 12)).sum(1)
    var = (sq_mid / mid.sum(1).clamp(min=1)).clamp(min=1e-12)  # start: the uncensored variance
    a_num, b_num = lower - mu, upper - mu
    for _ in range(iters):
        s = var.sqrt()[:, None]
        a, b = a_num / s, b_num / s
        low_sq = (low * torch.nan_to_num(1 - a * _mills(a), nan=1.0)).sum(1)  # E[Z^2 | Z <= a]
        high_sq = (high * torch.nan_to_num(1 + b * _mills(-b), nan=1.0)).sum(1)  # E[Z^2 | Z >= b]
        new = ((sq_mid + var * (low_sq + high_sq)) / n).clamp(min=1e-12)
        converged = bool(((new - var).abs() <= tol * var).all())
        var = new
        if converged:
            break
    return torch.where(n > 0, var.sqrt(), torch.full_like(var, math.nan))


def clipped_moments(mu: Tensor, sigma: Tensor, lower: Tensor, upper: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation of clip(N(mu, sigma^2), lower, upper) (infinite bounds allowed)."""
    a = ((lower - mu) / sigma).clamp(-40, 40)
    b = ((upper - mu) / sigma).clamp(-40, 40)
    lo, hi = mu + sigma * a, mu + sigma * b
    pa, pb = torch.exp(-0.5 * a * a), torch.exp(-0.5 * b * b)
    pa, pb = pa / math.sqrt(2 * math.pi), pb / math.sqrt(2 * math.pi)
    ca, cb = 0.5 * torch.special.erfc(-a / math.sqrt(2)), 0.5 * torch.special.erfc(-b / math.sqrt(2))
    inside = cb - ca
    m = lo * ca + hi * (1 - cb) + mu * inside + sigma * (pa - pb)
    m2 = lo**2 * ca + hi**2 * (1 - cb) + (mu**2 + sigma**2) * inside
    m2 = m2 + 2 * mu * sigma * (pa - pb) + sigma**2 * (a * pa - b * pb)
    return m, (m2 - m * m).clamp(min=0).sqrt()


def background_mask(images: Tensor, threshold: Tensor, *, window: int = 5, dilate: int = 1) -> Tensor:
    """Pixels far from ink: (N, 1, H, W) images, (N,) thresholds -> (N, 1, H, W) bool.

    A pixel is background when no local mean (``window`` x ``window``) within ``dilate`` pixels
    exceeds ``threshold``. The local means that decide a pixel are taken over the pixels of the
    *other* colour of a checkerboard, so whether a pixel is kept never depends on its own noise:
    a plain local mean would drop the background pixels whose noise happens to be high, next to
    the strokes, and bias sigma low.
    """
    h, w = images.shape[-2:]
    board = ((torch.arange(h)[:, None] + torch.arange(w)[None]) % 2).to(images.dtype)[None, None]
    box = torch.ones(1, 1, window, window, dtype=images.dtype)
    pad = (window // 2,) * 4

    def local_mean(colour: Tensor) -> Tensor:  # (N, 1, H, W): mean over pixels of one colour
        num = F.conv2d(F.pad(images * colour, pad), box)
        return num / F.conv2d(F.pad(colour, pad), box)

    t = threshold.to(images.dtype).reshape(-1, 1, 1, 1)
    near = [
        F.max_pool2d((local_mean(c) > t).to(images.dtype), 2 * dilate + 1, 1, dilate) > 0
        for c in (1 - board, board)
    ]  # ink near, judged by colour 0 / by colour 1
    return ~torch.where(board.bool(), near[0], near[1])


def unclip(images: Tensor, sigma: Tensor | float, clipping: Clipping | None = None) -> Tensor:
    """Replace clipped pixels of MNIST-form digits by their expected noisy value (mean imputation).

    ``images``: (N, 1, H, W), light ink on a dark background; ``sigma``: (N,) or one float. A pixel
    clipped at the bottom is taken to be background, Y ~ N(median of the image, sigma^2), one clipped
    at the top to be ink, Y ~ N(1, sigma^2); it gets E[Y | Y <= lower] or E[Y | Y >= upper]
    (:func:`truncated_normal_mean`). Unclipped images come back unchanged (as a copy).
    """
    clip = detect_clipping(images) if clipping is None else clipping
    y = images.detach().double().cpu()
    s = torch.as_tensor(sigma, dtype=torch.float64).expand(len(y)).clamp(min=1e-6).reshape(-1, 1, 1, 1)
    lower, upper = clip.lower.reshape(-1, 1, 1, 1), clip.upper.reshape(-1, 1, 1, 1)
    level = y.flatten(1).median(1).values.clamp(max=0.5).reshape(-1, 1, 1, 1)
    below, _ = truncated_normal_mean(level, s, lower, upper)
    _, above = truncated_normal_mean(torch.ones_like(level), s, lower, upper)
    out = torch.where(y <= lower, below, torch.where(y >= upper, above, y))
    return out.to(images.dtype)
