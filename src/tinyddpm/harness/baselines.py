"""What tinyddpm is measured against: a fixed-start-step chain and classical denoisers.

- ``fixed_step_chain``: a *fixed-step* chain: the noisy image fed unscaled into the ancestral
  chain of the linear T = 300 schedule (Ho et al. 2020, betas 1e-4 .. 0.02) at one hand-picked
  step (default 100), whatever the actual noise level, run with tinyddpm's network (asked, via
  ``ScheduleAdapter``, at the cosine-schedule step with the same alpha_bar). This is what the
  student's procedure turns into when it meets a plain noisy image y = x + sigma n of unknown
  sigma; it is **not** what the student ran. The student only denoised inputs made by their own
  forward process (already scaled by sqrt(alpha_bar_t)), started at the true step rounded down
  to a multiple of 10, and clamped after every step: that procedure, their network and their
  training are in :mod:`tinyddpm.harness.student`, measured by ``benchmarks/student.py``.
- ``classical_denoise``: Gaussian blur, total variation (Chambolle), wavelet (BayesShrink) and
  non-local means (Buades et al. 2005) from scikit-image, and BM3D (Dabov et al. 2007) when the
  optional ``bm3d`` package is installed; ``CLASSICAL_GRIDS`` lists the values the benchmarks tune
  per sigma on held-out training digits (for non-local means: patch size and filter strength h).
  ``bm3d`` is free for non-commercial use only, so it is a benchmark extra
  (``pip install -e ".[bm3d]"``), never a dependency of the package: ``available_classical``
  leaves it out when it is not installed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..data import to_model, to_pixels
from ..diffusion import EpsModel
from ..samplers import ancestral_step, ancestral_timesteps, sample_loop
from ..schedules import NoiseSchedule
from ..seeding import generator


class ScheduleAdapter:
    """``eps_model`` trained on ``schedule`` (continuous t), asked on another schedule's grid.

    Step t of ``grid`` has noise level s = sqrt((1 - alpha_bar_t) / alpha_bar_t); the adapter
    evaluates the model at ``schedule.t_from_sigma(s)``, the step with the same alpha_bar, so
    ``adapter(x_t, t)`` predicts the same epsilon as ``eps_model`` would for that x_t.
    """

    def __init__(self, eps_model: EpsModel, schedule: NoiseSchedule, grid: NoiseSchedule) -> None:
        if grid.max_sigma > schedule.max_sigma * (1 + 1e-9):
            raise ValueError("the model's schedule does not reach the grid's largest noise level")
        self.eps_model, self.schedule, self.grid = eps_model, schedule, grid

    def __call__(self, x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        t_model = self.schedule.t_from_sigma(self.grid.sigma_from_t(t.double())).to(x_t.dtype)  # (N,)
        return self.eps_model(x_t, t_model) if y is None else self.eps_model(x_t, t_model, y)


@torch.no_grad()
def fixed_step_chain(
    images: Tensor,
    *,
    start_step: int = 100,
    T: int = 300,
    model: EpsModel | None = None,
    schedule: NoiseSchedule | None = None,
    seed: int = 0,
    batch_size: int = 256,
) -> Tensor:
    """Denoise pixel-unit images (N, 1, 28, 28) from a fixed start step, the image unscaled.

    x_{start} = 2 y - 1 (the noisy image itself, *not* scaled by sqrt(alpha_bar) and whatever its
    noise level), then ancestral steps start, start - 1, ..., 0 of the linear T-step schedule
    (Ho et al. 2020, Algorithm 2). Image i draws its noise from a generator seeded by
    (seed, i), as in :func:`tinyddpm.denoise`. Returns pixels clipped to [0, 1].
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if not 1 <= start_step <= T:
        raise ValueError(f"start_step must lie in [1, {T}], got {start_step}")
    if model is None:
        from ..denoise import default_model

        model, schedule = default_model()
    elif schedule is None:
        raise ValueError("pass schedule= together with model=")
    grid = NoiseSchedule.linear(T)
    eps = ScheduleAdapter(model, schedule, grid)
    ts = ancestral_timesteps(float(start_step))
    out = torch.empty_like(images, dtype=torch.float32)
    for lo in range(0, len(images), batch_size):
        sl = slice(lo, min(len(images), lo + batch_size))
        gens = [generator(seed, "original", i) for i in range(sl.start, sl.stop)]
        x = sample_loop(ancestral_step, eps, to_model(images[sl].float()), ts, grid, generator=gens)
        out[sl] = to_pixels(x).clamp(0, 1)
    return out


# ---- classical denoisers (scikit-image) ----------------------------------------------------

Param = float | tuple[float, ...]

NL_MEANS_PATCHES = (3, 5, 7)  # patch sizes in pixels
NL_MEANS_H = (0.4, 0.6, 0.8, 1.0, 1.3, 1.6, 2.0)  # filter strength h as a multiple of sigma
NL_MEANS_DISTANCE = 6  # search window: (2 * 6 + 1)^2 pixels, half a digit each way

CLASSICAL_GRIDS: dict[str, tuple[Param, ...]] = {
    "gaussian": (0.3, 0.5, 0.7, 0.9, 1.1, 1.4, 1.8),  # blur std in pixels
    "tv": (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6),  # Chambolle weight
    "wavelet": (0.5, 0.75, 1.0, 1.5, 2.0, 3.0),  # multiple of sigma given to BayesShrink
    "nl_means": tuple((p, h) for p in NL_MEANS_PATCHES for h in NL_MEANS_H),  # (patch size, h / sigma)
    "bm3d": (0.7, 0.85, 1.0, 1.15, 1.3),  # noise std given to BM3D, as a multiple of sigma
}
OPTIONAL_PACKAGE = {"bm3d": "bm3d"}  # denoiser -> the package it needs, not a tinyddpm dependency


def available_classical() -> list[str]:
    """The names in ``CLASSICAL_GRIDS`` whose package is installed (``bm3d`` is optional)."""
    return [
        name
        for name in CLASSICAL_GRIDS
        if name not in OPTIONAL_PACKAGE or importlib.util.find_spec(OPTIONAL_PACKAGE[name]) is not None
    ]


def _classical_one(name: str, y: np.ndarray, sigma: float, param: Param) -> np.ndarray:
    from skimage.filters import gaussian
    from skimage.restoration import denoise_nl_means, denoise_tv_chambolle, denoise_wavelet

    if name == "gaussian":
        return gaussian(y, sigma=param, preserve_range=True)
    if name == "tv":
        return denoise_tv_chambolle(y, weight=param)
    if name == "wavelet":
        return denoise_wavelet(y, sigma=param * sigma, mode="soft", method="BayesShrink", rescale_sigma=False)
    if name == "nl_means":
        patch, h = param  # type: ignore[misc]
        return denoise_nl_means(
            y,
            h=h * sigma,
            sigma=sigma,
            patch_size=int(patch),
            patch_distance=NL_MEANS_DISTANCE,
            fast_mode=True,
        )
    if name == "bm3d":
        import bm3d  # optional: free for non-commercial use only

        profile = bm3d.BM3DProfile()
        profile.num_threads = (
            1  # its default, every core, is slower on a 28x28 digit: parallelise over digits
        )
        return np.asarray(bm3d.bm3d(y, sigma_psd=param * sigma, profile=profile), dtype=np.float64)
    raise ValueError(f"unknown classical denoiser {name!r} (expected one of {', '.join(CLASSICAL_GRIDS)})")


def _classical_many(name: str, arr: np.ndarray, sigma: float, param: Param) -> np.ndarray:
    """(N, 1, H, W) -> (N, 1, H, W), one image at a time (a worker's share)."""
    return np.stack([_classical_one(name, a[0], sigma, param)[None] for a in arr])


def classical_denoise(images: Tensor, sigma: float, *, name: str, param: Param, workers: int = 1) -> Tensor:
    """Apply one classical denoiser with parameter ``param`` to pixel-unit images (N, 1, H, W).

    The input is not clipped (Gaussian noise leaves [0, 1]); the output is clipped to [0, 1].
    ``workers`` > 1 splits the images over that many processes (the result does not change).
    Raises ``ValueError`` for an unknown name and ``ImportError`` for ``"bm3d"`` without its package.
    """
    if name not in CLASSICAL_GRIDS:
        raise ValueError(
            f"unknown classical denoiser {name!r} (expected one of {', '.join(CLASSICAL_GRIDS)})"
        )
    if name not in available_classical():
        raise ImportError(f"{name!r} needs the optional package {OPTIONAL_PACKAGE[name]!r}: pip install bm3d")
    arr = images.detach().double().cpu().numpy()
    if workers > 1 and len(arr) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        parts = np.array_split(arr, min(workers, len(arr)))
        with ProcessPoolExecutor(len(parts), mp_context=multiprocessing.get_context("spawn")) as pool:
            out = np.concatenate(
                list(pool.map(_classical_many, *zip(*[(name, a, sigma, param) for a in parts])))
            )
    else:
        out = _classical_many(name, arr, sigma, param) if len(arr) else arr
    return torch.from_numpy(np.asarray(out, dtype=np.float32)).clamp(0, 1)


def tune_classical(
    name: str,
    clean: Tensor,
    noisy: Tensor,
    sigma: float,
    *,
    score: Callable[[Tensor, Tensor], float],
    workers: int = 1,
) -> tuple[Param, dict[Param, float]]:
    """The grid value of ``name`` with the best ``score(denoised, clean)``, and every score."""
    scores = {
        p: score(classical_denoise(noisy, sigma, name=name, param=p, workers=workers), clean)
        for p in CLASSICAL_GRIDS[name]
    }
    return max(scores, key=scores.get), scores
