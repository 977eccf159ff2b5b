"""Training throughput: images/s of one training step with bf16 autocast on and off (issue 21).

The shipped recipe (``TrainConfig()``: batch 128, the 1.5 M-parameter U-Net) is timed phase by
phase on the MNIST training set, the same steps for both settings: the batch (indexing, noise,
timesteps, labels: :func:`tinyddpm.harness.train.training_batch`), forward and backward (the loss under
autocast), the optimiser (clipping, AdamW) and the EMA update. ``--steps`` steps are timed after
``--warmup`` untimed ones, in alternating blocks of ``--block`` steps so that a change in the
machine's load hits both settings alike.

    python benchmarks/train_throughput.py            # 3 x 10 timed steps per setting, ~2 min on 2 cores

Writes ``src/tinyddpm/harness/results/train_throughput.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from tinyddpm import diffusion
from tinyddpm.data import Batcher, load_mnist
from tinyddpm.harness.evaluate import machine
from tinyddpm.harness.train import TrainConfig, _build, learning_rate, training_batch
from tinyddpm.schedules import NoiseSchedule

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "tinyddpm" / "harness" / "results" / "train_throughput.json"
PHASES = ("batch", "forward_backward", "optimizer", "ema")


def timed_step(cfg: TrainConfig, step: int, state: dict, times: dict[str, float]) -> None:
    """One training step (what :func:`tinyddpm.harness.train.train_step` does), phase by phase."""
    model, ema, opt, schedule = state["model"], state["ema"], state["opt"], state["schedule"]
    t0 = time.perf_counter()
    b = training_batch(cfg, step, state["images"], state["labels"], state["batcher"], schedule)
    t1 = time.perf_counter()
    for g in opt.param_groups:
        g["lr"] = learning_rate(cfg, step)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.amp):
        loss = diffusion.loss(model, b.x0, b.t, b.noise, schedule, b.y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    t2 = time.perf_counter()
    nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    opt.step()
    t3 = time.perf_counter()
    with torch.no_grad():
        d = min(cfg.ema_decay, (1 + step) / (10 + step))
        for pe, pm in zip(ema.parameters(), model.parameters()):
            pe.lerp_(pm, 1 - d)
    t4 = time.perf_counter()
    for name, dt in zip(PHASES, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
        times[name] += dt


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=30, help="timed steps per setting")
    ap.add_argument("--warmup", type=int, default=3, help="untimed steps per setting first")
    ap.add_argument("--block", type=int, default=10, help="steps per block; the settings alternate")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    images, labels = load_mnist(train=True)
    settings = {}
    for amp in (True, False):
        cfg = replace(TrainConfig(), amp=amp)
        model, ema, opt = _build(cfg, torch.device("cpu"))
        schedule = NoiseSchedule.from_config(cfg.schedule)
        state = dict(model=model, ema=ema, opt=opt, schedule=schedule, images=images, labels=labels)
        state["batcher"] = Batcher(len(images), cfg.batch_size, cfg.seed)
        for k in range(args.warmup):
            timed_step(cfg, k, state, dict.fromkeys(PHASES, 0.0))
        settings[amp] = (cfg, state, dict.fromkeys(PHASES, 0.0), [args.warmup])
    done = 0
    while done < args.steps:  # alternate blocks: both settings see the same machine load
        n = min(args.block, args.steps - done)
        for cfg, state, times, step in settings.values():
            for _ in range(n):
                timed_step(cfg, step[0], state, times)
                step[0] += 1
        done += n
    result = {"_command": "python benchmarks/train_throughput.py", "_machine": machine()}
    result["_what"] = __doc__.split("\n\n")[1].strip()
    result["steps_timed"], result["batch_size"] = args.steps, TrainConfig().batch_size
    for amp, (cfg, _, times, _) in settings.items():
        total = sum(times.values())
        result["bf16_autocast" if amp else "float32"] = {
            "images_per_s": round(args.steps * cfg.batch_size / total, 1),
            "ms_per_step": {k: round(1000 * v / args.steps, 1) for k, v in times.items()},
            "share": {k: round(v / total, 3) for k, v in times.items()},
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    for k in ("bf16_autocast", "float32"):
        print(f"{k:>14}: {result[k]['images_per_s']} images/s, ms per step {result[k]['ms_per_step']}")
    return result


if __name__ == "__main__":
    main()
