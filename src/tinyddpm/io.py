"""Reading and writing digit images for the command line: any size or mode in, 28x28 out.

``load_image`` accepts PNG, JPEG and whatever else Pillow reads (8- and 16-bit, any mode) and
``.npy`` arrays (float pixels, not clipped: the lossless way to keep a noisy image). Outputs are
written atomically (a temporary file in the target folder, then a rename), so an error never
leaves a half-written file behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

SIZE = 28
Image.MAX_IMAGE_PIXELS = 64_000_000  # 8000 x 8000; larger files are refused, not decoded


class ImageError(ValueError):
    """An input or output file that cannot be used, with the path in the message."""


def _pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode -> float64 grayscale in [0, 1] (light digit on dark, as MNIST)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.float64) / 65535.0
    if img.mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        return arr / (65535.0 if arr.max(initial=0) > 255 else 255.0)
    if img.mode == "F":
        return np.asarray(img, dtype=np.float64)
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))  # transparent -> black background
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def _resize(arr: np.ndarray) -> tuple[np.ndarray, str | None]:
    h, w = arr.shape
    if (h, w) == (SIZE, SIZE):
        return arr, None
    side = max(h, w)
    padded = np.zeros((side, side), dtype=np.float32)  # pad to square with background
    padded[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = arr
    resized = Image.fromarray(padded, mode="F").resize((SIZE, SIZE), Image.BOX if side > SIZE else Image.BICUBIC)
    note = f"resized from {w}x{h} to {SIZE}x{SIZE}" + (" (padded to a square first)" if h != w else "")
    return np.asarray(resized, dtype=np.float64), note


def load_image(path: str | os.PathLike) -> tuple[Tensor, str | None]:
    """Read one image as ``((1, 1, 28, 28) float32 pixels, note or None)``.

    The note says what was changed (resized, converted); errors raise :class:`ImageError`.
    """
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if p.is_dir():
        raise ImageError(f"{p}: is a directory, not an image")
    notes = []
    if p.suffix.lower() == ".npy":
        try:
            arr = np.load(p, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise ImageError(f"{p}: not a readable .npy array ({e})") from None
        arr = np.squeeze(arr)
        if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise ImageError(f"{p}: expected a 2-D numeric array, got shape {arr.shape} and dtype {arr.dtype}")
        arr = arr.astype(np.float64)
        if np.issubdtype(np.load(p, allow_pickle=False, mmap_mode="r").dtype, np.integer):
            arr /= 255.0
    else:
        try:
            with Image.open(p) as img:
                img.load()
                mode = img.mode
                if getattr(img, "n_frames", 1) > 1:
                    notes.append("used the first frame")
                arr = _pil_to_array(img)
        except UnidentifiedImageError:
            raise ImageError(f"{p}: not an image file Pillow can read") from None
        except Image.DecompressionBombError as e:
            raise ImageError(f"{p}: image too large ({e})") from None
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageError(f"{p}: corrupt or truncated image ({e})") from None
        if mode not in ("L", "I;16", "I", "F"):
            notes.append(f"converted {mode} to grayscale")
    if arr.size == 0:
        raise ImageError(f"{p}: empty image")
    if not np.isfinite(arr).all():
        raise ImageError(f"{p}: image contains NaN or infinite pixels")
    arr, note = _resize(arr)
    if note:
        notes.insert(0, note)
    return torch.from_numpy(arr.astype(np.float32))[None, None], "; ".join(notes) or None


def _atomic_write(path: Path, write) -> None:  # noqa: ANN001
    folder = os.path.abspath(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as e:  # missing, read-only or not writable by this user
        raise ImageError(f"{folder}: cannot write into this folder ({e.strerror or e})") from e
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):  # disk full, target is a folder, ...
            raise ImageError(f"{path}: could not be written ({e.strerror or e})") from e
        raise


def save_image(image: Tensor | Image.Image, path: str | os.PathLike) -> None:
    """Write a (1, 1, H, W) / (1, H, W) / (H, W) pixel tensor or a PIL image atomically.

    ``.npy`` keeps float pixels unclipped; any other suffix goes through Pillow as 8-bit
    grayscale, clipped to [0, 1]. A folder that is missing or not writable raises
    :class:`ImageError` naming the folder, and nothing is left behind in it.
    """
    p = Path(path)
    if isinstance(image, Image.Image):
        _atomic_write(p, lambda tmp: image.save(tmp, format=Image.registered_extensions().get(p.suffix.lower(), "PNG")))
        return
    arr = image.detach().cpu().float().numpy().reshape(image.shape[-2:])
    if p.suffix.lower() == ".npy":
        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, arr)
        _atomic_write(p, write)
        return
    img = Image.fromarray(np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8), mode="L")
    fmt = Image.registered_extensions().get(p.suffix.lower())
    if fmt is None:
        raise ImageError(f"{p}: unknown image format {p.suffix!r} (use .png, .jpg or .npy)")
    _atomic_write(p, lambda tmp: img.save(tmp, format=fmt))
