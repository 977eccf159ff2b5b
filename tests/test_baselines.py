"""The fixed-step chain and the classical denoisers, BM3D optional (tinyddpm.harness.baselines)."""

import math

import pytest
import torch

from tinyddpm.data import to_model, to_pixels
from tinyddpm.harness.analytic import GaussianEps, gaussian_posterior
from tinyddpm.harness.baselines import (
    CLASSICAL_GRIDS,
    ScheduleAdapter,
    available_classical,
    classical_denoise,
    fixed_step_chain,
    tune_classical,
)
from tinyddpm.metrics import psnr
from tinyddpm.schedules import NoiseSchedule

COSINE = NoiseSchedule.cosine(1000)
LINEAR = NoiseSchedule.linear(300)
MU, S = 0.2, 0.5  # Gaussian data N(mu, s^2) in model units


def test_adapter_asks_the_model_at_the_step_with_the_same_noise_level():
    # the exact eps of Gaussian data depends on t only through alpha_bar_t, so a model exact on the
    # cosine schedule, adapted to the linear grid, must equal the model exact on the linear grid
    adapted = ScheduleAdapter(GaussianEps(COSINE, MU, S), COSINE, LINEAR)
    native = GaussianEps(LINEAR, MU, S)
    x = torch.randn(6, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    t = torch.tensor([1.0, 10.0, 57.0, 100.0, 250.0, 300.0], dtype=torch.float64)
    assert torch.allclose(adapted(x, t), native(x, t), atol=1e-9)


def test_adapter_refuses_a_grid_noisier_than_the_model_was_trained_for():
    with pytest.raises(ValueError, match="largest noise level"):
        ScheduleAdapter(GaussianEps(LINEAR, MU, S), LINEAR, COSINE)


def test_original_procedure_from_step_one_is_one_exact_tweedie_step_on_the_unscaled_image():
    # start_step=1: x_1 := 2y - 1 unscaled, one step to 0 returns x0_hat(x_1) = E[x0 | x_1], i.e.
    # the Wiener filter for y' = x_1 / sqrt(ab_1) with noise sqrt((1 - ab_1) / ab_1)
    y = torch.rand(5, 1, 3, 3, generator=torch.Generator().manual_seed(1))
    out = fixed_step_chain(y, start_step=1, model=GaussianEps(COSINE, MU, S), schedule=COSINE)
    ab1 = float(LINEAR.alpha_bar[1])
    mean, _ = gaussian_posterior(to_model(y).double() / math.sqrt(ab1), math.sqrt((1 - ab1) / ab1), MU, S)
    assert torch.allclose(out.double(), to_pixels(mean.clamp(-1, 1)).clamp(0, 1), atol=1e-5)


def test_original_procedure_is_seeded_per_image_and_checks_its_input():
    model = GaussianEps(COSINE, MU, S)
    y = torch.rand(6, 1, 4, 4, generator=torch.Generator().manual_seed(2))
    a = fixed_step_chain(y, start_step=20, model=model, schedule=COSINE, seed=3)
    b = fixed_step_chain(y, start_step=20, model=model, schedule=COSINE, seed=3, batch_size=4)
    c = fixed_step_chain(y, start_step=20, model=model, schedule=COSINE, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="start_step"):
        fixed_step_chain(y, start_step=0, model=model, schedule=COSINE)
    with pytest.raises(ValueError, match="start_step"):
        fixed_step_chain(y, start_step=301, model=model, schedule=COSINE)
    with pytest.raises(ValueError, match="shape"):
        fixed_step_chain(y[0], model=model, schedule=COSINE)
    with pytest.raises(ValueError, match="schedule"):
        fixed_step_chain(y, model=model)


@pytest.mark.parametrize("name", available_classical())
def test_classical_denoisers_remove_noise_from_a_smooth_image_and_clip(name):
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 28), torch.linspace(0, 1, 28), indexing="ij")
    clean = (0.5 + 0.3 * torch.sin(3 * xx) * torch.cos(2 * yy)).expand(4, 1, 28, 28).clone()
    noisy = clean + 0.2 * torch.randn(clean.shape, generator=g)
    grid = CLASSICAL_GRIDS[name]
    out = classical_denoise(noisy, 0.2, name=name, param=grid[len(grid) // 2])
    assert out.shape == clean.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert float(psnr(out, clean).mean()) > float(psnr(noisy, clean).mean()) + 3
    assert classical_denoise(noisy[:0], 0.2, name=name, param=grid[0]).shape == (0, 1, 28, 28)


def test_tuning_returns_the_best_grid_value_and_unknown_names_are_refused():
    g = torch.Generator().manual_seed(0)
    clean = torch.full((3, 1, 28, 28), 0.5)
    noisy = clean + 0.3 * torch.randn(clean.shape, generator=g)
    best, scores = tune_classical("gaussian", clean, noisy, 0.3, score=lambda a, b: float(psnr(a, b).mean()))
    assert set(scores) == set(CLASSICAL_GRIDS["gaussian"]) and scores[best] == max(scores.values())
    assert best == max(CLASSICAL_GRIDS["gaussian"])  # a constant image: the widest blur is best
    with pytest.raises(ValueError, match="unknown classical"):
        classical_denoise(noisy, 0.3, name="median", param=1.0)


def test_nl_means_grid_spans_patch_sizes_and_strengths_up_to_two_sigma():
    grid = CLASSICAL_GRIDS["nl_means"]
    assert {p for p, _ in grid} == {3, 5, 7} and max(h for _, h in grid) == 2.0
    assert len(set(grid)) == len(grid) == 3 * len({h for _, h in grid})
    # a larger patch averages more: on a flat image, patch 7 removes more noise than patch 3 at equal h
    g = torch.Generator().manual_seed(1)
    clean = torch.full((2, 1, 28, 28), 0.4)
    noisy = clean + 0.2 * torch.randn(clean.shape, generator=g)
    small, large = (classical_denoise(noisy, 0.2, name="nl_means", param=(p, 1.0)) for p in (3, 7))
    assert float(psnr(large, clean).mean()) > float(psnr(small, clean).mean())


def test_workers_split_the_images_without_changing_the_result():
    g = torch.Generator().manual_seed(2)
    noisy = 0.5 + 0.2 * torch.randn(5, 1, 28, 28, generator=g)
    one = classical_denoise(noisy, 0.2, name="tv", param=0.1)
    assert torch.equal(classical_denoise(noisy, 0.2, name="tv", param=0.1, workers=2), one)


def test_bm3d_is_optional_and_says_which_package_is_missing(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "bm3d" else real(n, *a))
    assert "bm3d" not in available_classical() and "nl_means" in available_classical()
    with pytest.raises(ImportError, match="pip install bm3d"):
        classical_denoise(torch.zeros(1, 1, 28, 28), 0.2, name="bm3d", param=1.0)
