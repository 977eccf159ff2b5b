"""Resampling a picture onto MNIST's 28x28 field, and the picture's smooth background.

- ``resample_weights``: the (n_out, n_in) weights of the map in = (out - offset) / gain: area
  averaging when reducing (the anti-aliasing), Keys' (1981) cubic convolution when enlarging;
- ``resample``: the 28x28 field of a picture under that map, and the noise gain it implies;
- ``quadratic_design`` / ``quadratic_surface``: a quadratic background in normalised coordinates;
- ``normalised``: a picture coordinate in [0, n] as a normalised one in [-1, 1], the one copy of
  that map.

Used by :mod:`tinyddpm.preprocess`, which decides where the digit is and what to resample.
"""

from __future__ import annotations

import numpy as np

SIZE = 28  # MNIST's field


def normalised(pos: np.ndarray | float, n: int) -> np.ndarray:
    """Picture coordinate ``pos`` (pixel i spans [i, i + 1), its centre is i + 0.5) on a side of
    ``n`` pixels, as a normalised coordinate: 2 pos / n - 1, so the side spans [-1, 1].

    >>> normalised(np.arange(4) + 0.5, 4).tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    return 2 * np.asarray(pos) / n - 1


def keys_kernel(t: np.ndarray) -> np.ndarray:
    """Keys' (1981) cubic convolution kernel, a = -0.5."""
    t = np.abs(t)
    return np.where(
        t <= 1, 1.5 * t**3 - 2.5 * t**2 + 1, np.where(t < 2, -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2, 0.0)
    )


def resample_weights(n_out: int, n_in: int, gain: float, offset: float) -> np.ndarray:
    """(n_out, n_in) resampling weights for the map in = (out - offset) / gain.

    Output pixel i (centre i + 0.5) reads the input around Y = (i + 0.5 - offset) / gain. Reducing
    (gain < 1): the mean over the footprint [Y - 1 / (2 gain), Y + 1 / (2 gain)], i.e. each input
    pixel weighted by its overlap (area averaging, the anti-aliasing); enlarging: Keys' cubic
    interpolation at Y. Input pixels outside [0, n_in) count as 0 (background) and get no weight.
    """
    y = (np.arange(n_out) + 0.5 - offset) / gain  # (n_out,) input coordinates
    k = np.arange(n_in)
    if gain <= 1:
        half = 0.5 / gain
        lo, hi = y[:, None] - half, y[:, None] + half
        overlap = np.clip(np.minimum(hi, k + 1) - np.maximum(lo, k), 0, None)  # (n_out, n_in)
        return overlap * gain
    return keys_kernel(y[:, None] - (k + 0.5))  # (n_out, n_in)


def resample(image: np.ndarray, offset_r: float, offset_c: float, gain: float) -> tuple[np.ndarray, float]:
    """The 28x28 field of ``image`` under in = (out - offset) / gain, and its noise gain.

    Returns (digit (28, 28), sqrt of the mean over output pixels of sum_k w_k^2): the std of the
    output for white noise of unit std in the input (pixels outside the picture carry none).
    """
    wy = resample_weights(SIZE, image.shape[0], gain, offset_r)  # (28, H)
    wx = resample_weights(SIZE, image.shape[1], gain, offset_c)  # (28, W)
    rows, cols = np.flatnonzero(wy.any(0)), np.flatnonzero(wx.any(0))
    if len(rows) == 0 or len(cols) == 0:
        return np.zeros((SIZE, SIZE)), 0.0
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    digit = wy[:, r0:r1] @ image[r0:r1, c0:c1] @ wx[:, c0:c1].T  # (28, 28)
    energy = np.outer((wy**2).sum(1), (wx**2).sum(1))  # (28, 28) variance per unit input variance
    return digit, float(np.sqrt(energy[energy > 0].mean()))


def quadratic_surface(
    coef: tuple[float, ...], shape: tuple[int, int], rows: tuple[int, int], cols: tuple[int, int]
):
    """The quadratic background over picture rows [r0, r1) x cols [c0, c1): float32 array."""
    h, w = shape
    v = normalised(np.arange(*rows) + 0.5, h)[:, None].astype(np.float32)  # (R, 1)
    u = normalised(np.arange(*cols) + 0.5, w)[None].astype(np.float32)  # (1, C)
    c = np.asarray(coef, dtype=np.float32)
    return c[0] + c[1] * u + c[2] * v + c[3] * u * u + c[4] * u * v + c[5] * v * v


def quadratic_design(v: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(n, 6) quadratic design matrix of normalised coordinates."""
    return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
