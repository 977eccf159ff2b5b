"""Denoising with a diffusion model: a noisy image *is* x_t for the right t.

For a clean digit x0 (model units, [-1, 1]) and y = x0 + s n with n ~ N(0, I),

    sqrt(alpha_bar) y = sqrt(alpha_bar) x0 + sqrt(alpha_bar) s n  is distributed as  x_t

exactly when alpha_bar s^2 = 1 - alpha_bar, i.e. alpha_bar_{t*} = 1 / (1 + s^2) (Ho et al. 2020,
Eq. 4). So we map the user's sigma (pixel units, s = 2 sigma in model units) to the possibly
fractional step t*, set x_{t*} = sqrt(alpha_bar_{t*}) y (never clipping y first) and either
take one Tweedie step, E[x0 | y] (``"posterior_mean"``), or run the reverse chain from t*
(``"ddim"``, ``"ancestral"``), or average K ancestral samples (``"average"``). Starting the
chain at a noisy image is the idea of SDEdit (Meng et al. 2022), here with the matched step.

Pictures of one digit at any size (photos, scans, 8-bit files) go through :func:`denoise_image`:
normalised as MNIST was made (:mod:`tinyddpm.preprocess`), denoised, and handed back in their own
frame.

>>> import torch, tinyddpm
>>> x = tinyddpm.load_sample()[0][:4]                                  # (4, 1, 28, 28) in [0, 1]
>>> y = x + 0.2 * torch.randn(x.shape, generator=tinyddpm.seeded(0))
>>> tinyddpm.denoise(y, sigma=0.2).shape
torch.Size([4, 1, 28, 28])
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import torch
from torch import Tensor

from .checkpoint import pretrained
from .clipping import unclip
from .data import to_model, to_pixels
from .diffusion import EpsModel
from .io import MAX_PIXELS, as_batch, read_picture
from .noise_level import estimate_sigma
from .options import check_choice
from .precision import AUTO_FP32_BELOW_SIGMA, Precision, with_precision
from .preprocess import Normalization, normalize
from .samplers import (
    ancestral_step,
    ancestral_timesteps,
    ddim_step,
    ddim_timesteps,
    model_device,
    predict_start,
    sample_loop,
    stack_timesteps,
)
from .schedules import NoiseSchedule
from .seeding import generator as stream_generator

# the one-step posterior mean, a sample by DDIM or ancestral steps from t*, or the mean of samples
Method = Literal["posterior_mean", "ddim", "ancestral", "average"]
METHODS = get_args(Method)


MAX_PIXEL_SIGMA = 3.0  # pixel units: the student's training range reached 2.2; 0..255 units are refused
MAX_STEPS = 10_000  # sampler steps (a shipped schedule has T = 1000 unit steps)
MAX_SAMPLES = 1_000  # samples averaged by method="average"
MAX_GUIDANCE = 100.0  # classifier-free guidance scale, 0 (unconditional) to this
NOISE_REACH = 8.0  # a pixel lies within [0, 1] widened by PIXEL_SLACK plus this many sigmas
PIXEL_SLACK = 1.5  # room for contrast-normalised photos and overshoot, pixel units


def _count(value: Any, name: str, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not 1 <= int(value) <= limit:
        raise ValueError(f"{name} must lie in 1..{limit:,}, got {value}")
    return int(value)


def check_options(
    *,
    steps: Any = None,
    samples: Any = 1,
    label: Any = None,
    guidance: Any = 1.0,
    eta: Any = 0.0,
    num_classes: int | None = 10,
) -> None:
    """The one validator of the sampler options, for the API and the command line alike.

    ``steps`` None or an integer in 1..MAX_STEPS; ``samples`` an integer in 1..MAX_SAMPLES;
    ``label`` None or integer class labels in 0..num_classes - 1 (a number, a sequence or a
    tensor; no bools, no fractions); ``guidance`` a number in [0, MAX_GUIDANCE] (as
    :func:`tinyddpm.generate.generate`); ``eta`` in [0, 1]. Raises TypeError or ValueError saying
    which option and why.
    """
    if steps is not None:
        _count(steps, "steps", MAX_STEPS)
    _count(samples, "samples", MAX_SAMPLES)
    for name, value, lo, hi in (("guidance", guidance, 0.0, MAX_GUIDANCE), ("eta", eta, 0.0, 1.0)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{name} must be a number, got {value!r}")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ValueError(f"{name} must be finite and lie in [{lo:g}, {hi:g}], got {value}")
    if label is not None:
        as_labels(label, None, num_classes)


def check_pixels(batch: Tensor, sigma: Tensor, names: Sequence[str] | None = None) -> None:
    """Refuse images whose pixels lie far outside [0, 1] plus their noise (not pixel units, e.g. 0..255).

    ``batch`` (N, 1, 28, 28) pixels, ``sigma`` (N,) pixel units: every pixel must satisfy
    ``|y - 0.5| <= 0.5 + PIXEL_SLACK + NOISE_REACH * sigma`` (a Gaussian pixel passes 8 sigmas with
    probability 1e-15). Raises ValueError naming the image (``names[i]`` or ``image i``).
    """
    reach = (batch.flatten(1).double() - 0.5).abs().amax(1)  # (N,)
    bad = torch.nonzero(reach > 0.5 + PIXEL_SLACK + NOISE_REACH * sigma.double()).flatten().tolist()
    if bad:
        i = bad[0]
        name = names[i] if names is not None else f"image {i}"
        raise ValueError(
            f"{name}: pixel values reach {float(batch[i].abs().max()):.4g}, far outside [0, 1] with noise "
            f"of sigma {float(sigma[i]):.3g}; images are in [0, 1] pixel units (divide 8-bit values by 255)"
        )


def _sigmas(sigma: float | Sequence[float] | Tensor | np.ndarray, n: int) -> Tensor:
    if isinstance(sigma, bool) or (
        isinstance(sigma, Tensor | np.ndarray) and sigma.dtype in (torch.bool, bool)
    ):
        raise TypeError(f"sigma must be a number, got {sigma!r}")
    s = torch.as_tensor(
        np.asarray(sigma, dtype=np.float64) if not isinstance(sigma, Tensor) else sigma.detach().cpu(),
        dtype=torch.float64,
    )
    if s.ndim == 0:
        s = s.expand(n)
    s = s.reshape(-1)
    if s.numel() != n:
        raise ValueError(f"got {s.numel()} sigmas for {n} images")
    if not bool(torch.isfinite(s).all()) or bool((s <= 0).any()):
        raise ValueError("sigma must be positive and finite")
    return s


def as_labels(
    label: int | Sequence[int] | Tensor | None, n: int | None, num_classes: int | None = 10
) -> Tensor | None:
    """Labels as a long tensor (n,): integers in 0..num_classes - 1 (no bools, fractions or negatives)."""
    if label is None:
        return None
    if isinstance(label, bool):
        raise TypeError(f"label must be an integer class, got {label!r}")
    try:
        t = torch.as_tensor(label.detach().cpu() if isinstance(label, Tensor) else np.asarray(label))
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"label must be integers, got {label!r}") from None
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"label must be integers, got dtype {t.dtype}")
    if t.is_floating_point() and not bool((t == t.round()).all()):
        raise TypeError(f"label must be integers, got {label!r}")
    y = t.reshape(-1).long()
    top = 10 if num_classes is None else num_classes
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= top):
        raise ValueError(f"label must lie in 0..{top - 1}, got {label!r}")
    if n is None:
        return y
    if y.numel() == 1:
        y = y.expand(n)
    if y.numel() != n:
        raise ValueError(f"got {y.numel()} labels for {n} images")
    return y


def default_model() -> tuple[EpsModel, NoiseSchedule]:
    """The shipped diffusion model and its schedule (loaded once per process, then shared)."""
    model, schedule = pretrained("ddpm", shared=True)
    assert schedule is not None
    return model, schedule


def start_step(sigma: Tensor | float, schedule: NoiseSchedule) -> Tensor:
    """The matched timestep t* for a pixel-unit noise level sigma (model units: 2 sigma).

    >>> import tinyddpm
    >>> schedule = tinyddpm.NoiseSchedule.cosine(1000)
    >>> t = tinyddpm.start_step(0.3, schedule)
    >>> round(float(schedule.sigma_from_t(t)) / 2, 9)      # back to pixel units
    0.3
    """
    return schedule.t_from_sigma(2 * torch.as_tensor(sigma, dtype=torch.float64))


def denoise(
    images: Any,
    sigma: float | Sequence[float] | Tensor | str = "auto",
    *,
    method: Method = "posterior_mean",
    model: EpsModel | None = None,
    schedule: NoiseSchedule | None = None,
    steps: int | None = None,
    eta: float = 0.0,
    samples: int | None = None,
    label: int | Sequence[int] | Tensor | None = None,
    guidance: float = 1.0,
    seed: int | None = None,
    generator: torch.Generator | None = None,
    clip: bool = True,
    batch_size: int = 256,
    precision: Precision = "auto",
    device: torch.device | str | None = None,
    progress: bool = False,
) -> Any:
    """Remove Gaussian noise of standard deviation ``sigma`` from MNIST-style digits.

    Which method, and what it costs (network calls per image, for the shipped model; PSNR and
    sharpness as chapter 5 and ``src/tinyddpm/harness/results/BENCHMARKS.md`` measure them):

    ================  =============================================  ==========================
    method            what it gives                                  network calls
    ================  =============================================  ==========================
    posterior_mean    E[x0 | y]: the best PSNR, a smooth digit       1
    ddim              one sharp, plausible digit (deterministic,     ``steps`` (default 10)
                      eta = 0); PSNR a little below the mean
    ancestral         a posterior sample: the sharpest digit, the    the unit steps from t*
                      lowest PSNR (about 3 dB under the mean)        (or ``steps`` strided)
    average           the mean of ``samples`` ancestral samples:     ``samples`` x ``steps``
                      approaches E[x0 | y] at K times the cost
    ================  =============================================  ==========================

    With a ``label`` and ``guidance`` other than 1 every call is doubled.

    Args:
        images: noisy digits in [0, 1] pixel units (values outside are fine: Gaussian noise is
            not clipped): a tensor or array (N, 1, 28, 28), (1, 28, 28) or (28, 28), or a PIL image.
        sigma: noise standard deviation in pixel units ([0, 1] scale; model units are twice
            that), one float, one per image, or ``"auto"`` to estimate it from each image. At
            most ``MAX_PIXEL_SIGMA`` (a sigma in 0..255 units is refused with a hint).
        method: ``"posterior_mean"`` (one network evaluation: Tweedie's E[x0 | y]), ``"ddim"``
            (``steps`` DDIM steps from t*, default 10, stochasticity ``eta``), ``"ancestral"``
            (unit DDPM steps from t*, or ``steps`` strided ones), ``"average"`` (mean of
            ``samples`` ancestral samples, default 8). ``steps`` and ``samples`` are refused
            where the method would ignore them.
        model, schedule: any ``eps_model(x_t, t, y=None)`` and its :class:`~tinyddpm.schedules.NoiseSchedule`;
            default: the shipped pretrained model.
        label, guidance: class label(s) (0-9) and classifier-free guidance scale
            (eps_null + guidance (eps_label - eps_null); 1 = plain conditional).
        seed, generator: randomness for the samplers. Each image gets its own generator derived
            from (seed, its index), so its result does not depend on the rest of the batch.
        clip: clip x0 predictions to [-1, 1] and the result to [0, 1].
        batch_size: images per network call (bounds memory for large inputs).
        precision: ``"auto"`` (bfloat16 autocast for the network where the hardware has it,
            float32 otherwise, and float32 for a batch with a sigma under 0.075), ``"bf16"`` or
            ``"fp32"``; see :mod:`tinyddpm.precision`. The schedule and Tweedie's step always run
            in float32 / float64.
        device: where the network runs (e.g. ``"cuda"``): the shipped model is loaded there; a
            given ``model`` must already be there. Default: the model's device (the CPU for the
            shipped one). Results come back on the input's device.

    Returns:
        The denoised digits, same kind (tensor, array, PIL image) and shape as ``images``.

    >>> import tinyddpm
    >>> from tinyddpm.metrics import psnr
    >>> x = tinyddpm.load_sample()[0][:8]
    >>> y = tinyddpm.add_noise(x, 0.2, generator=tinyddpm.seeded(0))
    >>> bool(psnr(tinyddpm.denoise(y, 0.2), x).mean() > psnr(y, x).mean() + 8)
    True
    >>> tinyddpm.denoise(y[0, 0].numpy(), "auto", method="ddim", steps=5, seed=0).shape   # one NumPy image
    (28, 28)
    """
    check_choice(method, Method, "method")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if steps is not None and method == "posterior_mean":
        raise ValueError("steps= is for ddim, ancestral and average: posterior_mean is one network call")
    if samples is not None and method != "average":
        raise ValueError(f"samples= is for method='average', not {method!r}")
    samples = 8 if samples is None else samples
    num_classes = getattr(getattr(model, "config", None), "num_classes", 10)
    check_options(
        steps=steps,
        samples=samples,
        label=label,
        guidance=guidance,
        eta=eta,
        num_classes=num_classes if isinstance(num_classes, int) else 10,
    )
    batch, restore = as_batch(images)
    n = batch.shape[0]
    if model is None:
        if schedule is not None:
            raise ValueError("schedule= was given without model=")
        model, schedule = default_model()
        if device is not None and torch.device(device) != model_device(model):
            model = pretrained("ddpm")[0].to(device)  # a private copy: the shared one stays put
    elif schedule is None:
        raise ValueError("pass schedule= together with model= (the schedule the model was trained with)")
    elif (
        device is not None
        and isinstance(model, torch.nn.Module)
        and model_device(model) != torch.device(device)
    ):
        raise ValueError(f"the model is on {model_device(model)}, not on {device}: move it first (model.to)")
    if isinstance(sigma, str):
        if sigma != "auto":
            raise ValueError(f"sigma must be a number, one per image, or 'auto', got {sigma!r}")
        sig = estimate_sigma(batch).to(torch.float64).clamp(min=1e-3)
    else:
        sig = _sigmas(sigma, n)
    if bool((sig > MAX_PIXEL_SIGMA).any()):
        big = float(sig.max())
        hint = f": in 0..255 units that is {big:g}/255 = {big / 255:.4g}" if big <= 255 else ""
        raise ValueError(
            f"sigma {big:.4g} is above {MAX_PIXEL_SIGMA:g}; sigma is in [0, 1] pixel units, like the "
            f"images{hint}"
        )
    max_pixel_sigma = schedule.max_sigma / 2  # the schedule's is in model units
    if bool((sig > max_pixel_sigma).any()):
        raise ValueError(
            f"sigma {float(sig.max()):.4g} is above the largest noise level of the schedule "
            f"({max_pixel_sigma:.4g} in pixel units)"
        )
    check_pixels(batch, sig)
    y_lab = as_labels(label, n, num_classes if isinstance(num_classes, int) else 10)
    if seed is None:
        base = (
            int(torch.randint(0, 2**62, (1,), generator=generator))
            if generator is not None
            else int.from_bytes(os.urandom(8), "little") >> 2
        )
    else:
        base = int(seed)
    out = torch.empty_like(batch)
    device = torch.device(device) if device is not None else model_device(model)
    net = with_precision(model, precision, device)  # only the network's forward pass changes precision
    exact = with_precision(model, "fp32" if precision == "auto" else precision, device)
    for lo in range(0, n, batch_size):
        sl = slice(lo, min(n, lo + batch_size))
        gens = [stream_generator(base, "denoise", i) for i in range(sl.start, sl.stop)]
        lab = None if y_lab is None else y_lab[sl].to(device)
        out[sl] = _denoise_chunk(
            batch[sl].to(device),
            sig[sl],
            exact if bool((sig[sl] < AUTO_FP32_BELOW_SIGMA).any()) else net,
            schedule,
            method=method,
            steps=steps,
            eta=eta,
            samples=samples,
            label=lab,
            guidance=guidance,
            generators=gens,
            clip=clip,
            progress=progress,
        ).cpu()
    for lo in range(0, n, 4096):  # in chunks, as as_batch checks the input
        if not bool(torch.isfinite(out[lo : lo + 4096]).all()):
            raise ValueError("denoising gave NaN or infinite values (a broken model or schedule?)")
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
    method: Method,
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
        return to_pixels(
            sample_loop(
                ddim_step, model, x_t, table, schedule, generator=generators, eta=eta, progress=progress, **kw
            )
        )
    table = stack_timesteps([ancestral_timesteps(float(t), steps=steps) for t in t_star])
    k = samples if method == "average" else 1
    acc = torch.zeros_like(y)
    for _ in range(k):
        acc += to_pixels(
            sample_loop(
                ancestral_step, model, x_t, table, schedule, generator=generators, progress=progress, **kw
            )
        )
    return acc / k


# ---- pictures of one digit: photos, scans, files --------------------------------------------
@dataclass(frozen=True)
class DenoisedImage:
    """What :func:`denoise_image` returns: the result in the picture's frame and in MNIST form.

    Two noise levels, both in [0, 1] pixel units: ``sigma_picture`` is the picture's own (given,
    or estimated on its background), ``sigma`` the one the 28x28 digit was denoised with
    (``noise_gain`` times the picture's: shrinking a picture averages its noise away).

    >>> import numpy as np, tinyddpm
    >>> from tinyddpm.preprocess import synthetic_photo
    >>> photo = synthetic_photo(tinyddpm.load_sample()[0][3, 0].numpy(), np.random.default_rng(1))
    >>> tinyddpm.denoise_image(photo.noisy, sigma=0.1)  # doctest: +ELLIPSIS
    DenoisedImage(image=...x..., digit=28x28, sigma=0.0..., sigma_picture=0.1)

    Attributes:
        image: (H, W) float32 in [0, 1], the denoised digit in the picture's own frame and size.
        digit: (28, 28) float32 in [0, 1], the denoised digit in MNIST form.
        noisy_digit: (28, 28) float32, the normalised input the denoiser saw.
        sigma: the noise std the 28x28 digit was denoised with.
        normalization: every step from the picture to the 28x28 digit
            (:class:`tinyddpm.preprocess.Normalization`).
    """

    image: np.ndarray
    digit: np.ndarray
    noisy_digit: np.ndarray
    sigma: float
    normalization: Normalization

    @property
    def sigma_picture(self) -> float:
        """The picture's noise std that ``sigma`` stands for: ``sigma / noise_gain`` (equal to
        ``sigma`` for a 28x28 input)."""
        return self.sigma / self.normalization.noise_gain

    def __repr__(self) -> str:
        h, w = self.image.shape
        return (
            f"DenoisedImage(image={w}x{h}, digit=28x28, sigma={self.sigma:.4g}, "
            f"sigma_picture={self.sigma_picture:.4g})"
        )


def denoise_image(
    image: str | os.PathLike | Any,
    sigma: float | str = "auto",
    *,
    max_pixels: int = MAX_PIXELS,
    **kwargs: Any,
) -> DenoisedImage:
    """Denoise a photo, scan or file of one digit and hand it back in its own frame.

    ``image``: a file path, a PIL image or a 2-D array of grey levels in [0, 1], any size, either
    polarity. It is normalised as MNIST was made (:func:`tinyddpm.preprocess.normalize`: polarity,
    background, crop, 20 px box, centre of mass), denoised, and mapped back (:class:`DenoisedImage`:
    ``.image`` in the picture's frame, ``.digit`` the 28x28 MNIST form).

    ``sigma``: the noise std of the *picture* in [0, 1] pixel units (model units 2 sigma), or
    ``"auto"``. The 28x28 digit is denoised with ``normalization.noise_gain * sigma``: resampling
    averages the noise (see :mod:`tinyddpm.preprocess`). With ``"auto"`` the picture's sigma is
    fitted on its background (clipping-aware); a 28x28 picture's on the digit itself
    (:func:`tinyddpm.noise_level.estimate_sigma`). Clipped 28x28 inputs (8-bit files) have their
    clipped pixels replaced by their expected value first (:func:`tinyddpm.clipping.unclip`).
    ``kwargs`` go to :func:`denoise` (``method``, ``model``, ``schedule``, ``seed``, ``precision``, ...).
    Raises :class:`tinyddpm.preprocess.DigitError` for pictures that hold no single digit.

    >>> import numpy as np, tinyddpm
    >>> from tinyddpm.preprocess import synthetic_photo
    >>> photo = synthetic_photo(tinyddpm.load_sample()[0][3, 0].numpy(), np.random.default_rng(1))
    >>> out = tinyddpm.denoise_image(photo.noisy)
    >>> out.image.shape == photo.noisy.shape, out.digit.shape
    (True, (28, 28))
    """
    pixels, source = read_picture(image, max_pixels=max_pixels)
    digit, record = normalize(pixels, source=source)
    return denoise_normalized([digit], [record], sigma, **kwargs)[0]


def digit_sigmas(batch: Tensor, records: Sequence[Normalization], sigma: float | str) -> Tensor:
    """The sigma each normalised digit is denoised with: (N, 1, 28, 28), N records -> (N,) float64.

    A number is the pictures' noise std, multiplied by each record's ``noise_gain``; ``"auto"``
    takes each record's prediction from its picture, or estimates sigma on the digit where the
    record has none (28x28 input, or too little background to fit).
    """
    if isinstance(sigma, str):
        if sigma != "auto":
            raise ValueError(f"sigma must be a number or 'auto', got {sigma!r}")
        known = [r.sigma for r in records]
        missing = [i for i, s in enumerate(known) if s is None]
        est = estimate_sigma(batch[missing]).tolist() if missing else []
        for i, e in zip(missing, est):
            known[i] = e
        out = torch.tensor(known, dtype=torch.float64)
    else:
        out = _sigmas(sigma, 1).double() * torch.tensor([r.noise_gain for r in records], dtype=torch.float64)
    return out.clamp(min=1e-3)


def denoise_normalized(
    digits: Sequence[np.ndarray], records: Sequence[Normalization], sigma: float | str = "auto", **kwargs: Any
) -> list[DenoisedImage]:
    """Denoise digits that :func:`tinyddpm.preprocess.normalize` made, in one batch, and map them back.

    What :func:`denoise_image` does after reading and normalising; the command line calls it once
    for all the files it could read.
    """
    if len(digits) != len(records):
        raise ValueError(f"got {len(digits)} digits for {len(records)} records")
    if not digits:
        return []
    batch = torch.from_numpy(np.stack([np.asarray(d, dtype=np.float32) for d in digits]))[
        :, None
    ]  # (N, 1, 28, 28)
    sig = digit_sigmas(batch, records, sigma)
    out = denoise(unclip(batch, sig), sig, **kwargs)  # unclip: only clipped digits change
    return [
        DenoisedImage(r.to_image(o[0].numpy()), o[0].numpy(), d[0].numpy(), float(s), r)
        for o, d, s, r in zip(out, batch, sig, records)
    ]
