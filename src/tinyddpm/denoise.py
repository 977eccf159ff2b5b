"""Denoising with a diffusion model: a noisy image *is* x_t for the right t.

For a clean digit x0 (model units, [-1, 1]) and y = x0 + s n with n ~ N(0, I),

    sqrt(alpha_bar) y = sqrt(alpha_bar) x0 + sqrt(alpha_bar) s n  is distributed as  x_t

exactly when alpha_bar s^2 = 1 - alpha_bar, i.e. alpha_bar_{t*} = 1 / (1 + s^2) (Ho et al. 2020,
Eq. 4). So we map the user's sigma (pixel units, s = 2 sigma in model units) to the possibly
fractional step t*, set x_{t*} = sqrt(alpha_bar_{t*}) y (never clipping y first) and either
take one Tweedie step, E[x0 | y] (``"posterior_mean"``), or run the reverse chain from t*
(``"ddim"``, ``"ancestral"``), or average K ancestral samples (``"average"``). Starting the
chain at a noisy image is the idea of SDEdit (Meng et al. 2022), here with the matched step.

>>> import torch, tinyddpm
>>> x = tinyddpm.load_sample()[0][:4]                                  # (4, 1, 28, 28) in [0, 1]
>>> y = x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
>>> tinyddpm.denoise(y, sigma=0.2).shape                                # doctest: +SKIP
torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .data import to_model, to_pixels
from .diffusion import EpsModel
from .samplers import (
    ancestral_step,
    ancestral_timesteps,
    ddim_step,
    ddim_timesteps,
    predict_start,
    sample_loop,
    stack_timesteps,
)
from .schedules import NoiseSchedule
from .train import derived_seed

METHODS = ("posterior_mean", "ddim", "ancestral", "average")


def as_batch(images: Any) -> tuple[Tensor, Any]:
    """Any accepted image input -> ``(float32 tensor (N, 1, 28, 28), restore)``.

    Accepts a tensor or NumPy array of shape (N, 1, 28, 28), (1, 28, 28) or (28, 28), or a PIL
    image (converted to grayscale, must be 28x28; see :func:`tinyddpm.io.load_image` to resize).
    ``restore(batch)`` turns a result batch back into the input's kind and shape.
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover
        Image = None
    if Image is not None and isinstance(images, Image.Image):
        img = images.convert("L") if images.mode not in ("L", "F", "I", "I;16") else images
        arr = np.asarray(img, dtype=np.float32)
        if img.mode in ("I", "I;16"):
            arr = arr / 65535.0
        elif img.mode == "L":
            arr = arr / 255.0
        if arr.shape != (28, 28):
            raise ValueError(f"PIL image must be 28x28, got {arr.shape[1]}x{arr.shape[0]} (use tinyddpm.io.load_image to resize)")
        out = torch.from_numpy(arr.copy())[None, None]
        return out, lambda b: Image.fromarray(np.round(b[0, 0].clamp(0, 1).numpy() * 255).astype(np.uint8), mode="L")
    if isinstance(images, np.ndarray):
        if images.dtype == object or not (np.issubdtype(images.dtype, np.floating) or np.issubdtype(images.dtype, np.integer) or images.dtype == bool):
            raise TypeError(f"unsupported array dtype {images.dtype}")
        t, restore = as_batch(torch.from_numpy(np.asarray(images, dtype=np.float32)))
        dtype = images.dtype if np.issubdtype(images.dtype, np.floating) else np.float32
        return t, lambda b: restore(b).numpy().astype(dtype)
    if not isinstance(images, Tensor):
        raise TypeError(f"images must be a torch.Tensor, a numpy.ndarray or a PIL.Image, got {type(images).__name__}")
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
        raise ValueError(f"images must have shape (N, 1, 28, 28), (1, 28, 28) or (28, 28), got {shape}")
    device, dtype = images.device, images.dtype if images.is_floating_point() else torch.float32
    batch = batch.detach().to("cpu", torch.float32)
    for lo in range(0, batch.shape[0], 4096):  # in chunks: a whole-input mask would cost O(N) memory
        if not bool(torch.isfinite(batch[lo : lo + 4096]).all()):
            raise ValueError("images contain NaN or infinite values")
    return batch, lambda b: b.reshape(shape).to(device=device, dtype=dtype)


def _sigmas(sigma: float | Sequence[float] | Tensor | np.ndarray, n: int) -> Tensor:
    s = torch.as_tensor(np.asarray(sigma, dtype=np.float64) if not isinstance(sigma, Tensor) else sigma.detach().cpu(), dtype=torch.float64)
    if s.ndim == 0:
        s = s.expand(n)
    s = s.reshape(-1)
    if s.numel() != n:
        raise ValueError(f"got {s.numel()} sigmas for {n} images")
    if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError("sigma must be positive and finite")
    return s


def _labels(label: int | Sequence[int] | Tensor | None, n: int) -> Tensor | None:
    if label is None:
        return None
    y = torch.as_tensor(label).long().reshape(-1)
    if y.numel() == 1:
        y = y.expand(n)
    if y.numel() != n:
        raise ValueError(f"got {y.numel()} labels for {n} images")
    return y


def default_model() -> tuple[EpsModel, NoiseSchedule]:
    """The shipped diffusion model and its schedule."""
    from .checkpoint import pretrained

    model, schedule = pretrained("ddpm")
    assert schedule is not None
    return model, schedule


def start_step(sigma: Tensor | float, schedule: NoiseSchedule) -> Tensor:
    """The matched timestep t* for a pixel-unit noise level sigma (model units: 2 sigma)."""
    return schedule.t_from_sigma(2 * torch.as_tensor(sigma, dtype=torch.float64))


def denoise(
    images: Any,
    sigma: float | Sequence[float] | Tensor | str = "auto",
    *,
    method: str = "posterior_mean",
    model: EpsModel | None = None,
    schedule: NoiseSchedule | None = None,
    steps: int | None = None,
    eta: float = 0.0,
    samples: int = 8,
    label: int | Sequence[int] | Tensor | None = None,
    guidance: float = 1.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    clip: bool = True,
    batch_size: int = 256,
    progress: bool = False,
) -> Any:
    """Remove Gaussian noise of standard deviation ``sigma`` from MNIST-style digits.

    Args:
        images: noisy digits in [0, 1] pixel units (values outside are fine: Gaussian noise is
            not clipped): a tensor or array (N, 1, 28, 28), (1, 28, 28) or (28, 28), or a PIL image.
        sigma: noise standard deviation in pixel units ([0, 1] scale; model units are twice
            that), one float, one per image, or ``"auto"`` to estimate it from each image.
        method: ``"posterior_mean"`` (one network evaluation: Tweedie's E[x0 | y]), ``"ddim"``
            (``steps`` DDIM steps from t*, default 10, stochasticity ``eta``), ``"ancestral"``
            (unit DDPM steps from t*, or ``steps`` strided ones), ``"average"`` (mean of
            ``samples`` ancestral samples).
        model, schedule: any ``eps_model(x_t, t, y=None)`` and its :class:`NoiseSchedule`;
            default: the shipped pretrained model.
        label, guidance: class label(s) (0-9) and classifier-free guidance scale
            (eps_null + guidance (eps_label - eps_null); 1 = plain conditional).
        seed, generator: randomness for the samplers. Each image gets its own generator derived
            from (seed, its index), so its result does not depend on the rest of the batch.
        clip: clip x0 predictions to [-1, 1] and the result to [0, 1].
        batch_size: images per network call (bounds memory for large inputs).

    Returns:
        The denoised digits, same kind (tensor, array, PIL image) and shape as ``images``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (expected one of {', '.join(METHODS)})")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if method == "average" and samples < 1:
        raise ValueError("samples must be at least 1")
    if steps is not None and steps < 1:
        raise ValueError("steps must be at least 1")
    batch, restore = as_batch(images)
    n = batch.shape[0]
    if model is None:
        if schedule is not None:
            raise ValueError("schedule= was given without model=")
        model, schedule = default_model()
    elif schedule is None:
        raise ValueError("pass schedule= together with model= (the schedule the model was trained with)")
    if isinstance(sigma, str):
        if sigma != "auto":
            raise ValueError(f"sigma must be a number, one per image, or 'auto', got {sigma!r}")
        from .noise_level import estimate_sigma

        sig = estimate_sigma(batch).to(torch.float64).clamp(min=1e-3)
    else:
        sig = _sigmas(sigma, n)
    max_sigma = schedule.max_sigma / 2
    if bool((sig > max_sigma).any()):
        raise ValueError(f"sigma {float(sig.max()):.4g} is above the largest noise level of the schedule ({max_sigma:.4g} in pixel units)")
    y_lab = _labels(label, n)
    if seed is None:
        base = int(torch.randint(0, 2**62, (1,), generator=generator)) if generator is not None else int.from_bytes(os.urandom(8), "little") >> 2
    else:
        base = int(seed)
    out = torch.empty_like(batch)
    device = next(iter(model.parameters())).device if isinstance(model, torch.nn.Module) else torch.device("cpu")
    for lo in range(0, n, batch_size):
        sl = slice(lo, min(n, lo + batch_size))
        gens = [torch.Generator().manual_seed(derived_seed(base, "denoise", i)) for i in range(sl.start, sl.stop)]
        lab = None if y_lab is None else y_lab[sl].to(device)
        out[sl] = _denoise_chunk(
            batch[sl].to(device), sig[sl], model, schedule, method=method, steps=steps, eta=eta, samples=samples,
            label=lab, guidance=guidance, generators=gens, clip=clip, progress=progress,
        ).cpu()
    if clip:
        out.clamp_(0, 1)  # in place: no second copy of a large output
    return restore(out)


@torch.no_grad()
def _denoise_chunk(
    y: Tensor,
    sigma: Tensor,
    model: EpsModel,
    schedule: NoiseSchedule,
    *,
    method: str,
    steps: int | None,
    eta: float,
    samples: int,
    label: Tensor | None,
    guidance: float,
    generators: list[torch.Generator],
    clip: bool,
    progress: bool,
) -> Tensor:
    """Denoise one chunk of pixel-unit images y with pixel-unit sigmas; returns pixels."""
    t_star = start_step(sigma, schedule)  # (N,) fractional steps
    ab = schedule.alpha_bar_at(t_star).to(y.dtype).to(y.device).reshape(-1, 1, 1, 1)
    x_t = ab.sqrt() * to_model(y)  # x_{t*} = sqrt(alpha_bar_{t*}) y, y not clipped
    kw = {"label": label, "guidance": guidance, "clip_x0": clip}
    if method == "posterior_mean":
        x0, _ = predict_start(model, x_t, t_star, schedule, **kw)
        return to_pixels(x0)
    if method == "ddim":
        table = stack_timesteps([ddim_timesteps(float(t), steps or 10) for t in t_star])
        return to_pixels(sample_loop(ddim_step, model, x_t, table, schedule, generator=generators, eta=eta, progress=progress, **kw))
    table = stack_timesteps([ancestral_timesteps(float(t), steps=steps) for t in t_star])
    k = samples if method == "average" else 1
    acc = torch.zeros_like(y)
    for _ in range(k):
        acc += to_pixels(sample_loop(ancestral_step, model, x_t, table, schedule, generator=generators, progress=progress, **kw))
    return acc / k
