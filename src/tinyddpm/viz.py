"""Pictures: image grids, denoising trajectories and comparison figures (PIL, no pyplot needed)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw
from torch import Tensor


def to_uint8(images: Tensor) -> np.ndarray:
    """(N, 1, H, W) pixel-unit images -> (N, H, W) uint8, clipped to [0, 1] first."""
    return np.round(images.detach().cpu().float().clamp(0, 1).numpy()[:, 0] * 255).astype(np.uint8)


def grid(images: Tensor, *, nrow: int = 8, pad: int = 2, scale: int = 1, pad_value: int = 255) -> Image.Image:
    """Tile (N, 1, H, W) pixel-unit images into one grayscale PIL image, ``nrow`` per row."""
    if images.ndim != 4 or images.shape[1] != 1:
        raise ValueError(f"expected (N, 1, H, W) images, got {tuple(images.shape)}")
    n, _, h, w = images.shape
    if n == 0:
        raise ValueError("no images to tile")
    ncol = min(nrow, n)
    rows = (n + ncol - 1) // ncol
    canvas = np.full((rows * (h + pad) + pad, ncol * (w + pad) + pad), pad_value, dtype=np.uint8)
    for i, im in enumerate(to_uint8(images)):
        r, c = divmod(i, ncol)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    out = Image.fromarray(canvas, mode="L")
    return out.resize((out.width * scale, out.height * scale), Image.NEAREST) if scale > 1 else out


def comparison(rows: dict[str, Tensor], *, scale: int = 3, label_width: int = 110) -> Image.Image:
    """A labelled figure with one row of digits per entry of ``rows`` (name -> (N, 1, H, W))."""
    tiles = [grid(v, nrow=len(v), scale=scale) for v in rows.values()]
    width = label_width + max(t.width for t in tiles)
    out = Image.new("L", (width, sum(t.height for t in tiles)), 255)
    draw = ImageDraw.Draw(out)
    y = 0
    for name, tile in zip(rows, tiles):
        out.paste(tile, (label_width, y))
        draw.text((4, y + tile.height // 2 - 5), name, fill=0)
        y += tile.height
    return out


def trajectory(states: list[Tensor], *, scale: int = 3) -> Image.Image:
    """Frames x_t of a reverse chain (each (N, 1, H, W), pixel units) as rows = images, cols = time."""
    stacked = torch.stack(states, dim=1)  # (N, K, 1, H, W)
    n, k = stacked.shape[:2]
    return grid(stacked.reshape(n * k, *stacked.shape[2:]), nrow=k, scale=scale)
