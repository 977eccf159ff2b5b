"""Generating digits in one call, in pixel units, as easily as denoising them.

:func:`generate` is to :func:`tinyddpm.samplers.sample` what :func:`tinyddpm.denoise` is to the
step functions: it loads the shipped model itself, takes plain ints for labels, draws each
image's x_T ~ N(0, I) and its sampler noise from a generator of its own, derived from
``(seed, index)``, runs the reverse chain in chunks of ``batch_size`` (memory is set by the
chunk, not by ``n``) and returns pixels in [0, 1]. :func:`save_grid` tiles them into one PNG.
Image i is the same digit for any ``n`` and any chunking: in float32 equal to about 1e-4 (the
network's sums run in another order for another batch size); under ``precision="auto"`` a
chunk of under 8 network inputs runs in float32 and a larger one in bfloat16, so the pixels
differ more, not the digit.

>>> import tinyddpm
>>> threes = tinyddpm.generate(4, label=3, guidance=2.0, steps=10, seed=0)
>>> threes.shape, float(threes.min()) >= 0.0, float(threes.max()) <= 1.0
(torch.Size([4, 1, 28, 28]), True, True)
>>> a = tinyddpm.generate(4, label=3, steps=10, seed=0, precision="fp32")
>>> b = tinyddpm.generate(2, label=3, steps=10, seed=0, precision="fp32")
>>> bool((a[:2] - b).abs().max() < 1e-3)
True
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch
from torch import Tensor

from .checkpoint import pretrained
from .data import to_pixels
from .denoise import as_labels, check_options
from .diffusion import EpsModel
from .options import check_choice
from .precision import Precision
from .samplers import SampleMethod, model_device, sample
from .schedules import NoiseSchedule
from .seeding import generator

#: The most images one call generates (memory is set by ``batch_size``; time grows with ``n``).
MAX_IMAGES = 100_000


def generate(
    n: int = 16,
    *,
    label: int | Sequence[int] | None = None,
    guidance: float = 1.0,
    method: SampleMethod = "ddim",
    steps: int | None = 50,
    eta: float = 0.0,
    seed: int | None = None,
    model: EpsModel | None = None,
    schedule: NoiseSchedule | None = None,
    batch_size: int = 256,
    precision: Precision = "auto",
    device: torch.device | str | None = None,
    progress: bool = False,
) -> Tensor:
    """Generate ``n`` digits from pure noise: a float32 tensor (n, 1, 28, 28) of pixels in [0, 1],
    on the device the chain ran on.

    Args:
        n: how many digits (1 .. ``MAX_IMAGES``).
        label: ``None`` (any digit: the null label, p(x)), one int 0-9 for every image, or one
            int per image.
        guidance: classifier-free guidance scale g with a label (eps_null + g (eps_y - eps_null);
            1 = the plain conditional model, larger = more typical digits, less variety).
        method, steps, eta: ``"ddim"`` with ``steps`` DDIM steps (default 50) and stochasticity
            ``eta`` (0 = deterministic), or ``"ancestral"`` (all T unit steps, or ``steps``
            strided ones).
        seed: the same seed gives the same digits (image i's noise comes from (seed, i));
            ``None`` draws a fresh one.
        model, schedule: any ``eps_model(x_t, t, y=None)`` with its schedule; default the
            shipped ``ddpm``.
        batch_size: images per chunk of the chain (bounds memory; results do not depend on it).
        precision: see :mod:`tinyddpm.precision`.
        device: where the chain runs (e.g. ``"cuda"``); default the model's device, the CPU for
            the shipped model.

    >>> import tinyddpm
    >>> sevens = tinyddpm.generate(2, label=7, steps=5, seed=0)
    >>> sevens.shape, sevens.device.type
    (torch.Size([2, 1, 28, 28]), 'cpu')
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"n must be an int in 1..{MAX_IMAGES}, got {n!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    num_classes = getattr(getattr(model, "config", None), "num_classes", 10)
    num_classes = num_classes if isinstance(num_classes, int) else 10
    check_options(steps=steps, label=label, guidance=guidance, eta=eta, num_classes=num_classes)  # as denoise
    check_choice(method, SampleMethod, "method")
    if model is None:
        if schedule is not None:
            raise ValueError("schedule= was given without model=")
        model, schedule = pretrained("ddpm")  # a fresh module: moving it moves no one else's
        if device is not None:
            model = model.to(device)
    elif schedule is None:
        raise ValueError("pass schedule= together with model= (the schedule the model was trained with)")
    dev = model_device(model) if device is None else torch.device(device)
    if device is not None and isinstance(model, torch.nn.Module) and model_device(model) != dev:
        raise ValueError(f"the model is on {model_device(model)}, not on {dev}: move it first (model.to)")
    assert schedule is not None
    y = as_labels(label, n, num_classes)
    base = int.from_bytes(os.urandom(8), "little") >> 2 if seed is None else int(seed)
    out = torch.empty(n, 1, 28, 28, device=dev)  # the results stay where they were computed
    for lo in range(0, n, batch_size):
        hi = min(n, lo + batch_size)
        gens = [generator(base, "generate", i) for i in range(lo, hi)]
        x = sample(
            model,
            schedule,
            hi - lo,
            method=method,
            steps=steps,
            eta=eta,
            label=None if y is None else y[lo:hi].to(dev),
            guidance=float(guidance),
            generator=gens,
            progress=progress,
            precision=precision,
            device=dev,
        )
        out[lo:hi] = to_pixels(x).clamp(0, 1)
    return out


def save_grid(images: Tensor, path: str | os.PathLike, *, nrow: int | None = None, scale: int = 1) -> None:
    """Tile (N, 1, H, W) pixel images (what :func:`generate` and :func:`tinyddpm.denoise` return)
    into one grayscale PNG or JPEG at ``path``, ``nrow`` per row (default: a square), each pixel
    ``scale`` x ``scale`` screen pixels; written atomically.

    >>> import tempfile, pathlib, tinyddpm
    >>> x = tinyddpm.load_sample()[0][:6]
    >>> with tempfile.TemporaryDirectory() as d:
    ...     tinyddpm.save_grid(x, pathlib.Path(d) / "grid.png", nrow=3)
    ...     from PIL import Image; Image.open(pathlib.Path(d) / "grid.png").size
    (92, 62)
    """
    from .io import save_image
    from .viz import grid

    images = torch.as_tensor(images).detach().cpu().float()
    if images.ndim == 3:
        images = images[:, None]
    side = nrow if nrow is not None else math.ceil(math.sqrt(images.shape[0]))
    save_image(grid(images, nrow=side, scale=scale), path)
