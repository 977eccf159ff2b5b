"""Does augmentation close the other-writers gap, and what does it cost on MNIST?

Two fine-tuning runs of the shipped ``ddpm`` of equal length, the same recipe but one switch:
``plain`` (MNIST training digits as they are) and ``augmented`` (half of each batch through
:func:`tinyddpm.harness.augment.augment`: rotation, scale, shear, shift, and a thicker, thinner or
softer stroke). The plain run is the control: it separates what augmentation does from what
600 more steps at a small learning rate do. Each model, and the shipped one, then denoises
(posterior mean, true sigma) all 10,000 MNIST test digits at sigma 0.1, 0.2, 0.3, 0.5 and the
700 held-out digits of the other set (``benchmarks/other_writers.py``) at sigma 0.2, 0.3.

    python benchmarks/augment_finetune.py   # two runs of 600 steps in runs/finetune_*, then the table

Writes ``src/tinyddpm/harness/results/augment_finetune.json``. Rule (issue 12): the augmented model is
shipped only if its MNIST PSNR drops by less than 0.1 dB at every sigma.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import torch
from other_writers import held_out_and_judge, measure

from tinyddpm.checkpoint import load_model, pretrained
from tinyddpm.data import load_mnist, pixels
from tinyddpm.denoise import denoise
from tinyddpm.harness.augment import AugmentConfig
from tinyddpm.harness.evaluate import machine, noisy_set
from tinyddpm.harness.train import TrainConfig, train
from tinyddpm.metrics import psnr

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
MNIST_SIGMAS = (0.1, 0.2, 0.3, 0.5)
BASE = replace(TrainConfig(), init="ddpm", steps=600, lr=2e-4, warmup_steps=50, checkpoint_every=100)
RECIPES = {"plain": BASE, "augmented": replace(BASE, augment=AugmentConfig(p=0.5))}


def mnist_psnr(model: torch.nn.Module, schedule, x: torch.Tensor) -> dict[str, float]:
    """Posterior-mean PSNR on the test digits ``x`` per sigma (noise: ``noisy_set``, seed 0)."""
    out = {}
    for sigma in MNIST_SIGMAS:
        y = noisy_set(x, sigma, seed=0)
        out[str(sigma)] = round(float(psnr(denoise(y, sigma, model=model, schedule=schedule), x).mean()), 3)
    return out


def main() -> dict:
    runs = {}
    for name, cfg in RECIPES.items():
        path = train(cfg, ROOT / "runs" / f"finetune_{name}", progress=False)
        runs[name] = load_model(path)
    t0 = time.perf_counter()
    x_other, y_other, judge, judge_info = held_out_and_judge(quick=False)
    x_mnist = pixels(load_mnist(train=False)[0])  # (10000, 1, 28, 28)
    models = {"shipped": pretrained("ddpm"), **{k: (m, s) for k, (m, s, _) in runs.items()}}
    rows = {}
    for name, (model, schedule) in models.items():
        rows[name] = {
            "mnist_psnr": mnist_psnr(model, schedule, x_mnist),
            "other": measure(x_other, y_other, judge, model=model, schedule=schedule),
        }
        if name in runs:
            rows[name]["run"] = {k: runs[name][2][k] for k in ("steps", "wall_time_s", "images_seen")}
    for name in runs:
        rows[name]["mnist_change_db"] = {
            s: round(rows[name]["mnist_psnr"][s] - rows["shipped"]["mnist_psnr"][s], 3)
            for s in rows[name]["mnist_psnr"]
        }
    aug = rows["augmented"]["mnist_change_db"]
    result = {
        "_command": "python benchmarks/augment_finetune.py",
        "_machine": machine(),
        "_what": __doc__.split("\n\n")[1].strip(),
        "recipes": {k: v.to_dict() for k, v in RECIPES.items()},
        "judge": judge_info,
        "models": rows,
        "ship_augmented": bool(all(d > -0.1 for d in aug.values())),
        "_seconds_evaluation": round(time.perf_counter() - t0, 1),
    }
    out = RESULTS / "augment_finetune.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    for name, r in rows.items():
        other = " ".join(
            f"{o['psnr_posterior_mean']:.2f}/{100 * o['accuracy_posterior_mean']:.1f}%" for o in r["other"]
        )
        print(f"{name:>10} MNIST {r['mnist_psnr']}  other (PSNR/identity at 0.2, 0.3): {other}")
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    main()
