"""L1 or L2 on the noise: what the student's loss does to the posterior mean.

Tweedie's formula needs E[eps | x_t]: the minimiser of the L2 loss (L_simple, Ho et al. 2020).
The student trained with the L1 loss, whose minimiser is the per-pixel conditional *median* of
eps. Two runs of the shipped recipe from scratch, equal in everything but the loss
(``TrainConfig(loss="l1")``), for the same short budget; then the one-step posterior mean of
each on the 1,000 bundled test digits at sigma 0.1, 0.2, 0.3, 0.5: PSNR, identity (the shipped
classifier), and the mean output on the clean digit's background pixels (x = 0) and ink pixels
(x = 1), where the posterior of x0 is one-sided and its median and mean part ways.

    python benchmarks/l1_vs_l2.py    # two runs of 500 steps in runs/loss_*, ~12 min on 2 cores

Writes ``src/tinyddpm/harness/results/l1_vs_l2.json``.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

from tinyddpm.checkpoint import load_model, pretrained
from tinyddpm.data import load_sample
from tinyddpm.denoise import denoise
from tinyddpm.harness.evaluate import machine, noisy_set, score
from tinyddpm.harness.train import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
SIGMAS = (0.1, 0.2, 0.3, 0.5)
BASE = replace(TrainConfig(), steps=500, checkpoint_every=100)
RECIPES = {"l2": BASE, "l1": replace(BASE, loss="l1")}


def main() -> dict:
    runs = {
        name: load_model(train(cfg, ROOT / "runs" / f"loss_{name}", progress=False))
        for name, cfg in RECIPES.items()
    }
    x, labels = load_sample()
    background, ink = x == 0, x >= 254 / 255  # the clean digit's black background and saturated ink
    classifier = pretrained("classifier")[0]
    t0 = time.perf_counter()
    rows = {}
    for name, (model, schedule, info) in runs.items():
        per_sigma = {}
        for sigma in SIGMAS:
            out = denoise(noisy_set(x, sigma), sigma, model=model, schedule=schedule)
            per_sigma[str(sigma)] = {
                **score(out, x, labels=labels, classifier=classifier),
                "mean_on_background": round(float(out[background].mean()), 4),
                "mean_on_ink": round(float(out[ink].mean()), 4),
            }
        rows[name] = {
            "run": {k: info[k] for k in ("steps", "wall_time_s", "images_seen")},
            "posterior_mean": per_sigma,
        }
    result = {
        "_command": "python benchmarks/l1_vs_l2.py",
        "_machine": machine(),
        "_what": __doc__.split("\n\n")[1].strip(),
        "recipes": {k: v.to_dict() for k, v in RECIPES.items()},
        "digits": len(x),
        "models": rows,
        "_seconds_evaluation": round(time.perf_counter() - t0, 1),
    }
    out = RESULTS / "l1_vs_l2.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    for name, r in rows.items():
        print(
            name,
            {
                s: (v["psnr"], v["identity"], v["mean_on_background"], v["mean_on_ink"])
                for s, v in r["posterior_mean"].items()
            },
        )
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    main()
