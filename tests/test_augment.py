"""Augmentation (tinyddpm.harness.augment): each transform against an exact case, the draws seeded, and
the two training switches it comes with (augment.p, init) doing what they say."""

import math
from dataclasses import replace

import pytest
import torch

from tinyddpm.checkpoint import load_model, load_tensors, sha256_file
from tinyddpm.data import Batcher, load_sample
from tinyddpm.harness.augment import AugmentConfig, affine, augment, gaussian_blur, stroke
from tinyddpm.harness.train import quick_config, train, training_batch
from tinyddpm.schedules import NoiseSchedule

from .conftest import needs_mnist


@pytest.fixture(scope="module")
def digits():
    return load_sample()[0][:16].double()  # (16, 1, 28, 28)


def test_affine_identity_quarter_turn_and_whole_pixel_shift_are_exact(digits):
    n = len(digits)
    eye = torch.eye(2, dtype=torch.float64).expand(n, 2, 2)
    assert torch.allclose(affine(digits, eye, torch.zeros(n, 2, dtype=torch.float64)), digits, atol=1e-12)
    quarter = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=torch.float64).expand(n, 2, 2)
    turned = affine(digits, quarter, torch.zeros(n, 2, dtype=torch.float64))
    assert torch.allclose(turned, torch.rot90(digits, 1, (2, 3)), atol=1e-9) or torch.allclose(
        turned, torch.rot90(digits, -1, (2, 3)), atol=1e-9
    )
    # x_out(u) = x(u + b): b = (+2 columns, -1 row) moves the content 2 left and 1 down, zero filled
    moved = affine(digits, eye, torch.tensor([[2.0, -1.0]], dtype=torch.float64).expand(n, 2))
    expected = torch.zeros_like(digits)
    expected[..., 1:, :-2] = digits[..., :-1, 2:]
    assert torch.allclose(moved, expected, atol=1e-9)


def test_blur_keeps_the_mass_and_stroke_changes_go_the_right_way(digits):
    n = len(digits)
    std = torch.full((n,), 0.8, dtype=torch.float64)
    padded = torch.nn.functional.pad(digits, (3, 3, 3, 3))  # the 7x7 kernel never reaches a border
    assert torch.allclose(gaussian_blur(padded, std).sum((1, 2, 3)), digits.sum((1, 2, 3)), rtol=1e-9)
    soft = gaussian_blur(digits, std)
    assert (soft.amax((1, 2, 3)) < digits.amax((1, 2, 3))).all()  # peaks lowered
    full, none = torch.ones(n, dtype=torch.float64), torch.zeros(n, dtype=torch.float64)
    thick = stroke(digits, torch.zeros(n, dtype=torch.long), full, std)
    thin = stroke(digits, torch.ones(n, dtype=torch.long), full, std)
    assert (thick >= digits).all() and (thin <= digits).all()
    assert (thick.sum((1, 2, 3)) > 1.3 * digits.sum((1, 2, 3))).all()
    assert (thin.sum((1, 2, 3)) < 0.7 * digits.sum((1, 2, 3))).all()
    assert torch.equal(stroke(digits, torch.full((n,), 2), none, std), digits)  # weight 0: unchanged
    # a 1-D Gaussian of std s has variance s^2: the blurred point's second moment
    point = torch.zeros(1, 1, 28, 28, dtype=torch.float64)
    point[..., 14, 14] = 1
    r = torch.arange(28, dtype=torch.float64) - 14
    var = (gaussian_blur(point, std[:1])[0, 0].sum(0) * r**2).sum()
    assert var == pytest.approx(0.8**2, rel=0.02)  # 7 taps truncate the tails a little


def test_augment_is_seeded_draws_nothing_when_off_and_touches_about_p_of_the_digits():
    x = load_sample()[0][:400]
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    assert augment(x, AugmentConfig(p=0.0), g) is x and torch.equal(g.get_state(), state)
    a = augment(x, AugmentConfig(p=0.5), torch.Generator().manual_seed(3))
    b = augment(x, AugmentConfig(p=0.5), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and a.dtype == x.dtype and 0 <= float(a.min()) and float(a.max()) <= 1
    changed = (a != x).flatten(1).any(1).double().mean()
    assert abs(float(changed) - 0.5) < 4 * math.sqrt(0.25 / 400)
    with pytest.raises(ValueError, match="augment p"):
        AugmentConfig(p=1.5)


def test_training_batch_with_augmentation_differs_only_in_the_digits():
    x, labels = load_sample()
    images = (x[:, 0] * 255).round().to(torch.uint8)
    cfg = quick_config(batch_size=64)
    on = replace(cfg, augment=AugmentConfig(p=1.0))
    schedule = NoiseSchedule.from_config(cfg.schedule)
    a = training_batch(cfg, 5, images, labels, Batcher(len(images), 64, cfg.seed), schedule)
    b = training_batch(on, 5, images, labels, Batcher(len(images), 64, cfg.seed), schedule)
    assert torch.equal(a.t, b.t) and torch.equal(a.noise, b.noise) and torch.equal(a.y, b.y)
    assert not torch.equal(a.x0, b.x0) and b.x0.min() >= -1 and b.x0.max() <= 1


@needs_mnist
def test_init_starts_from_the_given_weights_and_refuses_another_architecture(tmp_path):
    first = train(quick_config(steps=5), tmp_path / "a", progress=False)
    # lr 0: the weights cannot move, so the EMA of the fine-tuned run is the weights it started from
    again = train(quick_config(steps=2, lr=0.0, init=str(first)), tmp_path / "b", progress=False)
    a, _ = load_tensors(first)
    b, _ = load_tensors(again)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # the fine-tune records the run it continued, and the wall time of both
    start, info = load_model(first)[2], load_model(again)[2]
    assert (
        info["init_run"]["sha256"] == sha256_file(first) and info["init_run"]["steps"] == start["steps"] == 5
    )
    assert info["total_wall_time_s"] == pytest.approx(start["wall_time_s"] + info["wall_time_s"], abs=0.11)
    assert "init_run" not in start
    with pytest.raises(ValueError, match="another architecture"):
        train(quick_config(steps=2, init="ddpm"), tmp_path / "c", progress=False)
