"""Pictures: image grids, denoising trajectories and comparison figures (PIL, no pyplot needed).

Labels are drawn with a TrueType font (DejaVu Sans, the font of matplotlib's plots: matplotlib's
own copy, else Debian's fonts-dejavu-core, else Pillow's built-in scalable font), sized for the
book: a figure wider than the text column (TEXT_COLUMN_PX, what sphinx-book-theme gives at a
1280 px window) is shrunk to fit it, so the font grows with the figure's width until a digit of
a label is still MIN_LABEL_PX high on the page. tests/test_viz.py measures the drawn glyphs;
tests/test_browser.py checks the column width in Chromium. The core package (the CLI) uses this
module, so it needs no matplotlib.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

TEXT_COLUMN_PX = 688  # the book's text column at a 1280 px window (checked in tests/test_browser.py)
MIN_LABEL_PX = 10  # height of a digit ("0") of a label, in page pixels, after shrinking to the column
DEBIAN_DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


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
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = im
    out = Image.fromarray(canvas, mode="L")
    return out.resize((out.width * scale, out.height * scale), Image.NEAREST) if scale > 1 else out


def label_font(size: int) -> ImageFont.FreeTypeFont:
    """DejaVu Sans at ``size`` px (matplotlib's copy, else Debian's), else Pillow's scalable default."""
    spec = importlib.util.find_spec("matplotlib")
    paths = [Path(spec.origin).parent / "mpl-data/fonts/ttf/DejaVuSans.ttf"] if spec and spec.origin else []
    for path in [*paths, DEBIAN_DEJAVU]:
        if path.exists():
            return ImageFont.truetype(str(path), size)
    try:
        font = ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType: a scalable font
    except TypeError:  # older Pillow: only the fixed bitmap font, too small to read
        font = None
    if not isinstance(font, ImageFont.FreeTypeFont):
        raise RuntimeError("viz needs a TrueType font: matplotlib, fonts-dejavu-core or Pillow >= 10.1")
    return font


def digit_height(font: ImageFont.FreeTypeFont) -> int:
    """Height in pixels of the glyph "0" (as tall as capitals): what MIN_LABEL_PX bounds."""
    _, top, _, bottom = font.getbbox("0")
    return bottom - top


def font_for_width(width: int) -> ImageFont.FreeTypeFont:
    """The smallest font whose digits stay MIN_LABEL_PX high when a ``width`` px figure fits the column."""
    shrink = min(1.0, TEXT_COLUMN_PX / width)
    size = max(1, math.ceil(MIN_LABEL_PX / shrink * 100 / digit_height(label_font(100))))
    font = label_font(size)
    while digit_height(font) * shrink < MIN_LABEL_PX:  # rounding of glyph outlines
        size += 1
        font = label_font(size)
    return font


def _text_width(font: ImageFont.FreeTypeFont, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return math.ceil(right - min(left, 0))


def _sized_font(content_width: int, labels: Sequence[str], width_for) -> tuple[ImageFont.FreeTypeFont, int]:
    """Font and figure width, iterated: wider labels widen the figure, which enlarges the font."""
    width = content_width
    for _ in range(20):
        font = font_for_width(width)
        needed = max(content_width, width_for(font, [_text_width(font, s) for s in labels]))
        if needed <= width:
            return font, width
        width = needed
    return font, width


def comparison(rows: dict[str, Tensor], *, scale: int = 3, pad: int = 2) -> Image.Image:
    """A labelled figure: one row of digits per entry of ``rows`` (name -> (N, 1, H, W)), each
    name written above its row, legible at the book's width (see MIN_LABEL_PX)."""
    tiles = [grid(v, nrow=len(v), pad=pad, scale=scale) for v in rows.values()]
    names = list(rows)
    margin = pad * scale

    def width_for(font, text_widths):
        return max(text_widths) + 2 * margin

    font, width = _sized_font(max(t.width for t in tiles), names, width_for)
    ascent, descent = font.getmetrics()
    strip = ascent + descent + margin  # label line above each row
    out = Image.new("L", (width, sum(strip + t.height for t in tiles)), 255)
    draw = ImageDraw.Draw(out)
    y = 0
    for name, tile in zip(names, tiles):
        draw.text((margin, y + margin), name, fill=0, font=font)
        out.paste(tile, (0, y + strip))
        y += strip + tile.height
    return out


def trajectory(
    states: list[Tensor], *, scale: int = 3, columns: Sequence[str] | None = None, pad: int = 2
) -> Image.Image:
    """Frames x_t of a reverse (or forward) chain, each (N, 1, H, W) in pixel units, as a grid with
    one row per image and one column per frame; ``columns`` labels the frames (e.g. "t = 500"),
    written above them at a legible size, the columns spread apart where a label needs room."""
    stacked = torch.stack(states, dim=1)  # (N, K, 1, H, W)
    n, k = stacked.shape[:2]
    if columns is None:
        return grid(stacked.reshape(n * k, *stacked.shape[2:]), nrow=k, pad=pad, scale=scale)
    if len(columns) != k:
        raise ValueError(f"{len(columns)} column labels for {k} frames")
    cols = [grid(stacked[:, j], nrow=1, pad=pad, scale=scale) for j in range(k)]  # one column per frame
    margin = pad * scale
    tile_pitch = cols[0].width - margin  # neighbouring columns share their padding, as in grid()

    def width_for(font, text_widths):
        return k * max(tile_pitch, max(text_widths) + 2 * margin) + margin

    font, width = _sized_font(k * tile_pitch + margin, columns, width_for)
    pitch = (width - margin) // k
    ascent, descent = font.getmetrics()
    strip = ascent + descent + margin
    out = Image.new("L", (width, strip + cols[0].height), 255)
    draw = ImageDraw.Draw(out)
    for j, (label, col) in enumerate(zip(columns, cols)):
        x0 = j * pitch + (pitch - tile_pitch) // 2  # column centred in its slot
        out.paste(col, (x0, strip))
        centre = x0 + (tile_pitch + margin) / 2
        draw.text((centre - _text_width(font, label) / 2, margin), label, fill=0, font=font)
    return out
