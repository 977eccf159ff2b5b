"""Reading and writing digit images for the command line: any size or mode in, any size out.

``read_pixels`` accepts PNG, JPEG and whatever else Pillow reads (8- and 16-bit, any mode) and
``.npy`` arrays (float pixels, not clipped: the lossless way to keep a noisy image) at their own
size; ``load_image`` squeezes them into 28x28 the plain way. Outputs are written atomically (a
temporary file in the target folder, then a rename, with the mode ``open()`` gives), so an
error never leaves a half-written file behind.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from .files import atomic_write

SIZE = 28
ORIENTATION = 0x0112  # the EXIF tag of a photo's orientation (1: upright)
PIXEL_LIMIT = 16.0  # |pixel - 0.5| beyond this is no picture in [0, 1] with noise (sigma 2 reaches 8)
MAX_PIXELS = 64_000_000  # default per-call limit (8000 x 8000): larger files are refused, not decoded


class ImageError(ValueError):
    """An input or output file that cannot be used, with the path in the message."""


def pil_to_array(img: Image.Image) -> np.ndarray:
    """A PIL image of any mode -> float64 grayscale in [0, 1]: the one decoder of PIL modes.

    16-bit modes are divided by 65535, mode "I" by 65535 when it holds values above 255 (a
    16-bit file) else by 255, mode "F" is taken as pixels already (or as 8-bit grey levels when its
    values fit 0..255 and exceed any noisy [0, 1] picture); transparency is composited
    onto the background that keeps the ink visible: white under dark ink (a drawing app's usual
    export), black (MNIST's) under light ink; colour is converted to luminance.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        return np.asarray(img, dtype=np.float64) / 65535.0
    if img.mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        return arr / (65535.0 if arr.max(initial=0) > 255 else 255.0)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        finite = arr[np.isfinite(arr)]
        # float pixels as they are, unless they reach past any noisy [0, 1] picture while fitting
        # 0..255: 8-bit grey levels stored as floats (what PIL's convert("F") gives)
        if finite.size and 16.5 < float(finite.max()) <= 255.0 and float(finite.min()) >= 0.0:
            return arr / 255.0
        return arr
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), dtype=np.float64)
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64)
        ink = float((grey * alpha).sum() / alpha.sum()) if alpha.sum() > 0 else 255.0  # opaque pixels' mean
        paper = (255, 255, 255, 255) if ink < 128 else (0, 0, 0, 255)  # dark ink: on white, else black
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, paper), rgba)
    return np.asarray(img.convert("L"), dtype=np.float64) / 255.0


def _resize(arr: np.ndarray) -> tuple[np.ndarray, str | None]:
    h, w = arr.shape
    if (h, w) == (SIZE, SIZE):
        return arr, None
    side = max(h, w)
    padded = np.zeros((side, side), dtype=np.float32)  # pad to square with background
    padded[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = arr
    resized = Image.fromarray(padded, mode="F").resize(
        (SIZE, SIZE), Image.BOX if side > SIZE else Image.BICUBIC
    )
    note = f"resized from {w}x{h} to {SIZE}x{SIZE}" + (" (padded to a square first)" if h != w else "")
    return np.asarray(resized, dtype=np.float64), note


def read_pixels(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, list[str]]:
    """Read one image at its own size as ``((H, W) float64 grey levels, notes)``.

    Pillow's formats through :func:`pil_to_array` ([0, 1]); ``.npy`` arrays as stored (float
    pixels are kept as they are, unclipped; integer ones divided by 255); a photo's EXIF orientation
    is applied, so the picture is as its viewer shows it. An image of more than
    ``max_pixels`` pixels is refused before it is decoded (a per-call limit: Pillow's global
    ``MAX_IMAGE_PIXELS`` is left alone); FIFOs and devices are refused unread. Errors raise
    :class:`ImageError` naming the file.
    """
    p = Path(path)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if p.is_dir():
        raise ImageError(f"{p}: is a directory, not an image")
    if not stat.S_ISREG(p.stat().st_mode):  # a FIFO or device would block or never end
        raise ImageError(f"{p}: not a regular file")
    arr, notes = _read_npy(p, max_pixels) if p.suffix.lower() == ".npy" else _read_pil(p, max_pixels)
    if arr.size == 0:
        raise ImageError(f"{p}: empty image")
    if not np.isfinite(arr).all():
        raise ImageError(f"{p}: image contains NaN or infinite pixels")
    reach = float(np.abs(arr - 0.5).max())
    if reach > PIXEL_LIMIT:
        raise ImageError(
            f"{p}: pixel values reach {0.5 + reach if arr.max() > 0.5 else 0.5 - reach:.4g}, far outside "
            f"[0, 1] plus any noise (float .npy files hold pixels in [0, 1], not 0..255)"
        )
    return arr, notes


def _too_large(p: Path, width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(f"{p}: image too large ({width}x{height} pixels, the limit is {max_pixels:,})")


def _read_npy(p: Path, max_pixels: int) -> tuple[np.ndarray, list[str]]:
    try:
        head = np.load(p, allow_pickle=False, mmap_mode="r")  # shape and dtype without reading the data
        shape = tuple(head.shape)
        squeezed = tuple(d for d in shape if d != 1)
        if len(squeezed) == 2 and squeezed[0] * squeezed[1] > max_pixels:
            raise _too_large(p, squeezed[1], squeezed[0], max_pixels)
        arr = np.squeeze(np.asarray(head))
    except (ValueError, OSError) as e:
        if isinstance(e, ImageError):
            raise
        raise ImageError(f"{p}: not a readable .npy array ({e})") from None
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ImageError(f"{p}: expected a 2-D numeric array, got shape {shape} and dtype {arr.dtype}")
    out = arr.astype(np.float64)
    return (out / 255.0 if np.issubdtype(arr.dtype, np.integer) else out), []


def _read_pil(p: Path, max_pixels: int) -> tuple[np.ndarray, list[str]]:
    notes = []
    try:
        with Image.open(p) as img:
            if img.width * img.height > max_pixels:
                raise _too_large(p, img.width, img.height, max_pixels)
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                notes.append("used the first frame")
            orientation = img.getexif().get(ORIENTATION, 1)
            if orientation != 1:  # a phone's photo: turned as its viewer shows it, and written so
                img = ImageOps.exif_transpose(img)
                notes.append(f"turned upright (EXIF orientation {orientation})")
            if img.mode not in ("L", "I;16", "I", "F"):
                notes.append(f"converted {img.mode} to grayscale")
            return pil_to_array(img), notes
    except UnidentifiedImageError:
        raise ImageError(f"{p}: not an image file Pillow can read") from None
    except Image.DecompressionBombError as e:
        raise ImageError(f"{p}: image too large ({e})") from None
    except ImageError:
        raise
    except (OSError, SyntaxError, ValueError) as e:
        raise ImageError(f"{p}: corrupt or truncated image ({e})") from None


def read_picture(image: Any, *, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, str]:
    """A file path, PIL image or 2-D array -> ``((H, W) float64 grey levels, name for messages)``."""
    if isinstance(image, (str, os.PathLike)):
        return read_pixels(image, max_pixels=max_pixels)[0], str(image)
    if isinstance(image, Image.Image):
        if image.width * image.height > max_pixels:
            raise _too_large(Path("image"), image.width, image.height, max_pixels)
        return pil_to_array(image), "image"
    arr = np.squeeze(np.asarray(image.detach().cpu() if isinstance(image, Tensor) else image))
    if arr.ndim != 2 or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(
            f"expected a path, a PIL image or a 2-D array, got {type(image).__name__} {arr.shape}"
        )
    if arr.size > max_pixels:
        raise ImageError(
            f"image: too large ({arr.shape[1]}x{arr.shape[0]} pixels, the limit is {max_pixels:,})"
        )
    if not np.isfinite(arr).all():
        raise ImageError("image: contains NaN or infinite pixels")
    return arr.astype(np.float64), "image"


def load_image(path: str | os.PathLike, *, max_pixels: int = MAX_PIXELS) -> tuple[Tensor, str | None]:
    """Read one image squeezed into 28x28: ``((1, 1, 28, 28) float32 pixels, note or None)``.

    The plain way, for images that already show a digit MNIST's way (light on dark, centred):
    padded to a square with black, then resized. Photos and scans want
    :func:`tinyddpm.preprocess.normalize` (what ``tinyddpm denoise`` uses) instead. The note says
    what was changed (resized, converted); errors raise :class:`ImageError`.
    """
    arr, notes = read_pixels(path, max_pixels=max_pixels)
    arr, note = _resize(arr)
    if note:
        notes.insert(0, note)
    return torch.from_numpy(arr.astype(np.float32))[None, None], "; ".join(notes) or None


def as_batch(images: Any) -> tuple[Tensor, Any]:
    """Any accepted image input -> ``(float32 tensor (N, 1, 28, 28), restore)``.

    Accepts a tensor or NumPy array of shape (N, 1, 28, 28), (1, 28, 28) or (28, 28), or a PIL
    image (decoded by :func:`pil_to_array`, must be 28x28; :func:`load_image` reads and resizes
    files). Float values are pixels in [0, 1]; integer ones are 8-bit grey levels and divided by
    255 (as :func:`read_pixels` does with integer ``.npy`` files; the result is then float32).
    ``restore(batch)`` turns a result batch back into the input's kind and shape.
    """
    if isinstance(images, Image.Image):
        arr = pil_to_array(images).astype(np.float32)
        if arr.shape != (SIZE, SIZE):
            raise ValueError(
                f"PIL image must be 28x28, got {arr.shape[1]}x{arr.shape[0]}: for a photo or scan of "
                "one digit at any size use tinyddpm.denoise_image(picture)"
            )
        out = torch.from_numpy(arr)[None, None]
        return out, lambda b: Image.fromarray(
            np.round(b[0, 0].clamp(0, 1).numpy() * 255).astype(np.uint8), mode="L"
        )
    if isinstance(images, np.ndarray):
        if images.dtype == object or not (
            np.issubdtype(images.dtype, np.floating)
            or np.issubdtype(images.dtype, np.integer)
            or images.dtype == bool
        ):
            raise TypeError(f"unsupported array dtype {images.dtype}")
        pixels = np.asarray(images, dtype=np.float32)
        if np.issubdtype(images.dtype, np.integer):
            pixels = pixels / 255.0  # 8-bit grey levels, as the command line reads integer .npy files
        t, restore = as_batch(torch.from_numpy(pixels))
        dtype = images.dtype if np.issubdtype(images.dtype, np.floating) else np.float32
        return t, lambda b: restore(b).numpy().astype(dtype)
    if not isinstance(images, Tensor):
        raise TypeError(
            f"images must be a torch.Tensor, a numpy.ndarray or a PIL.Image, got {type(images).__name__}"
        )
    if images.is_complex() or images.dtype == torch.bool:
        raise TypeError(f"unsupported tensor dtype {images.dtype}")
    if images.device.type == "meta":
        raise ValueError("images is a meta tensor (no data)")
    shape = tuple(images.shape)
    if images.ndim == 2:
        batch = images[None, None]
    elif images.ndim == 3:
        batch = images[None]
    elif images.ndim == 4:
        batch = images
    else:
        raise ValueError(f"images must have shape (N, 1, 28, 28), (1, 28, 28) or (28, 28), got {shape}")
    if batch.shape[1:] != (1, 28, 28):
        hint = (
            ": for a photo or scan of one digit at any size use tinyddpm.denoise_image(picture)"
            if images.ndim == 2
            else ""
        )
        raise ValueError(f"images must have shape (N, 1, 28, 28), (1, 28, 28) or (28, 28), got {shape}{hint}")
    device, dtype = images.device, images.dtype if images.is_floating_point() else torch.float32
    batch = batch.detach().to("cpu", torch.float32)
    if not images.is_floating_point():
        batch = batch / 255.0  # integer tensors hold 8-bit grey levels, as integer .npy files do
    for lo in range(0, batch.shape[0], 4096):  # in chunks: a whole-input mask would cost O(N) memory
        if not bool(torch.isfinite(batch[lo : lo + 4096]).all()):
            raise ValueError("images contain NaN or infinite values")
    return batch, lambda b: b.reshape(shape).to(device=device, dtype=dtype)


def _atomic_write(path: Path, write: Callable[[str], None], overwrite: bool = True) -> None:
    try:
        atomic_write(path, write, overwrite=overwrite)
    except FileExistsError:
        raise ImageError(
            f"{path}: already exists, not replaced (written meanwhile by another run?)"
        ) from None
    except OSError as e:  # missing or read-only folder, disk full, target is a folder, ...
        if not os.access(os.path.abspath(path.parent), os.W_OK) or not path.parent.is_dir():
            raise ImageError(
                f"{os.path.abspath(path.parent)}: cannot write into this folder ({e.strerror or e})"
            ) from e
        raise ImageError(f"{path}: could not be written ({e.strerror or e})") from e


def save_image(image: Tensor | Image.Image, path: str | os.PathLike, *, overwrite: bool = True) -> None:
    """Write a (1, 1, H, W) / (1, H, W) / (H, W) pixel tensor or a PIL image atomically.

    ``.npy`` keeps float pixels unclipped; any other suffix goes through Pillow as 8-bit
    grayscale, clipped to [0, 1]. A folder that is missing or not writable raises
    :class:`ImageError` naming the folder, and nothing is left behind in it. An image holding
    NaN or infinite values is refused. ``overwrite=False``: an existing entry of that name (a file,
    a dangling link) is never replaced, even one created while this image was being written.
    """
    p = Path(path)
    if isinstance(image, Image.Image):
        _atomic_write(
            p,
            lambda tmp: image.save(tmp, format=Image.registered_extensions().get(p.suffix.lower(), "PNG")),
            overwrite,
        )
        return
    arr = image.detach().cpu().float().numpy().reshape(image.shape[-2:])
    if not np.isfinite(arr).all():
        raise ImageError(f"{p}: not written: the image holds NaN or infinite values")
    if p.suffix.lower() == ".npy":

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, arr)

        _atomic_write(p, write, overwrite)
        return
    img = Image.fromarray(np.round(np.clip(arr, 0, 1) * 255).astype(np.uint8), mode="L")
    fmt = Image.registered_extensions().get(p.suffix.lower())
    if fmt is None:
        raise ImageError(f"{p}: unknown image format {p.suffix!r} (use .png, .jpg or .npy)")
    _atomic_write(p, lambda tmp: img.save(tmp, format=fmt), overwrite)
