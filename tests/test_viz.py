"""viz: grids, and labels legible at the book's width.

How legibility is checked: the figures are drawn with white digits (so every dark pixel is label
ink), the ink of each label is measured in the PNG, and its height is scaled by how much the
browser shrinks the figure to fit the text column (min(1, viz.TEXT_COLUMN_PX / width)). A label
passes when a digit is at least viz.MIN_LABEL_PX = 10 px high on the page. tests/test_browser.py
checks in Chromium that the book's text column is as wide as viz.TEXT_COLUMN_PX says.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from tinyddpm import viz


def white(n: int) -> torch.Tensor:
    return torch.ones(n, 1, 28, 28)


def black(n: int) -> torch.Tensor:
    return torch.zeros(n, 1, 28, 28)


def bands(mask: np.ndarray) -> list[tuple[int, int]]:
    """Runs [start, stop) of True in a 1-D mask."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(int), [0]])))
    return list(zip(edges[::2], edges[1::2]))


def shrink(image) -> float:
    return min(1.0, viz.TEXT_COLUMN_PX / image.width)


def test_grid_tiles_images_with_padding():
    x = torch.rand(5, 1, 28, 28)
    g = viz.grid(x, nrow=3, pad=2, scale=2)
    assert g.size == ((3 * 30 + 2) * 2, (2 * 30 + 2) * 2)
    a = np.asarray(g)
    assert np.array_equal(a[4:60:2, 4:60:2], viz.to_uint8(x)[0])
    with pytest.raises(ValueError):
        viz.grid(torch.rand(3, 28, 28))


@pytest.mark.parametrize("n", [3, 10, 16, 28])
def test_comparison_labels_are_legible_at_the_page_width(n):
    """Digits of a label ("0123456789") are >= 10 page pixels high, whatever the figure's width."""
    im = viz.comparison({"0123456789": white(n), "σ = 0.30": white(n)}, scale=3)
    ink = np.asarray(im) < 128  # white digits and padding: only the labels are dark
    rows = bands(ink.any(axis=1))
    assert len(rows) == 2, rows
    start, stop = rows[0]  # the digits-only label: its ink is exactly a digit's height
    assert (stop - start) * shrink(im) >= viz.MIN_LABEL_PX, (im.size, stop - start)


def test_long_labels_do_not_overlap_their_images():
    """The label from the issue ("guess at t = 990, no noise") sits above its row, not on it."""
    rows = {"clean": 3, "guess at t = 990, no noise": 3, "posterior mean, blind (estimated σ)": 3}
    text = np.asarray(viz.comparison({k: white(v) for k, v in rows.items()})) < 128
    both = np.asarray(viz.comparison({k: black(v) for k, v in rows.items()})) < 128
    assert text.shape == both.shape
    tiles = both & ~text
    assert not (text.any(axis=1) & tiles.any(axis=1)).any(), "a label shares pixel rows with images"
    assert text[:, -3:].sum() == 0 and text[:, :3].sum() == 0, "a label runs into the figure's edge"


def test_trajectory_has_legible_column_labels_centred_over_their_frames():
    labels = ["t = 1000", "t = 750", "t = 500", "t = 250", "t = 0"]
    im = viz.trajectory([white(3)] * 5, columns=labels)
    text = np.asarray(im) < 128
    ((start, stop),) = bands(text.any(axis=1))
    assert (stop - start) * shrink(im) >= viz.MIN_LABEL_PX  # "t" and digits: digit height or more
    frames = np.asarray(viz.trajectory([black(3)] * 5, columns=labels)) < 128
    tiles = frames & ~text
    assert not (text.any(axis=1) & tiles.any(axis=1)).any()
    tile_cols = bands(tiles.any(axis=0))
    assert len(tile_cols) == 5
    for a, b in tile_cols:  # the ink above each frame is centred on it
        ink = np.flatnonzero(text[:, a:b].any(axis=0)) + a
        assert abs((ink.min() + ink.max()) / 2 - (a + b) / 2) < 0.1 * (b - a), (a, b, ink.min(), ink.max())


def test_trajectory_spreads_columns_for_long_labels():
    labels = ["clean digit x0", "noisy y at sigma 0.5", "denoised"]
    im = viz.trajectory([white(2)] * 3, columns=labels)
    text = np.asarray(im) < 128
    frames = np.asarray(viz.trajectory([black(2)] * 3, columns=labels)) < 128
    tile_cols = bands((frames & ~text).any(axis=0))
    assert len(tile_cols) == 3
    assert not text[:, :2].any() and not text[:, -2:].any(), "a label runs into the figure's edge"
    centres = [(a + b) / 2 for a, b in tile_cols]
    pitch = np.diff(centres)
    widest = max(viz._text_width(viz.font_for_width(im.width), s) for s in labels)
    assert pitch.min() >= widest, (pitch, widest)


def test_trajectory_without_labels_is_a_plain_grid_and_checks_label_count():
    frames = [torch.rand(2, 1, 28, 28) for _ in range(4)]
    assert viz.trajectory(frames, scale=1).size == viz.grid(torch.cat(frames), nrow=4).size
    with pytest.raises(ValueError, match="3 column labels for 4 frames"):
        viz.trajectory(frames, columns=["a", "b", "c"])


def test_font_size_grows_with_the_figure_width():
    narrow, wide = viz.font_for_width(400), viz.font_for_width(2000)
    assert viz.digit_height(narrow) >= viz.MIN_LABEL_PX
    assert viz.digit_height(wide) * viz.TEXT_COLUMN_PX / 2000 >= viz.MIN_LABEL_PX
    assert viz.digit_height(wide) > viz.digit_height(narrow)


@pytest.mark.parametrize("debian_fonts", [True, False])
def test_viz_works_without_matplotlib(debian_fonts):
    """The CLI (core install, no matplotlib) draws its labelled demo figure with viz: with Debian's
    DejaVu Sans, or else with Pillow's built-in scalable font."""
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from pathlib import Path; import torch; from tinyddpm import viz\n"
        + ("" if debian_fonts else "viz.DEBIAN_DEJAVU = Path('/nonexistent.ttf')\n")
        + "im = viz.comparison({'clean': torch.ones(4, 1, 28, 28)})\n"
        "assert viz.digit_height(viz.font_for_width(im.width)) >= viz.MIN_LABEL_PX\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
