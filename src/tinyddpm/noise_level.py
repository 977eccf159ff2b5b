"""How noisy is it? Estimating the noise standard deviation sigma from a single image.

The classical estimator filters the image with the 3x3 mask
M = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]] (the difference of two Laplacians, Immerkaer 1996,
"Fast noise variance estimation"), which annihilates locally linear image content. For white
noise of standard deviation sigma the response is N(0, 36 sigma^2) (||M||_2 = 6). Instead of
Immerkaer's mean absolute response we take the *median* absolute response (Donoho & Johnstone
1994's robust MAD scale, median|N(0, 1)| = 0.6745), so the few pixels on a digit's strokes do
not bias the estimate on MNIST's flat background::

    sigma_hat = median |(y * M)| / (6 * 0.6745).

The learned estimator applies :class:`tinyddpm.sigma_net.SigmaNet`, a small CNN that regresses
log sigma (trained by :func:`tinyddpm.harness.sigma_trainer.train_sigma_net`).

Clipped and quantised inputs (an 8-bit PNG) break both: :mod:`tinyddpm.clipping` detects them
and estimates sigma there; :func:`estimate_sigma` with ``method="auto"`` routes clipped images to it.

All units are pixel units ([0, 1] scale).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from .checkpoint import pretrained, registry
from .clipping import Clipping, background_mask, censored_sigma, clipped_moments, detect_clipping
from .io import as_batch
from .options import check_choice

SigmaMethod = Literal["auto", "mad", "learned", "censored"]  # see estimate_sigma

MAD_TO_SIGMA = 0.6744897501960817  # median of |N(0, 1)|
_MASK = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def estimate_sigma_mad(images: Tensor) -> Tensor:
    """Robust classical sigma estimate per image: ``median |y * M| / (6 * 0.6745)``.

    ``images``: (N, 1, H, W) in pixel units, H, W >= 3. Returns (N,) float32.
    """
    if images.ndim != 4 or images.shape[1] != 1 or min(images.shape[-2:]) < 3:
        raise ValueError(f"expected (N, 1, H, W) images with H, W >= 3, got {tuple(images.shape)}")
    r = F.conv2d(images.float(), _MASK.to(images.device)[None, None])  # (N, 1, H-2, W-2)
    return r.abs().flatten(1).median(dim=1).values / (6 * MAD_TO_SIGMA)


@torch.no_grad()
def estimate_sigma_learned(images: Tensor, model: nn.Module | None = None, *, batch_size: int = 64) -> Tensor:
    """Learned sigma estimate per image with ``model``, a :class:`tinyddpm.sigma_net.SigmaNet`
    (default: the shipped ``sigma_net``; typed as a module here so that this file need not
    import the estimator's trainer).

    ``batch_size`` only bounds memory: each image's estimate does not depend on the others.
    Small batches are also faster on CPU (the full-resolution activations stay in cache).
    """
    if model is None:
        model = pretrained("sigma_net", shared=True)[0]
    out = [model(images[i : i + batch_size].float()).exp() for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def estimate_sigma(images: Any, *, method: SigmaMethod = "auto") -> Any:
    """The noise std of each digit, in pixel units: the estimator ``denoise(sigma="auto")`` uses.

    ``images``: what :func:`tinyddpm.denoise` takes (:func:`tinyddpm.io.as_batch`: a tensor or
    NumPy array (N, 1, 28, 28), (1, 28, 28) or (28, 28), or a PIL image). Returns one float for
    one image, else (N,) sigmas as a tensor (tensor input) or a NumPy array (NumPy input).

    >>> import tinyddpm
    >>> x = tinyddpm.load_sample()[0][:4]
    >>> y = tinyddpm.add_noise(x, 0.2, generator=tinyddpm.seeded(0))
    >>> round(tinyddpm.estimate_sigma(y[0, 0].numpy()), 1), tinyddpm.estimate_sigma(y).shape
    (0.2, torch.Size([4]))

    ``method="auto"`` fits the censored normal
    (:func:`~tinyddpm.noise_level.estimate_sigma_censored`) to the images that
    :func:`~tinyddpm.clipping.detect_clipping` finds clipped, and uses the shipped learned
    estimator on the others when the package has it (the more accurate one on unclipped noise,
    see MODELS.md), else the classical MAD estimator; ``"mad"``, ``"learned"`` and ``"censored"``
    pick one for all images.
    """
    check_choice(method, SigmaMethod, "sigma estimator")
    batch, _ = as_batch(images)  # (N, 1, 28, 28) float32 pixels
    sigma = _estimate(batch, method)  # (N,)
    if isinstance(images, Image.Image) or (hasattr(images, "ndim") and images.ndim < 4):
        return float(sigma[0])
    return sigma.numpy() if isinstance(images, np.ndarray) else sigma


def _estimate(images: Tensor, method: SigmaMethod) -> Tensor:
    """``estimate_sigma`` on a checked (N, 1, 28, 28) batch: (N,) float32."""
    if method == "mad":
        return estimate_sigma_mad(images)
    if method == "learned":
        return estimate_sigma_learned(images)
    if method == "censored":
        return estimate_sigma_censored(images).float()
    clipped = detect_clipping(images).any
    out = torch.empty(len(images), dtype=torch.float32)
    if bool(clipped.any()):
        out[clipped] = estimate_sigma_censored(images[clipped]).float()
    if bool((~clipped).any()):
        rest = images[~clipped]
        out[~clipped] = (
            estimate_sigma_learned(rest) if "sigma_net" in registry() else estimate_sigma_mad(rest)
        )
    return out


def estimate_sigma_censored(images: Tensor, clipping: Clipping | None = None, *, passes: int = 2) -> Tensor:
    """Sigma of clipped and quantised noisy digits by ML of a censored normal on the background.

    ``images``: (N, 1, H, W) pixels, dark background (MNIST's polarity). The background is the set
    of pixels far from ink (:func:`~tinyddpm.clipping.background_mask`); its level mu is their
    median (unbiased under censoring of less than half of them) and sigma the censored-normal ML
    (:func:`~tinyddpm.clipping.censored_sigma`) with ``clipping``'s bounds (default:
    :func:`~tinyddpm.clipping.detect_clipping`). The ink threshold starts from the
    image's own spread and is then set from the fit (``passes`` rounds): 3.5 standard deviations of
    a local mean of clipped background noise above its mean. Returns (N,) float64.
    """
    clip = detect_clipping(images) if clipping is None else clipping
    y = images.detach().double().cpu()
    flat_y = y.flatten(1)
    lower, upper = clip.lower[:, None], clip.upper[:, None]
    local = F.avg_pool2d(F.pad(y, (2, 2, 2, 2), mode="replicate"), 5, 1).flatten(1)  # (N, H*W)
    med, q16 = local.median(1).values, local.quantile(0.16, dim=1)
    threshold = med + 5 * (med - q16).clamp(min=0.01)
    sigma = torch.full((len(y),), math.nan, dtype=torch.float64)
    for _ in range(passes):
        keep = background_mask(y, threshold).flatten(1)  # (N, H*W)
        mu = torch.where(keep, flat_y, torch.full_like(flat_y, math.nan)).nanmedian(1).values
        mu = torch.nan_to_num(mu, nan=0.0)
        sigma = censored_sigma(flat_y, keep, mu, lower, upper, step=clip.step)
        mean, sd = clipped_moments(mu, sigma, clip.lower.clamp(min=-1e6), clip.upper.clamp(max=1e6))
        threshold = mean + 3.5 * sd * math.sqrt(2) / 5  # a 5x5 mean over one colour: ~12 pixels
    return torch.where(torch.isnan(sigma), estimate_sigma_mad(images).double(), sigma)
