"""Training: it learns, it resumes bit for bit, it refuses a mismatched resume, it owns its folder,
and its loss is the package's one loss."""

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tinyddpm import diffusion
from tinyddpm.checkpoint import CheckpointError, load_model, load_tensors
from tinyddpm.cli import build_parser, train_config_from_args
from tinyddpm.harness.augment import AugmentConfig
from tinyddpm.harness.runs import RunBusyError, RunFolder
from tinyddpm.harness.train import (
    Batch,
    TrainConfig,
    learning_rate,
    quick_config,
    sample_timesteps,
    supervised_config,
    train,
    train_step,
)
from tinyddpm.schedules import NoiseSchedule, ScheduleConfig
from tinyddpm.seeding import derived_seed
from tinyddpm.unet import UNet, UNetConfig

from .conftest import needs_mnist


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


def test_sigma_share_moves_the_mixture_between_uniform_t_and_log_uniform_sigma():
    s = NoiseSchedule.cosine(1000)

    def draw(cfg: TrainConfig) -> torch.Tensor:
        return sample_timesteps(cfg, s, 4000, torch.Generator().manual_seed(5))

    assert torch.equal(draw(TrainConfig(sigma_share=0.0)), draw(TrainConfig(t_sampling="uniform")))
    sig = s.sigma_from_t(draw(TrainConfig(sigma_share=1.0))) / 2  # pixel units
    assert float(sig.min()) >= 0.02 - 1e-9 and float(sig.max()) <= 1.0 + 1e-9
    # log-uniform: the lower half of the log-range holds half the draws
    assert float((sig < (0.02 * 1.0) ** 0.5).double().mean()) == pytest.approx(0.5, abs=0.03)
    for bad in (dict(sigma_share=1.5), dict(weighting="snr"), dict(snr_gamma=0.0)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)


def test_lognormal_draws_ln_sigma_from_the_normal_of_karras_et_al():
    """t_sampling="lognormal": ln s ~ N(P_mean, P_std^2) in model units, mapped to t* exactly
    (clamped only above the schedule's largest sigma, here far in the tail)."""
    s = NoiseSchedule.cosine(1000)
    t = sample_timesteps(TrainConfig(t_sampling="lognormal"), s, 20000, torch.Generator().manual_seed(1))
    ln_s = torch.log(s.sigma_from_t(t))
    assert float(ln_s.mean()) == pytest.approx(-1.2, abs=0.03)
    assert float(ln_s.std()) == pytest.approx(1.2, abs=0.03)
    # the share of draws in pixel sigma 0.1-0.5 (model 0.2-1.0): Phi(1) - Phi((ln 0.2 + 1.2) / 1.2)
    share = float(((ln_s > math.log(0.2)) & (ln_s < 0.0)).double().mean())
    phi = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    assert share == pytest.approx(phi(1.0) - phi((math.log(0.2) + 1.2) / 1.2), abs=0.01)
    with pytest.raises(ValueError, match="lognormal"):
        TrainConfig(t_sampling="karras")


def test_derived_seeds_are_pinned():
    """Golden values: a change to the hash would silently break every resume and every seeded result."""
    assert derived_seed(0, "step", 0) == 1448036938950931792
    assert derived_seed(0, "step", 1) == derived_seed(0, "step", 1) != derived_seed(0, "step", 2)
    assert derived_seed(7, "epoch", 3) == int.from_bytes(
        __import__("hashlib").sha256(b"7:epoch:3").digest()[:8], "little"
    ) & ((1 << 63) - 1)


@needs_mnist
def test_training_lowers_the_loss_and_writes_a_loadable_model(tmp_path):
    cfg = quick_config(steps=60, lr=2e-3)
    path = train(cfg, tmp_path, progress=False)
    model, schedule, info = load_model(path)
    assert schedule.kind == "cosine" and info["steps"] == 60
    rows = (tmp_path / "log.csv").read_text().splitlines()[1:]
    losses = [float(r.split(",")[1]) for r in rows]
    assert len(losses) == 60
    assert sum(losses[-10:]) / 10 < 0.6 * sum(losses[:5]) / 5


@needs_mnist
def test_resume_is_bit_for_bit(tmp_path):
    cfg = quick_config(steps=12, checkpoint_every=4)
    straight = train(cfg, tmp_path / "a", progress=False)
    # stop after ~0 minutes: the run saves state at the first step and returns
    partial = train(cfg, tmp_path / "b", progress=False, max_minutes=0.0)
    state, header = load_tensors(tmp_path / "b" / "state.safetensors")
    assert 0 < header["step"] < 12
    # a stopped run leaves the EMA weights of its last step, marked incomplete, usable as a model
    _, schedule, info = load_model(partial)
    assert schedule is not None and info["steps"] == header["step"] and info["complete"] is False
    resumed = train(cfg, tmp_path / "b", progress=False)
    a, _ = load_tensors(straight)
    b, _ = load_tensors(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    log_a = (tmp_path / "a" / "log.csv").read_text().splitlines()
    log_b = (tmp_path / "b" / "log.csv").read_text().splitlines()
    assert [r.split(",")[:3] for r in log_a] == [r.split(",")[:3] for r in log_b]


@needs_mnist
def test_resume_with_another_config_is_refused(tmp_path):
    cfg = quick_config(steps=4)
    train(cfg, tmp_path, progress=False, max_minutes=0.0)
    with pytest.raises(CheckpointError, match="different TrainConfig"):
        train(replace(cfg, lr=5e-3), tmp_path, progress=False)


@needs_mnist
def test_resume_may_change_the_number_of_steps(tmp_path):
    """More steps continue the run; fewer (at or below the step reached) only write the weights."""
    cfg = quick_config(steps=6, checkpoint_every=3)
    first = train(cfg, tmp_path, progress=False)
    assert load_model(first)[2]["steps"] == 6
    more = train(replace(cfg, steps=9), tmp_path, progress=False)
    assert load_model(more)[2]["steps"] == 9 and load_model(more)[2]["complete"] is True
    fewer = train(replace(cfg, steps=4), tmp_path, progress=False)
    assert load_model(fewer)[2]["steps"] == 9  # nothing undone: the state of step 9, complete
    rows = (tmp_path / "log.csv").read_text().splitlines()[1:]
    assert [int(r.split(",")[0]) for r in rows] == list(range(1, 10))


def test_train_step_minimises_diffusion_loss_exactly():
    """train_step's loss is diffusion.loss (fp32, no autocast): same value on the same batch."""
    cfg = replace(quick_config(), amp=False, grad_clip=0.0)
    schedule = NoiseSchedule.from_config(cfg.schedule)
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model, ema = UNet(cfg.unet), UNet(cfg.unet)
    x0 = torch.rand(8, 1, 28, 28, generator=g) * 2 - 1
    b = Batch(
        x0,
        torch.rand(8, generator=g, dtype=torch.float64) * 1000,
        torch.randn(8, 1, 28, 28, generator=g),
        torch.randint(0, 11, (8,), generator=g),
    )
    expected = diffusion.loss(model, b.x0, b.t, b.noise, schedule, b.y).detach()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    got = train_step(model, ema, opt, b, schedule, cfg, step=0)
    assert not got.requires_grad
    assert float(got) == pytest.approx(float(expected), rel=1e-6)
    # the EMA moved toward the new weights by 1 - min(decay, 1/10) = 0.9 of the step
    after = diffusion.loss(model, b.x0, b.t, b.noise, schedule, b.y)
    assert float(after.detach()) < float(expected)


def test_train_config_round_trips_non_default_values_and_is_strict():
    cfg = TrainConfig(
        steps=7,
        sigma_range=(0.05, 0.5),
        amp=False,
        train_limit=100,
        objective="supervised",
        schedule=ScheduleConfig("cosine", 500, s=0.02),
        unet=UNetConfig(base_channels=8, groups=4, channel_mults=(1, 3), num_classes=None),
        augment=AugmentConfig(p=0.25, scale=(0.9, 1.2)),
        loss="l1",
        init="ddpm",
    )
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.schedule.s == 0.02 and again.unet.channel_mults == (1, 3)
    assert again.augment.scale == (0.9, 1.2) and again.init == "ddpm" and again.loss == "l1"
    with pytest.raises(ValueError, match="'stpes'"):
        TrainConfig.from_dict({"stpes": 3})
    with pytest.raises(ValueError, match="UNetConfig field 'width'"):
        TrainConfig.from_dict({"unet": {"width": 3}})
    with pytest.raises(TypeError, match="TrainConfig.steps"):
        TrainConfig.from_dict({"steps": "many"})
    with pytest.raises(ValueError, match="unknown objective"):
        TrainConfig(objective="gan")


def test_cli_flags_apply_on_top_of_a_config_file(tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(quick_config(steps=5).to_dict()))
    args = build_parser().parse_args(
        ["train", "--out", "x", "--config", str(path), "--supervised-sigma", "0.4", "--T", "300"]
    )
    cfg = train_config_from_args(args)
    assert cfg.objective == "supervised" and cfg.supervised_sigma == 0.4 and cfg.steps == 5
    assert cfg.schedule == ScheduleConfig("cosine", 300)
    plain = train_config_from_args(
        build_parser().parse_args(["train", "--out", "x", "--supervised-sigma", "0.2"])
    )
    assert plain == supervised_config(0.2)


def test_a_second_run_in_the_same_folder_is_refused_and_a_dead_holder_does_not_block(tmp_path):
    cfg = quick_config()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from tinyddpm.harness.runs import RunFolder;"
            " from tinyddpm.harness.train import quick_config;"
            "run = RunFolder(sys.argv[1], quick_config()); run.acquire();"
            "print('held', flush=True); time.sleep(60)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(RunBusyError, match=f"in use by another training run \\(pid {holder.pid}\\)"):
            RunFolder(tmp_path, cfg).acquire()
        r = subprocess.run(
            [sys.executable, "-m", "tinyddpm", "train", "--out", str(tmp_path), "--steps", "3", "--quiet"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and str(holder.pid) in r.stderr, r.stderr
        assert sorted(p.name for p in tmp_path.iterdir()) == [".lock"]  # nothing touched
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    run = RunFolder(tmp_path, cfg)  # the lock file is still there, its holder is dead: no block
    run.acquire()
    assert (tmp_path / ".lock").read_text() == str(os.getpid())
    run.release()


@needs_mnist
def test_two_trainings_started_together_one_runs_one_is_refused(tmp_path):
    config = tmp_path / "cfg.json"
    config.write_text(json.dumps(quick_config(steps=40, checkpoint_every=10).to_dict()))
    cmd = [
        sys.executable,
        "-m",
        "tinyddpm",
        "train",
        "--out",
        str(tmp_path / "run"),
        "--config",
        str(config),
        "--quiet",
    ]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    time.sleep(0.5)
    procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 2], results
    refused = next(r for r in results if r[2] == 2)
    assert "in use by another training run" in refused[1]
    steps = [line.split(",")[0] for line in (tmp_path / "run" / "log.csv").read_text().splitlines()[1:]]
    assert steps == [str(i) for i in range(1, 41)]  # one writer: every step once, in order


def test_the_recipe_file_is_a_training_config():
    """benchmarks/recipes/ddpm.json (the README's command) loads as a TrainConfig that differs
    from the default recipe in what its README line says, and nothing it does not name."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "recipes" / "ddpm.json"
    given = json.loads(path.read_text())
    cfg = TrainConfig.from_dict(given)
    assert (cfg.steps, cfg.p_uncond, cfg.augment.p) == (7000, 0.5, 0.2)
    default = TrainConfig().to_dict()
    assert {k for k, v in cfg.to_dict().items() if v != default[k]} == set(given)
