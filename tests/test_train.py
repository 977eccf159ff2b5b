"""Training: it learns, it resumes bit for bit, it refuses a mismatched resume."""

from dataclasses import replace

import pytest
import torch

from tinyddpm.checkpoint import CheckpointError, load_model, load_tensors
from tinyddpm.schedules import NoiseSchedule
from tinyddpm.train import TrainConfig, derived_seed, learning_rate, quick_config, sample_timesteps, train

from .conftest import has_mnist

pytestmark = pytest.mark.skipif(not has_mnist(), reason="MNIST not available (set TINYDDPM_DATA)")


def test_learning_rate_schedule():
    cfg = TrainConfig(steps=1000, warmup_steps=100, lr=1e-3, min_lr_ratio=0.1)
    assert learning_rate(cfg, 0) == pytest.approx(1e-5)
    assert learning_rate(cfg, 99) == pytest.approx(1e-3)
    assert learning_rate(cfg, 1000) == pytest.approx(1e-4)
    lrs = [learning_rate(cfg, s) for s in range(100, 1001)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))


def test_timestep_sampling_covers_both_parts():
    s = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(0)
    t = sample_timesteps(TrainConfig(), s, 20000, g)
    assert float(t.min()) > 0 and float(t.max()) <= 1000
    lo, hi = float(s.t_from_sigma(0.04)), float(s.t_from_sigma(2.0))
    inside = ((t >= lo) & (t <= hi)).float().mean()
    uniform_share = (hi - lo) / 1000
    assert float(inside) == pytest.approx(0.5 + 0.5 * uniform_share, abs=0.02)


def test_derived_seeds_are_stable():
    assert derived_seed(0, "step", 1) == derived_seed(0, "step", 1) != derived_seed(0, "step", 2)


def test_training_lowers_the_loss_and_writes_a_loadable_model(tmp_path):
    cfg = quick_config(steps=60, lr=2e-3)
    path = train(cfg, tmp_path, progress=False)
    model, schedule, info = load_model(path)
    assert schedule.kind == "cosine" and info["steps"] == 60
    rows = (tmp_path / "log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[1]) for r in rows]
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:5]) / 5


def test_resume_is_bit_for_bit(tmp_path):
    cfg = quick_config(steps=12, checkpoint_every=4)
    straight = train(cfg, tmp_path / "a", progress=False)
    # stop after ~0 minutes: the run saves state at the first step and returns
    partial = train(cfg, tmp_path / "b", progress=False, max_minutes=0.0)
    assert not partial.exists()
    state, header = load_tensors(tmp_path / "b" / "state.safetensors")
    assert 0 < header["step"] < 12
    resumed = train(cfg, tmp_path / "b", progress=False)
    a, _ = load_tensors(straight)
    b, _ = load_tensors(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log_a = (tmp_path / "a" / "log.csv").read_text().splitlines()
    log_b = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in log_a] == [r.split(",")[:3] for r in log_b]


def test_resume_with_another_config_is_refused(tmp_path):
    cfg = quick_config(steps=4)
    train(cfg, tmp_path, progress=False, max_minutes=0.0)
    with pytest.raises(CheckpointError, match="different TrainConfig"):
        train(replace(cfg, lr=5e-3), tmp_path, progress=False)
