"""tinyddpm.generate and save_grid: the one-call generation API, its input checks and its seeds."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

import tinyddpm
from tinyddpm.denoise import MAX_STEPS
from tinyddpm.generate import MAX_IMAGES
from tinyddpm.schedules import NoiseSchedule


def zero_eps(x_t, t, y=None):
    """An eps_model that predicts no noise: x0_hat = x_t / sqrt(alpha_bar)."""
    return torch.zeros_like(x_t)


def test_generate_returns_pixels_and_is_seeded():
    a = tinyddpm.generate(3, label=[1, 2, 3], steps=4, seed=5, precision="fp32")
    b = tinyddpm.generate(3, label=[1, 2, 3], steps=4, seed=5, precision="fp32")
    c = tinyddpm.generate(3, label=[1, 2, 3], steps=4, seed=6, precision="fp32")
    assert a.shape == (3, 1, 28, 28) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_generate_is_the_sampler_in_pixel_units_with_per_image_noise():
    """With a closed-form model, generate == to_pixels(sample(...)) with generators from (seed, i),
    for any chunking."""
    from tinyddpm.samplers import sample
    from tinyddpm.seeding import derived_seed

    schedule = NoiseSchedule.cosine(50)
    got = tinyddpm.generate(5, model=zero_eps, schedule=schedule, steps=7, eta=1.0, seed=3, batch_size=2)
    gens = [torch.Generator().manual_seed(derived_seed(3, "generate", i)) for i in range(5)]
    ref = sample(zero_eps, schedule, 5, steps=7, eta=1.0, generator=gens)
    assert torch.equal(got, tinyddpm.to_pixels(ref).clamp(0, 1))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"n": 0}, ValueError, "n must be"),
        ({"n": MAX_IMAGES + 1}, ValueError, "n must be"),
        ({"n": 2.5}, ValueError, "n must be"),
        ({"label": 11}, ValueError, r"0\.\.9"),
        ({"label": -5}, ValueError, r"0\.\.9"),
        ({"label": 3.7}, TypeError, "integer"),
        ({"label": True}, TypeError, "integer"),
        ({"label": [1, 2]}, ValueError, "2 labels for 4 images"),
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": MAX_STEPS + 1}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"guidance": float("nan")}, ValueError, "guidance"),
        ({"guidance": 1e6}, ValueError, "guidance"),
        ({"method": "euler"}, ValueError, "unknown method"),
        ({"schedule": NoiseSchedule.cosine(10)}, ValueError, "without model"),
    ],
)
def test_generate_refuses_bad_arguments(kwargs, error, match):
    kwargs = {"n": 4, **kwargs}
    with pytest.raises(error, match=match):
        tinyddpm.generate(**kwargs)


def test_save_grid_tiles_a_square_by_default(tmp_path):
    x = tinyddpm.load_sample()[0][:5]
    tinyddpm.save_grid(x, tmp_path / "g.png")
    assert Image.open(tmp_path / "g.png").size == (3 * 30 + 2, 2 * 30 + 2)
    tinyddpm.save_grid(x[:, 0], tmp_path / "h.png", nrow=5, scale=2)  # (N, H, W) works too
    assert Image.open(tmp_path / "h.png").size == (2 * (5 * 30 + 2), 2 * 32)
