"""Interrupted and distributed training: SIGKILL at random moments loses nothing, SIGTERM saves
and exits cleanly, and two gloo workers under torchrun match one process with the same global
batch."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from tinyddpm.checkpoint import load_tensors
from tinyddpm.harness.train import quick_config, train

from .conftest import needs_mnist

pytestmark = [pytest.mark.slow, needs_mnist]


def write_config(path: Path, cfg) -> Path:
    path.write_text(json.dumps(cfg.to_dict()))
    return path


def train_cmd(out: Path, config: Path) -> list[str]:
    return [sys.executable, "-m", "tinyddpm", "train", "--out", str(out), "--config", str(config), "--quiet"]


def same_weights(a: Path, b: Path, atol: float = 0.0) -> None:
    ta, _ = load_tensors(a)
    tb, _ = load_tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        if atol == 0.0:
            assert torch.equal(ta[k], tb[k]), k
        else:
            assert torch.allclose(ta[k], tb[k], atol=atol, rtol=0), (k, float((ta[k] - tb[k]).abs().max()))


def _state_step(run: Path) -> int:
    try:
        return load_tensors(run / "state.safetensors")[1]["step"]
    except Exception:  # not written yet
        return 0


def test_sigkill_at_random_moments_then_resume_is_bit_for_bit(tmp_path):
    cfg = quick_config(steps=60, checkpoint_every=1)  # a checkpoint write at every step
    config = write_config(tmp_path / "cfg.json", cfg)
    reference = train(cfg, tmp_path / "ref", progress=False)
    run = tmp_path / "run"
    rng = random.Random(0)
    kills, steps_at_kill = 0, []
    while not (run / "ema.safetensors").exists():
        start = _state_step(run)
        proc = subprocess.Popen(train_cmd(run, config), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if kills < 3:
            deadline = time.time() + 120
            while _state_step(run) <= start and proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)  # wait until this sitting has made progress
            time.sleep(rng.uniform(0.0, 0.3))  # then kill mid-step or mid-write
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
                steps_at_kill.append(_state_step(run))
        proc.wait(timeout=300)
        assert kills <= 3 and len(steps_at_kill) == kills
    assert kills == 3 and steps_at_kill == sorted(steps_at_kill) and steps_at_kill[-1] < 60
    assert not list(run.glob(".*.tmp"))  # temporary files of killed writes are cleaned up on resume
    same_weights(reference, run / "ema.safetensors")


def test_sigterm_saves_state_and_exits_cleanly(tmp_path):
    cfg = quick_config(steps=100000, checkpoint_every=100000)
    config = write_config(tmp_path / "cfg.json", cfg)
    proc = subprocess.Popen(
        train_cmd(tmp_path / "run", config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.time() + 120
    while not (tmp_path / "run" / "log.csv").exists() and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "state saved" in out and "Traceback" not in err
    _, header = load_tensors(tmp_path / "run" / "state.safetensors")
    assert header["step"] > 0


def test_sigint_saves_state_exits_cleanly_and_resumes(tmp_path):
    # no periodic checkpoint before the end: a state file at step < 50 can only be the one SIGINT saved
    cfg = quick_config(steps=50, checkpoint_every=1000)
    config = write_config(tmp_path / "cfg.json", cfg)
    run = tmp_path / "run"
    proc = subprocess.Popen(train_cmd(run, config), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (run / "log.csv").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)  # log.csv appears once the handlers are installed, just before the first step
    time.sleep(0.1)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)  # what Ctrl+C sends
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (
        err
    )  # the same clean exit as SIGTERM (130 only if hit before training starts)
    assert "state saved" in out and "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not list(run.glob(".*.tmp"))
    stopped = _state_step(run)
    assert 1 <= stopped < cfg.steps
    # a stopped run leaves the EMA weights of the step it stopped at, marked incomplete
    from tinyddpm.checkpoint import load_model

    info = load_model(run / "ema.safetensors")[2]
    assert info["steps"] == stopped and info["complete"] is False
    log = (run / "log.csv").read_text().splitlines()
    assert [int(r.split(",")[0]) for r in log[1:]] == list(
        range(1, stopped + 1)
    )  # every step logged, none twice

    with_bar = [c for c in train_cmd(run, config) if c != "--quiet"]
    r = subprocess.run(with_bar, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and "EMA weights" in r.stdout, r.stderr
    first_bar = next(s for s in r.stderr.replace("\r", "\n").splitlines() if f"/{cfg.steps}" in s)
    assert f"| {stopped}/{cfg.steps} " in first_bar, first_bar  # resumed at the saved step, not restarted
    resumed = (run / "log.csv").read_text().splitlines()
    assert resumed[: stopped + 1] == log  # rows up to the saved step kept as written
    assert [int(r.split(",")[0]) for r in resumed[1:]] == list(range(1, cfg.steps + 1))
    same_weights(
        train(cfg, tmp_path / "ref", progress=False), run / "ema.safetensors"
    )  # as if never interrupted


def test_two_gloo_workers_match_one_process(tmp_path):
    cfg = replace(quick_config(steps=8, checkpoint_every=4), amp=False)
    config = write_config(tmp_path / "cfg.json", cfg)
    single = train(cfg, tmp_path / "single", progress=False)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "tinyddpm",
        "train",
        "--out",
        str(tmp_path / "ddp"),
        "--config",
        str(config),
        "--quiet",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    # same data, same noise, gradients averaged over the two halves of each global batch:
    # equal up to float32 summation order
    same_weights(single, tmp_path / "ddp" / "ema.safetensors", atol=1e-5)
    log_single = [r.split(",")[1] for r in (tmp_path / "single" / "log.csv").read_text().splitlines()[1:]]
    log_ddp = [r.split(",")[1] for r in (tmp_path / "ddp" / "log.csv").read_text().splitlines()[1:]]
    assert [round(float(a), 4) for a in log_single] == [round(float(b), 4) for b in log_ddp]
