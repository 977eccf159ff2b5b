"""tinyddpm's network under diffusers' schedulers: the settings that make the two chains agree.

diffusers (``pip install diffusers``, an optional dependency) keeps schedulers apart from models,
so any eps-predicting network runs under its ``DDIMScheduler`` and ``DDPMScheduler``. To run
tinyddpm's reverse chain there, from a given noisy digit, five settings must match, each for a
reason:

- ``trained_betas=schedule.betas``: the same beta_1..beta_T for any tinyddpm schedule (for the
  default cosine one with s = 0.008, diffusers' ``"squaredcos_cap_v2"`` agrees to about 1e-6);
- the index shift: diffusers' timestep ``k`` (0-based) is tinyddpm's grid step ``k + 1``
  (``alphas_cumprod[k]`` = alpha_bar_{k+1}), so the network is asked at ``k + 1``;
- ``clip_sample=True``: tinyddpm clips x0_hat to [-1, 1] at every step;
- ``use_clipped_model_output=True`` in DDIM's ``step``: tinyddpm recomputes eps from the clipped
  x0_hat (so x0_hat and eps stay consistent with x_t); without it the chains differ by more
  than 1e-3 per pixel (``tests/test_interop.py``);
- ``set_alpha_to_one=True``: the last step lands on alpha_bar = 1 (x_0 itself), as tinyddpm's
  chain ends at t = 0; and ``variance_type="fixed_small"`` for DDPM: beta-tilde, Ho et al.'s
  sigma_t^2 choice that tinyddpm's ancestral step uses.

diffusers' timesteps are integers, so the chain starts on its grid: a noisy image y (pixel
units) at sigma is x_k for the grid step k whose noise level is 2 sigma; :func:`grid_sigma`
gives the sigma of a grid step, and :func:`run_chain` starts from x_k = sqrt(alpha_bar_k) y
(model units), exactly as :func:`tinyddpm.denoise` does at a fractional t*.

>>> import torch, tinyddpm
>>> from tinyddpm.harness.interop import grid_sigma, run_chain, scheduler
>>> model, schedule = tinyddpm.pretrained("ddpm")
>>> x = tinyddpm.load_sample()[0][:2]
>>> sigma = grid_sigma(schedule, 250)                      # t* = 250 exactly
>>> y = tinyddpm.add_noise(x, sigma, generator=tinyddpm.seeded(0))
>>> theirs = run_chain(model, schedule, scheduler(schedule, "ddim"), y, start=250, steps=10)
>>> ours = tinyddpm.denoise(y, sigma, model=model, schedule=schedule, method="ddim", steps=10,
...                         precision="fp32")
>>> float((theirs - ours).abs().max()) < 1e-5
True
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch import Tensor

from ..data import to_model, to_pixels
from ..diffusion import EpsModel
from ..schedules import NoiseSchedule


def scheduler(schedule: NoiseSchedule, kind: Literal["ddim", "ddpm"] = "ddim") -> Any:
    """diffusers' ``DDIMScheduler`` (eta 0) or ``DDPMScheduler`` set up as tinyddpm's sampler
    (the settings and why each is needed: see the module docstring)."""
    try:
        from diffusers import DDIMScheduler, DDPMScheduler
    except ImportError:
        raise ImportError("diffusers is not installed: pip install diffusers") from None
    common = {
        "num_train_timesteps": schedule.T,
        "trained_betas": schedule.betas.numpy(),
        "clip_sample": True,
        "prediction_type": "epsilon",
    }
    if kind == "ddim":
        return DDIMScheduler(**common, set_alpha_to_one=True, steps_offset=0)
    if kind == "ddpm":
        return DDPMScheduler(**common, variance_type="fixed_small")
    raise ValueError(f"unknown scheduler kind {kind!r} (expected 'ddim' or 'ddpm')")


def grid_sigma(schedule: NoiseSchedule, step: int) -> float:
    """The pixel-unit noise level whose matched step t* is the integer grid step ``step``."""
    return float(schedule.sigma_from_t(float(step))) / 2


def grid_timesteps(start: int, steps: int) -> list[int]:
    """diffusers' timesteps (0-based) of ``steps`` equal strides from tinyddpm's grid step
    ``start``: tinyddpm visits start, start - stride, ..., stride, then 0."""
    if not 1 <= steps <= start or start % steps:
        raise ValueError(f"start {start} must be a multiple of steps {steps}")
    stride = start // steps
    return list(range(start - 1, -1, -stride))


@torch.no_grad()
def run_chain(
    eps_model: EpsModel,
    schedule: NoiseSchedule,
    sched: Any,
    y: Tensor,
    *,
    start: int,
    steps: int,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Denoise pixel-unit digits ``y`` (N, 1, 28, 28) whose noise level is that of grid step
    ``start`` (:func:`grid_sigma`) with a diffusers scheduler: x_start = sqrt(alpha_bar) y, then
    ``steps`` strided ``sched.step`` calls; returns pixels in [0, 1]."""
    from diffusers import DDIMScheduler

    timesteps = grid_timesteps(start, steps)
    if isinstance(sched, DDIMScheduler):
        sched.set_timesteps(schedule.T // (start // steps))
        kw: dict[str, Any] = {"use_clipped_model_output": True, "eta": 0.0}
    else:
        sched.set_timesteps(timesteps=timesteps)
        kw = {"generator": generator}
    x_t = float(schedule.alpha_bar_at(float(start))) ** 0.5 * to_model(y)  # x_{t*} = sqrt(ab) y
    for k in timesteps:
        eps = eps_model(x_t, torch.full((len(x_t),), float(k + 1)))  # diffusers' k is step k + 1
        x_t = sched.step(eps, k, x_t, **kw).prev_sample
    return to_pixels(x_t).clamp(0, 1)
