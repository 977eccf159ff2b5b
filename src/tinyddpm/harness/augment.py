"""Training-time augmentation for other writers: small affine transforms and stroke-width changes.

MNIST is 500 writers, scanned and normalised one way (LeCun et al. 1998). Digits from elsewhere
differ in slant, proportions and, most of all, stroke: thicker, thinner or softer-edged. This
module draws, per digit, an affine map (rotation, anisotropic scale, shear, shift) and one
stroke change (grey dilation, grey erosion or a Gaussian blur, blended in with a random weight),
all from a ``torch.Generator`` so a training step stays a function of (seed, step).

>>> x = torch.zeros(1, 1, 28, 28); x[..., 10:18, 13:15] = 1.0
>>> bool(torch.allclose(affine(x, torch.eye(2)[None], torch.zeros(1, 2)), x, atol=1e-6))  # identity map
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import Config


@dataclass(frozen=True)
class AugmentConfig(Config):
    """The ranges each digit's transform is drawn from (uniformly)."""

    p: float = 0.0  # share of the digits of a batch that are augmented (0: off)
    degrees: float = 12.0  # rotation in [-degrees, degrees]
    scale: tuple[float, float] = (0.85, 1.15)  # per axis
    shear: float = 0.2  # x' = x + shear * y, shear in [-shear, shear]
    shift: float = 1.5  # pixels, per axis
    blur: tuple[float, float] = (0.5, 1.2)  # Gaussian std in pixels, for the "soft" stroke change

    def __post_init__(self) -> None:
        if not 0 <= self.p <= 1:
            raise ValueError(f"augment p must lie in [0, 1], got {self.p}")


def affine(x: Tensor, a: Tensor, shift: Tensor) -> Tensor:
    """Resample (B, 1, H, W) images under x_out(u) = x(A u + b), u in pixel coordinates about the
    image centre; ``a``: (B, 2, 2) acting on (column, row), ``shift``: (B, 2) pixels. Bilinear,
    zero outside (MNIST's background)."""
    b, _, h, w = x.shape
    size = torch.tensor([w / 2, h / 2], dtype=x.dtype, device=x.device)
    theta = torch.cat([a / size[None, :, None] * size[None, None, :], (shift / size)[..., None]], 2)
    grid = F.affine_grid(theta.to(x.dtype), [b, 1, h, w], align_corners=False)  # (B, H, W, 2)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def gaussian_blur(x: Tensor, std: Tensor) -> Tensor:
    """Blur each of the (B, 1, H, W) images with its own Gaussian of ``std`` (B,) pixels (7x7,
    normalised)."""
    r = torch.arange(-3, 4, dtype=x.dtype, device=x.device)
    k1 = torch.exp(-0.5 * (r[None] / std[:, None]) ** 2)
    k1 = k1 / k1.sum(1, keepdim=True)  # (B, 7)
    k2 = k1[:, :, None] * k1[:, None, :]  # (B, 7, 7)
    out = F.conv2d(x.transpose(0, 1), k2[:, None], padding=3, groups=x.shape[0])  # (1, B, H, W)
    return out.transpose(0, 1)


def stroke(x: Tensor, kind: Tensor, weight: Tensor, std: Tensor) -> Tensor:
    """Per image: 0 thicker (3x3 grey dilation), 1 thinner (3x3 grey erosion), 2 softer (blur),
    blended with the image by ``weight`` in [0, 1]: (B, 1, H, W)."""
    thick = F.max_pool2d(x, 3, 1, 1)
    thin = -F.max_pool2d(-x, 3, 1, 1)
    soft = gaussian_blur(x, std)
    k = kind[:, None, None, None]
    changed = torch.where(k == 0, thick, torch.where(k == 1, thin, soft))
    return torch.lerp(x, changed, weight[:, None, None, None].to(x.dtype))


def augment(x: Tensor, cfg: AugmentConfig, gen: torch.Generator) -> Tensor:
    """A share ``cfg.p`` of the (B, 1, 28, 28) pixel-unit digits in [0, 1], transformed: an affine
    map, then a stroke change; the others returned as they are. Draws only from ``gen``; with
    ``p = 0`` it draws nothing and returns ``x`` itself."""
    if cfg.p == 0:
        return x
    n = x.shape[0]

    def u(lo: float, hi: float, *shape: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(*shape, n, generator=gen, dtype=torch.float64)

    pick = torch.rand(n, generator=gen) < cfg.p
    angle = u(-cfg.degrees, cfg.degrees) * math.pi / 180
    sx, sy = u(*cfg.scale), u(*cfg.scale)
    shear = u(-cfg.shear, cfg.shear)
    shift = u(-cfg.shift, cfg.shift, 2).T  # (B, 2)
    kind = torch.randint(0, 3, (n,), generator=gen)
    weight = u(0.0, 1.0)
    std = u(*cfg.blur)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)  # (B, 2, 2)
    shear_m = torch.stack(
        [
            torch.stack([torch.ones(n, dtype=torch.float64), shear], -1),
            torch.stack([0 * shear, 1 + 0 * shear], -1),
        ],
        -2,
    )
    scale_m = torch.diag_embed(torch.stack([1 / sx, 1 / sy], -1))  # inverse map: output u samples A u
    a = scale_m @ shear_m @ rot
    out = stroke(affine(x.double(), a, shift), kind, weight, std).clamp(0, 1).to(x.dtype)
    return torch.where(pick[:, None, None, None], out, x)
