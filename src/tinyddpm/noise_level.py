"""How noisy is it? Estimating the noise standard deviation sigma from a single image.

The classical estimator filters the image with the 3x3 mask
M = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]] (the difference of two Laplacians, Immerkaer 1996,
"Fast noise variance estimation"), which annihilates locally linear image content. For white
noise of standard deviation sigma the response is N(0, 36 sigma^2) (||M||_2 = 6). Instead of
Immerkaer's mean absolute response we take the *median* absolute response (Donoho & Johnstone
1994's robust MAD scale, median|N(0, 1)| = 0.6745), so the few pixels on a digit's strokes do
not bias the estimate on MNIST's flat background:

    sigma_hat = median |(y * M)| / (6 * 0.6745).

All units are pixel units ([0, 1] scale).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

MAD_TO_SIGMA = 0.6744897501960817  # median of |N(0, 1)|
_MASK = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def estimate_sigma_mad(images: Tensor) -> Tensor:
    """Robust classical sigma estimate per image: median |y * M| / (6 * 0.6745).

    ``images``: (N, 1, H, W) in pixel units, H, W >= 3. Returns (N,) float32.
    """
    if images.ndim != 4 or images.shape[1] != 1 or min(images.shape[-2:]) < 3:
        raise ValueError(f"expected (N, 1, H, W) images with H, W >= 3, got {tuple(images.shape)}")
    r = F.conv2d(images.float(), _MASK.to(images.device)[None, None])  # (N, 1, H-2, W-2)
    return r.abs().flatten(1).median(dim=1).values / (6 * MAD_TO_SIGMA)


def estimate_sigma(images: Tensor) -> Tensor:
    """The estimator ``denoise(sigma="auto")`` uses: (N, 1, 28, 28) pixels -> (N,) sigmas."""
    return estimate_sigma_mad(images)
