"""A photo or scan of one digit to MNIST form and back, the way MNIST itself was made.

LeCun, Bottou, Bengio & Haffner (1998, "Gradient-based learning applied to document recognition",
Sec. III-A): "The original black and white (bilevel) images from NIST were size normalized to fit
in a 20x20 pixel box while preserving their aspect ratio. The resulting images contain grey levels
as a result of the anti-aliasing technique used by the normalization algorithm. The images were
centered in a 28x28 image by computing the center of mass of the pixels, and translating the image
so as to position this point at the center of the 28x28 field."

:func:`normalize` does this to a picture of one digit (any size, dark ink on light paper or the
reverse, uneven light, paper noise, clipped and quantised pixels) and returns the 28x28 digit in
[0, 1], light ink on black as in MNIST, with a :class:`Normalization` that records every step;
:meth:`Normalization.to_image` puts a (denoised) 28x28 digit back into the picture's own frame,
polarity and background. The steps:

1. an analysis copy, block-averaged to at most ``WORK_SIDE`` pixels a side and lightly blurred;
2. background (uneven light): a quadratic surface fitted to block medians, blocks holding ink
   trimmed away; medians, because the median of a clipped value is the clipped median;
3. polarity: ink is the side of the background with the longer tail (light paper: invert);
4. ink: pixels more than ``BOX_THRESHOLD`` of the ink contrast above the background; refusals
   (:class:`DigitError`): no ink, several separated components, too small, ink on 3+ borders
   (and before any work, a picture longer than ``MAX_ASPECT``:1); components are labelled in time
   linear in the analysis copy's pixels, which is at most about 160 x 240;
5. noise: sigma of the picture by maximum likelihood of a censored normal on the background
   pixels (:func:`tinyddpm.clipping.censored_sigma`), clipped background pixels replaced by
   their expected value (:func:`tinyddpm.clipping.truncated_normal_mean`);
6. crop, scale, centre: the ink's bounding box scaled so its longer side is 20 px (area
   averaging, i.e. anti-aliasing, when reducing; Keys' cubic when enlarging), translated so the
   centre of mass lands on MNIST's (pixel 14, 14 in 0-based indices);
7. contrast: divided by the ink contrast, so that stroke cores sit near 1 as in MNIST.

Noise through the resampling. The user's sigma is the noise std of *their* picture, in [0, 1]
pixel units (model units: 2 sigma). Each 28x28 pixel is a weighted sum sum_k w_k y_k of picture
pixels, so white noise of std sigma comes out with std sigma sqrt(sum_k w_k^2) (sigma / f for an
area reduction by a whole factor f), and dividing by the contrast divides it again. The package
does not estimate sigma on the 28x28 digit (the reduced noise is too weak to measure beside the
strokes, and no longer white); it predicts it: ``Normalization.noise_gain`` is the RMS over the
28x28 pixels of sqrt(sum_k w_k^2) from the kernel's actual weights, divided by the contrast, and
the digit is denoised with ``noise_gain * sigma`` (the test compares this with the measured std).

A 28x28 picture is taken to be in MNIST form already: only its polarity is set, nothing is
resampled, and its sigma is estimated on the digit itself (clipping-aware).

>>> import numpy as np, tinyddpm
>>> from tinyddpm.preprocess import normalize, synthetic_photo
>>> photo = synthetic_photo(tinyddpm.load_sample()[0][7, 0].numpy(), np.random.default_rng(0))
>>> digit, record = normalize(photo.noisy)
>>> digit.shape, record.inverted == photo.dark_ink, record.to_image(digit).shape == photo.noisy.shape
((28, 28), True, True)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .clipping import censored_sigma, detect_clipping, truncated_normal_mean
from .io import ImageError
from .resample import SIZE, normalised, quadratic_design, quadratic_surface, resample, resample_weights

BOX = 20  # the longer side of the ink's bounding box, in MNIST pixels
CENTRE = 14.5  # MNIST's centre of mass (pixel 14 in 0-based indices; continuous coordinates)
MNIST_INK = 0.957  # mean over MNIST digits of the median of their pixels above half their maximum
WORK_SIDE = 160  # longest side of the analysis copy
MIN_SIDE = 8  # smallest picture side that can hold a digit
MAX_ASPECT = 16  # longest picture side over the shortest: a digit with any margin fits in far less
MIN_INK = 10  # smallest longer side of the ink's bounding box (as blurred), picture pixels
BOX_THRESHOLD = 0.3  # ink = more than this fraction of the contrast above the background
MIN_PART = 0.08  # components smaller than this fraction of the largest are specks, not parts
GAP = 0.1  # parts closer than this fraction of the largest one's size belong to one digit
NOISE_SAMPLE = 20_000  # background pixels used to fit the picture's sigma


class DigitError(ImageError):
    """A picture that does not hold one digit to read (blank, several digits, too small, ...).

    >>> import numpy as np, tinyddpm
    >>> try:
    ...     tinyddpm.normalize(np.full((50, 80), 0.5), source="grey.png")
    ... except tinyddpm.DigitError as e:
    ...     print(e)
    grey.png: no ink found (a blank page?)
    """


@dataclass(frozen=True)
class Normalization:
    """The record of :func:`normalize`: enough to map the 28x28 digit back into the picture.

    Coordinates are continuous, pixel (r, c) covering [r, r + 1) x [c, c + 1); a picture point Y
    maps to ``(Y - centre) * scale + CENTRE`` in the 28x28 field (rows and columns alike).

    >>> import numpy as np, tinyddpm
    >>> from tinyddpm.preprocess import synthetic_photo
    >>> photo = synthetic_photo(tinyddpm.load_sample()[0][0, 0].numpy(), np.random.default_rng(0))
    >>> digit, record = tinyddpm.normalize(photo.noisy)
    >>> record.shape == photo.noisy.shape, record.to_image(digit).shape == photo.noisy.shape
    (True, True)
    """

    shape: tuple[int, int]  # (H, W) of the picture
    inverted: bool  # dark ink on a light background: the digit is (background - picture) / ink
    background: tuple[float, ...]  # (1, u, v, u^2, uv, v^2) coefficients, u, v in [-1, 1] across the picture
    ink: float  # contrast: digit value 1 lies `ink` away from the background in the picture
    scale: float  # 28x28-field pixels per picture pixel
    centre: tuple[float, float]  # (row, col) of the ink's centre of mass in the picture
    box: tuple[int, int, int, int]  # the ink's bounding box (top, left, bottom, right), ends exclusive
    noise_gain: float  # noise std of the 28x28 digit per unit noise std of the picture
    sigma_picture: float | None  # estimated noise std of the picture, None for MNIST-form input
    clipped: bool  # pixels were clipped to [0, 1] (a mass exactly at 0 or 1)
    quantized: bool  # pixels are on the 1/255 grid (an 8-bit file)
    mnist_form: bool  # a 28x28 picture, taken as already normalised
    steps: tuple[str, ...]  # what was done, in words

    @property
    def sigma(self) -> float | None:
        """The predicted noise std of the 28x28 digit (pixel units), None where it is to be estimated."""
        return None if self.sigma_picture is None else self.noise_gain * self.sigma_picture

    def background_image(self) -> np.ndarray:
        """The fitted background (uneven light) over the whole picture: (H, W) float32."""
        return quadratic_surface(self.background, self.shape, (0, self.shape[0]), (0, self.shape[1]))

    def apply(self, pixels: np.ndarray) -> np.ndarray:
        """A picture of the same frame through this record's steps, nothing estimated: (28, 28) float32.

        No imputation of clipped pixels; for white noise of std sigma in ``pixels`` the result
        carries noise of std ``noise_gain * sigma`` (what the tests check).
        """
        sign = -1.0 if self.inverted else 1.0
        signal = sign * (np.asarray(pixels, dtype=np.float64) - self.background_image())
        (cy, cx), s = self.centre, self.scale
        digit, _ = resample(signal, CENTRE - cy * s, CENTRE - cx * s, s)
        return (digit / self.ink).astype(np.float32)

    def to_image(self, digit: np.ndarray) -> np.ndarray:
        """A 28x28 digit (MNIST form) back in the picture's frame: (H, W) float32 in [0, 1].

        The inverse of :func:`normalize`'s geometry (cubic interpolation when enlarging, area
        averaging when reducing), the contrast and polarity restored, the background added back.
        """
        d = np.asarray(digit, dtype=np.float64).reshape(SIZE, SIZE)
        (h, w), (cy, cx) = self.shape, self.centre
        s = self.scale  # picture Y -> field (Y - c) s + CENTRE, i.e. Y = (field - (c - CENTRE / s)) / (1 / s)
        wy = resample_weights(h, SIZE, 1 / s, cy - CENTRE / s)  # (H, 28)
        wx = resample_weights(w, SIZE, 1 / s, cx - CENTRE / s)  # (W, 28)
        ink = (wy @ d @ wx.T).astype(np.float32)  # (H, W)
        sign = -1.0 if self.inverted else 1.0
        return np.clip(self.background_image() + sign * self.ink * ink, 0, 1)

    def describe(self) -> str:
        """The steps on one line."""
        return "; ".join(self.steps)


# ---- analysis at low resolution -----------------------------------------------------------
def _analysis_copy(pixels: np.ndarray) -> tuple[np.ndarray, int]:
    """Block means of ``pixels`` (k x k blocks, longer side <= WORK_SIDE): ((h, w) array, k)."""
    k = max(1, min(math.ceil(max(pixels.shape) / WORK_SIDE), min(pixels.shape) // MIN_SIDE))
    h, w = pixels.shape[0] // k, pixels.shape[1] // k
    return pixels[: h * k, : w * k].reshape(h, k, w, k).mean(axis=(1, 3)), k


def _blur(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blur, std 1 pixel (5 x 5), normalised at the edges: (blurred, relative noise std).

    Near the edges the kernel is cut off and renormalised, so it averages fewer pixels: white
    noise comes out stronger there. The second array is that std relative to the interior's
    (1 inside, about 2 in the corners), so thresholds in noise units hold up to the border.
    """
    g = torch.exp(-0.5 * torch.arange(-2.0, 3.0, dtype=torch.float64) ** 2)
    kernel = torch.outer(g, g)[None, None]  # (1, 1, 5, 5)

    def conv(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, (2, 2, 2, 2)), k)[0, 0]

    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))[None, None]
    ones = torch.ones_like(t)
    total = conv(ones, kernel)
    energy = conv(ones, kernel**2) / total**2  # sum w^2 of the renormalised kernel
    rel = (energy / (kernel**2).sum() * kernel.sum() ** 2).sqrt()
    return (conv(t, kernel) / total).numpy(), rel.numpy()


def _fitquadratic_surface(work: np.ndarray, k: int, shape: tuple[int, int]) -> np.ndarray:
    """Quadratic background of the picture from the analysis copy: (6,) coefficients.

    Block medians on a grid of about 16 x 16 blocks. Starting from a flat background at their
    median, the blocks within 3 robust standard deviations of the current surface are fitted by
    least squares, and again, until the set stops changing: blocks holding ink never get in.
    """
    h, w = work.shape
    bh, bw = max(2, round(h / 16)), max(2, round(w / 16))
    meds, vs, us = [], [], []
    for r in range(0, h - bh // 2, bh):
        for c in range(0, w - bw // 2, bw):
            blk = work[r : r + bh, c : c + bw]
            meds.append(np.median(blk))
            vs.append(normalised((r + blk.shape[0] / 2) * k, shape[0]))  # the block's centre
            us.append(normalised((c + blk.shape[1] / 2) * k, shape[1]))
    z, x = np.asarray(meds), quadratic_design(np.asarray(vs), np.asarray(us))
    coef = np.array([np.median(z), 0, 0, 0, 0, 0], dtype=np.float64)  # start: a flat background
    keep = np.zeros(len(z), dtype=bool)
    for _ in range(10):
        res = z - x @ coef
        spread = max(1.4826 * float(np.median(np.abs(res))), 2 / 255)
        new = np.abs(res) <= 3 * spread
        if new.sum() < 6 or np.array_equal(new, keep):
            break
        keep = new
        coef = np.linalg.lstsq(x[keep], z[keep], rcond=None)[0]
    return coef


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components of a (h, w) bool mask: (labels 1..n, 0 off the mask; n).

    Breadth-first search from each unlabelled ink pixel, in raster order: every pixel is queued
    once and looks at its 8 neighbours once, so the time is linear in the pixels, whatever the
    components' shape (a spiral costs what a blob of the same size costs). The mask is padded by
    one pixel so that the neighbours of any pixel are 8 fixed offsets in the flat index.
    """
    h, w = mask.shape
    padded = np.zeros((h + 2, w + 2), dtype=bool)
    padded[1:-1, 1:-1] = mask
    flat = padded.ravel()
    width = w + 2
    offsets = (-width - 1, -width, -width + 1, -1, 1, width - 1, width, width + 1)
    labels = np.zeros(flat.shape, dtype=np.int64)
    ink = flat.tolist()  # Python lists: element access is ~20x faster than on an ndarray
    out = [0] * len(ink)
    n = 0
    for start in np.flatnonzero(flat).tolist():
        if out[start]:
            continue
        n += 1
        out[start] = n
        queue = [start]
        for p in queue:  # the list grows while it is read: a FIFO without pops
            for d in offsets:
                q = p + d
                if ink[q] and not out[q]:
                    out[q] = n
                    queue.append(q)
    labels[:] = out
    return labels.reshape(h + 2, w + 2)[1:-1, 1:-1].copy(), n


@dataclass(frozen=True)
class _Ink:
    mask: np.ndarray  # (h, w) bool at the analysis resolution: the digit's parts
    near: np.ndarray  # (h, w) bool: within 2 pixels of any ink, however faint
    residual: np.ndarray  # (h, w) blurred picture minus background, ink positive
    contrast: float


def _find_ink(work: np.ndarray, coef: np.ndarray, k: int, shape: tuple[int, int], source: str):
    """Polarity and the digit's ink at the analysis resolution, with the refusals; -> (_Ink, inverted)."""
    h, w = work.shape
    v = normalised((np.arange(h) + 0.5) * k, shape[0])  # the picture's normalised coordinates
    u = normalised((np.arange(w) + 0.5) * k, shape[1])
    vv, uu = np.meshgrid(v, u, indexing="ij")
    bg = (quadratic_design(vv.ravel(), uu.ravel()) @ coef).reshape(h, w)
    blurred, rel = _blur(work)
    r = blurred - bg
    z = r / rel  # noise of one std everywhere, edges included
    spread = max(1.4826 * float(np.median(np.abs(z - np.median(z)))), 0.5 / 255)
    hi, lo = np.quantile(z, 0.999), -np.quantile(z, 0.001)
    inverted = bool(lo > hi)  # ink darker than the background: dark ink on light paper
    r, z = (-r, -z) if inverted else (r, z)
    if float(z.max()) < 6 * spread or float(r.max()) < 0.04:
        raise DigitError(f"{source}: no ink found (a blank page?)")
    strong = z > 5 * spread
    contrast = float(np.quantile(r[strong], 0.9)) if strong.any() else float(r.max())
    mask = (r > BOX_THRESHOLD * contrast) & (z > 3 * spread)
    near = F.max_pool2d(torch.from_numpy(z > 3 * spread)[None, None].double(), 5, 1, 2)[0, 0].numpy() > 0
    mask = _one_digit(mask, source)
    _check_borders(mask, source)
    return _Ink(mask, near, r, contrast), inverted


def _one_digit(mask: np.ndarray, source: str) -> np.ndarray:
    """The mask's parts (components of at least MIN_PART of the largest); refuses separated groups."""
    labels, n = _label(mask)
    if n == 0:
        raise DigitError(f"{source}: no ink found (a blank page?)")
    areas = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    parts = np.isin(labels, 1 + np.flatnonzero(areas >= MIN_PART * areas.max()))
    rows, cols = np.nonzero(labels == 1 + int(areas.argmax()))
    size = max(np.ptp(rows) + 1, np.ptp(cols) + 1)
    reach = max(1, math.ceil(GAP * size))
    grown = F.max_pool2d(torch.from_numpy(parts)[None, None].double(), 2 * reach + 1, 1, reach)
    _, groups = _label(grown[0, 0].numpy() > 0)
    if groups > 1:
        raise DigitError(
            f"{source}: found {groups} separate ink components; one digit per image is expected "
            "(crop the image to one digit and retry)"
        )
    return parts


def _check_borders(mask: np.ndarray, source: str) -> None:
    """Refuse ink that touches three or four sides of the picture."""
    sides = {
        "top": mask[0].any(),
        "bottom": mask[-1].any(),
        "left": mask[:, 0].any(),
        "right": mask[:, -1].any(),
    }
    touched = [name for name, hit in sides.items() if hit]
    if len(touched) >= 3:
        raise DigitError(
            f"{source}: ink touches the border on {len(touched)} sides ({', '.join(touched)}): "
            "probably not a single digit, or cropped too tightly (leave a margin around the digit)"
        )


# ---- noise of the picture -----------------------------------------------------------------
def _picture_sigma(pixels: np.ndarray, coef: np.ndarray, near: np.ndarray, k: int, bounds) -> float:
    """Noise std of the picture: censored-normal ML on up to NOISE_SAMPLE background pixels.

    A pixel's noisy value is N(background, sigma^2) clipped to ``bounds`` (lower, upper censoring
    points, +-inf when not clipped): residuals to the fitted background, censored per pixel.
    """
    h, w = pixels.shape
    rng = np.random.default_rng(0)  # which pixels are sampled must not change between runs
    rr = rng.integers(0, (h // k) * k, NOISE_SAMPLE)
    cc = rng.integers(0, (w // k) * k, NOISE_SAMPLE)
    keep = ~near[rr // k, cc // k]
    rr, cc = rr[keep], cc[keep]
    if len(rr) < 50:
        return float("nan")
    c = np.asarray(coef)
    v, u = normalised(rr + 0.5, h), normalised(cc + 0.5, w)
    bg = quadratic_design(v, u) @ c
    res = torch.from_numpy(pixels[rr, cc] - bg)[None]  # (1, P) residuals
    lower = torch.from_numpy(bounds[0] - bg)[None]
    upper = torch.from_numpy(bounds[1] - bg)[None]
    step = bounds[2]
    return float(censored_sigma(res, torch.ones_like(res), torch.zeros(1), lower, upper, step=step)[0])


# ---- the normalisation ------------------------------------------------------------------------
def normalize(pixels: np.ndarray, *, source: str = "image") -> tuple[np.ndarray, Normalization]:
    """A picture of one digit -> (28x28 digit in MNIST form, float32; its :class:`Normalization`).

    ``pixels``: (H, W) grey levels in [0, 1] (values outside are fine: unclipped noise). Raises
    :class:`DigitError` (naming ``source``) for a blank picture, several separated digits, a
    picture or ink too small to hold a digit, and ink touching three or four borders.

    >>> import numpy as np, tinyddpm
    >>> from tinyddpm.preprocess import synthetic_photo
    >>> photo = synthetic_photo(tinyddpm.load_sample()[0][0, 0].numpy(), np.random.default_rng(0))
    >>> digit, record = tinyddpm.normalize(photo.noisy)   # dark ink on paper, any size
    >>> digit.shape, digit.dtype, record.inverted
    ((28, 28), dtype('float32'), True)
    """
    a = np.asarray(pixels, dtype=np.float64)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D grey-level picture, got shape {a.shape}")
    if min(a.shape) < MIN_SIDE:
        raise DigitError(
            f"{source}: too small to hold a digit ({a.shape[1]}x{a.shape[0]} pixels, "
            f"at least {MIN_SIDE} a side)"
        )
    if max(a.shape) > MAX_ASPECT * min(a.shape):
        raise DigitError(
            f"{source}: a {a.shape[1]}x{a.shape[0]} picture is too long and thin for one digit "
            f"(at most {MAX_ASPECT}:1; crop it around the digit)"
        )
    clip = detect_clipping(torch.from_numpy(a)[None, None])
    clipped, quantized = bool(clip.any[0]), bool(clip.step[0] > 0)
    if a.shape == (SIZE, SIZE):
        if float(a.max()) == float(a.min()):  # one grey level everywhere: no ink and no noise either
            raise DigitError(f"{source}: no ink found (a blank 28x28 picture)")
        return _mnist_form(a, clipped, quantized)
    work, k = _analysis_copy(a)
    coef = _fitquadratic_surface(work, k, a.shape)
    ink, inverted = _find_ink(work, coef, k, a.shape, source)
    box = _box(ink.mask, k, a.shape, source)
    bounds = (float(clip.lower[0]), float(clip.upper[0]), float(clip.step[0]))
    sigma = _picture_sigma(a, coef, ink.near, k, bounds)
    sign = -1.0 if inverted else 1.0
    scale = BOX / max(box[2] - box[0], box[3] - box[1])
    signal = _signal(a, coef, ink.near, k, sign, sigma, bounds)  # (H, W) ink positive, background 0
    centre = _centre(signal, box, scale)
    digit, gain = resample(signal, CENTRE - centre[0] * scale, CENTRE - centre[1] * scale, scale)
    contrast = _contrast(digit)
    steps = (
        f"{a.shape[1]}x{a.shape[0]} picture",
        "dark ink on light background: inverted" if inverted else "light ink on dark background",
        "background fitted (quadratic) and removed",
        f"ink box {box[3] - box[1]}x{box[2] - box[0]} px at ({box[1]}, {box[0]}) scaled by {scale:.3g}",
        f"centre of mass ({centre[1]:.1f}, {centre[0]:.1f}) to the 28x28 centre",
        f"contrast {contrast:.3g}",
        f"noise sigma {sigma:.3g} in the picture, x {gain / contrast:.3g} after resampling"
        + (" (clipped pixels: censored fit)" if clipped else ""),
    )
    record = Normalization(
        shape=a.shape,
        inverted=inverted,
        background=tuple(float(c) for c in coef),
        ink=contrast,
        scale=scale,
        centre=centre,
        box=box,
        noise_gain=gain / contrast,
        sigma_picture=None if math.isnan(sigma) else sigma,
        clipped=clipped,
        quantized=quantized,
        mnist_form=False,
        steps=steps,
    )
    return (digit / contrast).astype(np.float32), record


def _mnist_form(a: np.ndarray, clipped: bool, quantized: bool) -> tuple[np.ndarray, Normalization]:
    """A 28x28 picture: polarity only (light background: inverted), geometry and values kept."""
    inverted = bool(np.median(a) > 0.5)
    digit = 1 - a if inverted else a
    record = Normalization(
        shape=(SIZE, SIZE),
        inverted=inverted,
        background=(1.0 if inverted else 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ink=1.0,
        scale=1.0,
        centre=(CENTRE, CENTRE),
        box=(0, 0, SIZE, SIZE),
        noise_gain=1.0,
        sigma_picture=None,
        clipped=clipped,
        quantized=quantized,
        mnist_form=True,
        steps=("28x28: taken as MNIST form", "inverted (light background)" if inverted else "kept as is"),
    )
    return digit.astype(np.float32), record


def _box(mask: np.ndarray, k: int, shape: tuple[int, int], source: str) -> tuple[int, int, int, int]:
    """The ink's bounding box in picture pixels (top, left, bottom, right), ends exclusive."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    box = (rows[0] * k, cols[0] * k, min(shape[0], (rows[-1] + 1) * k), min(shape[1], (cols[-1] + 1) * k))
    if max(box[2] - box[0], box[3] - box[1]) < MIN_INK:
        raise DigitError(
            f"{source}: the ink spans only {box[3] - box[1]}x{box[2] - box[0]} pixels, too small "
            f"to be read as a digit (at least {MIN_INK} pixels high or wide)"
        )
    return tuple(int(b) for b in box)  # type: ignore[return-value]


def _signal(a: np.ndarray, coef: np.ndarray, near: np.ndarray, k: int, sign: float, sigma: float, bounds):
    """Picture minus background, ink positive: (H, W) float64.

    Background pixels clipped on the background's side (paper at 1, or a black board at 0) get
    their expected value given that they were clipped, E[Y | Y >= upper] with Y ~ N(background,
    sigma^2): clipping biases the mean of the paper, which the 28x28 digit would show as grey.
    """
    bg = quadratic_surface(tuple(coef), a.shape, (0, a.shape[0]), (0, a.shape[1])).astype(np.float64)
    side = 0 if sign > 0 else 1  # the background's side: 0 for a dark background, 1 for paper
    if math.isnan(sigma) or sigma <= 0 or not np.isfinite(bounds[side]):
        return sign * (a - bg)
    far = np.ones(a.shape, dtype=bool)
    hk, wk = near.shape
    far[: hk * k, : wk * k] = ~np.repeat(np.repeat(near, k, 0), k, 1)
    hit = far & ((a <= bounds[0]) if side == 0 else (a >= bounds[1]))
    mu = torch.from_numpy(bg[hit])
    expected = truncated_normal_mean(
        mu, torch.tensor(sigma), torch.tensor(bounds[0]), torch.tensor(bounds[1])
    )
    y = a.copy()
    y[hit] = expected[side].numpy()
    return sign * (y - bg)


def _centre(signal: np.ndarray, box: tuple[int, int, int, int], scale: float) -> tuple[float, float]:
    """The centre of mass, LeCun's way: of the size-normalised digit, mapped back to the picture.

    The digit is resampled once centred on its box, its centre of mass taken over the pixels above
    a quarter of its 99th percentile (noise elsewhere would pull the centre to the middle).
    """
    cy, cx = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    d, _ = resample(signal, CENTRE - cy * scale, CENTRE - cx * scale, scale)
    wgt = np.where(d > 0.25 * np.quantile(d, 0.99), d, 0.0)
    pos = np.arange(SIZE) + 0.5
    m = wgt.sum()
    if m <= 0:
        return cy, cx
    my, mx = (wgt.sum(1) @ pos) / m, (wgt.sum(0) @ pos) / m
    return cy + (my - CENTRE) / scale, cx + (mx - CENTRE) / scale


def _contrast(digit: np.ndarray) -> float:
    """The ink contrast: the median of the pixels above half the 99th percentile, over MNIST's."""
    top = np.quantile(digit, 0.99)
    core = digit[digit > 0.5 * top]
    return float(max(np.median(core) / MNIST_INK, 1e-3)) if core.size else 1.0


# ---- photo-like test pictures ---------------------------------------------------------------
@dataclass(frozen=True)
class SyntheticPhoto:
    """A photo-like picture made from an MNIST digit (see :func:`synthetic_photo`)."""

    noisy: np.ndarray  # (H, W) 8-bit values in [0, 1]: clipped and quantised, as a PNG holds them
    clean: np.ndarray  # (H, W) float32 in [0, 1], the same picture without noise
    sigma: float  # the paper noise std (pixel units), before clipping
    dark_ink: bool


def synthetic_photo(
    digit: np.ndarray,
    rng: np.random.Generator,
    *,
    size: tuple[int, int] = (60, 400),
    noise: tuple[float, float] = (0.05, 0.2),
    dark_ink: bool | None = None,
) -> SyntheticPhoto:
    """A photo or scan of ``digit`` (28x28 in [0, 1], MNIST form), for tests, benchmarks and the book.

    Side lengths drawn from ``size``; the digit's 20 px box enlarged to 45-80 % of the shorter side
    (Pillow's bicubic) and placed anywhere with a margin; dark ink on light paper (70 %) or light on
    dark; a linear light gradient up to 0.2; white paper noise of std drawn from ``noise``; then
    clipped to [0, 1] and rounded to 8 bits.
    """
    h, w = (int(v) for v in rng.integers(size[0], size[1] + 1, 2))
    h, w = min(h, 2 * w), min(w, 2 * h)
    f = rng.uniform(0.45, 0.8) * min(h, w) / BOX  # picture pixels per MNIST pixel
    n = max(SIZE, round(SIZE * f))
    up = Image.fromarray(np.asarray(digit, dtype=np.float32), mode="F").resize((n, n), Image.BICUBIC)
    patch = np.clip(np.asarray(up, dtype=np.float64), 0, 1)  # (n, n)
    rows, cols = np.flatnonzero(patch.max(1) > 0.05), np.flatnonzero(patch.max(0) > 0.05)
    margin = max(3, round(0.04 * min(h, w)))
    top = rng.integers(margin - rows[0], max(margin - rows[0], h - margin - rows[-1]) + 1)
    left = rng.integers(margin - cols[0], max(margin - cols[0], w - margin - cols[-1]) + 1)
    canvas = np.zeros((h, w))
    r0, c0 = max(0, top), max(0, left)
    r1, c1 = min(h, top + n), min(w, left + n)
    canvas[r0:r1, c0:c1] = patch[r0 - top : r1 - top, c0 - left : c1 - left]
    dark = bool(rng.random() < 0.7) if dark_ink is None else dark_ink
    paper = rng.uniform(0.7, 0.92) if dark else rng.uniform(0.08, 0.3)
    ink = rng.uniform(0.05, 0.3) if dark else rng.uniform(0.7, 0.95)
    g, theta = rng.uniform(0, 0.2), rng.uniform(0, 2 * np.pi)
    v, u = np.meshgrid(normalised(np.arange(h) + 0.5, h), normalised(np.arange(w) + 0.5, w), indexing="ij")
    light = paper + 0.5 * g * (np.cos(theta) * u + np.sin(theta) * v)
    clean = np.clip(light + (ink - paper) * canvas, 0, 1)
    sigma = float(rng.uniform(*noise))
    noisy = np.round(np.clip(clean + sigma * rng.standard_normal((h, w)), 0, 1) * 255) / 255
    return SyntheticPhoto(noisy.astype(np.float32), clean.astype(np.float32), sigma, dark)
