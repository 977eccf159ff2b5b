"""tinyddpm's network under diffusers' schedulers (tinyddpm.harness.interop): the chains agree to 1e-5, and
each setting the module docstring names is needed (dropping one breaks the agreement)."""

from __future__ import annotations

import pytest
import torch

import tinyddpm
from tinyddpm.harness.interop import grid_sigma, grid_timesteps, run_chain, scheduler

pytest.importorskip("diffusers", reason="diffusers is not installed (pip install -e '.[bench]')")


@pytest.fixture(scope="module")
def setup():
    model, schedule = tinyddpm.pretrained("ddpm")
    x = tinyddpm.load_sample()[0][:6]
    sigma = grid_sigma(schedule, 200)
    y = tinyddpm.add_noise(x, sigma, generator=tinyddpm.seeded(1))
    ours = tinyddpm.denoise(
        y, sigma, model=model, schedule=schedule, method="ddim", steps=8, precision="fp32"
    )
    return model, schedule, y, ours


def test_ddim_under_diffusers_equals_tinyddpm(setup):
    model, schedule, y, ours = setup
    theirs = run_chain(model, schedule, scheduler(schedule, "ddim"), y, start=200, steps=8)
    assert float((theirs - ours).abs().max()) < 1e-5


def test_each_setting_matters(setup):
    """Without the clipped model output, or without the index shift, the chains differ."""
    from diffusers import DDIMScheduler

    model, schedule, y, ours = setup

    class Unclipped(DDIMScheduler):
        def step(self, *args, **kwargs):
            kwargs["use_clipped_model_output"] = False
            return super().step(*args, **kwargs)

    sched = Unclipped.from_config(scheduler(schedule, "ddim").config)
    assert float((run_chain(model, schedule, sched, y, start=200, steps=8) - ours).abs().max()) > 1e-3
    # the index shift: diffusers' timestep k is tinyddpm's grid step k + 1
    shifted = lambda x_t, t: model(x_t, t - 1)  # noqa: E731
    off = run_chain(shifted, schedule, scheduler(schedule, "ddim"), y, start=200, steps=8)
    assert float((off - ours).abs().max()) > 1e-4


def test_ddpm_scheduler_runs_from_the_matched_step(setup):
    """Ancestral under diffusers: random, so no equality; but it denoises (PSNR well above the input's)."""
    model, schedule, y, _ = setup
    x = tinyddpm.load_sample()[0][:6]
    out = run_chain(
        model, schedule, scheduler(schedule, "ddpm"), y, start=200, steps=20, generator=tinyddpm.seeded(0)
    )
    from tinyddpm.metrics import psnr

    assert float(psnr(out, x).mean()) > float(psnr(y, x).mean()) + 3


def test_grid_timesteps_and_bad_kinds():
    assert grid_timesteps(250, 10) == list(range(249, -1, -25))
    with pytest.raises(ValueError, match="multiple"):
        grid_timesteps(250, 7)
    with pytest.raises(ValueError, match="unknown scheduler"):
        scheduler(tinyddpm.NoiseSchedule.cosine(10), "euler")
    assert torch.isclose(torch.tensor(grid_sigma(tinyddpm.NoiseSchedule.cosine(1000), 0)), torch.tensor(0.0))
