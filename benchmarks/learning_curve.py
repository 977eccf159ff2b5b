"""Score the EMA weights of a training run's latest state on the bundled sample, so a run's
learning curve can be followed while it trains (appends one row per call to RUN/curve.csv).

    python benchmarks/learning_curve.py runs/ddpm
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run", type=Path)
    args = ap.parse_args()
    tensors, header = load_tensors(args.run / STATE_FILE)
    cfg = TrainConfig.from_dict(header["train_config"])
    model = UNet(cfg.unet)  # TrainConfig.from_dict builds the nested UNetConfig
    model.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    model.eval()
    schedule = NoiseSchedule.from_config(cfg.schedule)
    x, _ = load_sample()
    scores = evaluate_denoiser(lambda y, s: denoise(y, s, model=model, schedule=schedule), x, SIGMAS)
    row = [header["step"], round(header["elapsed_s"], 1)] + [scores[str(s)]["psnr"] for s in SIGMAS]
    path = args.run / "curve.csv"
    new = not path.exists()
    with open(path, "a", newline="") as f:
        w = csv.writer(f)
        if new:
            w.writerow(["step", "elapsed_s"] + [f"psnr@{s}" for s in SIGMAS])
        w.writerow(row)
    print(dict(zip(["step", "elapsed_s"] + [f"psnr@{s}" for s in SIGMAS], row)))


if __name__ == "__main__":
    main()
