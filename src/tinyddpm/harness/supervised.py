"""Supervised reference denoisers: the package's U-Net trained to map y = x + sigma n to x
directly (mean squared error) at one fixed sigma.

Trained for its own noise level only, such a network approximates the MMSE estimator
E[x | y] at that sigma: the best PSNR any denoiser can reach there on average. It tells us how
close the diffusion model's one-step posterior mean (which serves every sigma) comes to it.

    tinyddpm train --out runs/supervised_0.2 --supervised-sigma 0.2

Their recipe is :func:`tinyddpm.harness.train.supervised_config`; this module applies them.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import to_model, to_pixels


@torch.no_grad()
def supervised_denoise(model: torch.nn.Module, y: Tensor, sigma: float, *, batch_size: int = 500) -> Tensor:
    """Apply a reference denoiser trained at ``sigma`` to pixel-unit images (N, 1, 28, 28)."""
    out = []
    for i in range(0, len(y), batch_size):
        chunk = to_model(y[i : i + batch_size].float())
        out.append(to_pixels(model(chunk, torch.full((len(chunk),), 2 * sigma))).clamp(0, 1))
    return torch.cat(out) if out else torch.empty_like(y)
