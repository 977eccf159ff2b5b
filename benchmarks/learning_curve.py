"""Score the EMA weights of a training run's states on the bundled sample: a run's learning curve.

    python benchmarks/learning_curve.py runs/ddpm     # the latest state, appended to runs/ddpm/curve.csv
    python benchmarks/learning_curve.py runs/ddpm_snap/state_*.safetensors \\
        --out src/tinyddpm/harness/results/ddpm_learning_curve.csv   # saved states, a row each, by step

A run keeps one resumable state (``state.safetensors``, overwritten every ``checkpoint_every``
steps); to draw a curve after the run, copy it aside while the run trains (the shipped model's
states were copied every 500 steps).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from tinyddpm.checkpoint import load_tensors
from tinyddpm.data import load_sample
from tinyddpm.denoise import denoise
from tinyddpm.harness.evaluate import TEST_SIGMAS, evaluate_denoiser
from tinyddpm.harness.runs import STATE_FILE
from tinyddpm.harness.train import TrainConfig
from tinyddpm.schedules import NoiseSchedule
from tinyddpm.unet import UNet

SIGMAS = TEST_SIGMAS  # the noise levels of MODELS.md, which shows this curve
HEADER = ["step", "elapsed_s"] + [f"psnr@{s}" for s in SIGMAS]


def curve_row(state: Path) -> list:
    """[step, elapsed seconds, posterior-mean PSNR at each of SIGMAS] for the EMA weights in ``state``."""
    tensors, header = load_tensors(state)
    cfg = TrainConfig.from_dict(header["train_config"])
    model = UNet(cfg.unet)  # TrainConfig.from_dict builds the nested UNetConfig
    model.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    model.eval()
    schedule = NoiseSchedule.from_config(cfg.schedule)
    x, _ = load_sample()
    scores = evaluate_denoiser(lambda y, s: denoise(y, s, model=model, schedule=schedule), x, SIGMAS)
    return [header["step"], round(header["elapsed_s"], 1)] + [scores[str(s)]["psnr"] for s in SIGMAS]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paths", type=Path, nargs="+", help="run folders (their latest state) or saved states")
    ap.add_argument("--out", type=Path, help="write all rows to this CSV (default: append to RUN/curve.csv)")
    args = ap.parse_args()
    states = [p / STATE_FILE if p.is_dir() else p for p in args.paths]
    rows = sorted((curve_row(s) for s in states), key=lambda r: r[0])
    for row in rows:
        print(dict(zip(HEADER, row)), flush=True)
    if args.out is not None:
        with open(args.out, "w", newline="") as f:
            csv.writer(f).writerows([HEADER] + rows)
        return
    for p, row in zip(args.paths, rows):
        path = (p if p.is_dir() else p.parent) / "curve.csv"
        new = not path.exists()
        with open(path, "a", newline="") as f:
            w = csv.writer(f)
            if new:
                w.writerow(HEADER)
            w.writerow(row)


if __name__ == "__main__":
    main()
