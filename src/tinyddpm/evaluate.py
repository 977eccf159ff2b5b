"""Measuring a denoiser on MNIST digits: the numbers that MODELS.md, the benchmarks and the book report.

Protocol: clean digits x in [0, 1], y = x + sigma n with n ~ N(0, I) from a seeded generator,
*not* clipped; the denoiser sees y and sigma; PSNR per image against x (mean over images), plus
the PSNR of the pooled MSE and, with a classifier, how often the digit's identity survives.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .data import add_noise
from .metrics import identity_accuracy, pooled_psnr, psnr, ssim

Denoiser = Callable[[Tensor, float], Tensor]


def noisy_set(images: Tensor, sigma: float, *, seed: int = 0) -> Tensor:
    """The fixed noisy version of ``images`` at ``sigma`` (pixel units) used by every evaluation."""
    g = torch.Generator().manual_seed(seed * 1000 + round(sigma * 1e4))
    return add_noise(images, sigma, generator=g)


def evaluate_denoiser(
    denoiser: Denoiser,
    images: Tensor,
    sigmas: Sequence[float],
    *,
    labels: Tensor | None = None,
    classifier: nn.Module | None = None,
    seed: int = 0,
    with_ssim: bool = False,
) -> dict[str, dict[str, Any]]:
    """Scores of ``denoiser(y, sigma) -> x_hat`` at each sigma: ``{str(sigma): {...}}``.

    Each entry has ``psnr`` (mean per-image dB), ``psnr_pooled``, ``psnr_noisy`` (the input's),
    ``seconds`` and ``images``; ``ssim`` with ``with_ssim``; ``identity`` with a classifier.
    """
    out: dict[str, dict[str, Any]] = {}
    for sigma in sigmas:
        y = noisy_set(images, sigma, seed=seed)
        t0 = time.perf_counter()
        x_hat = denoiser(y, sigma)
        dt = time.perf_counter() - t0
        row: dict[str, Any] = {
            "psnr": round(float(psnr(x_hat, images).mean()), 3),
            "psnr_pooled": round(pooled_psnr(x_hat, images), 3),
            "psnr_noisy": round(float(psnr(y, images).mean()), 3),
            "seconds": round(dt, 2),
            "images": len(images),
        }
        if with_ssim:
            row["ssim"] = round(float(ssim(x_hat, images).mean()), 4)
        if classifier is not None and labels is not None:
            row["identity"] = round(identity_accuracy(classifier, x_hat, labels), 4)
        out[str(sigma)] = row
    return out
