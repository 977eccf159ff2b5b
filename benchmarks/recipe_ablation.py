"""Which training recipe improves the shipped model: an ablation at equal steps (issue 13).

Every candidate continues the same start, the ``ddpm`` that 78 min of today's recipe made and that
the package shipped before this study, for the same 600 steps
of batch 128 (learning rate 2e-4, 50 warm-up steps, cosine decay; about 7 min each on 2 cores),
so the table compares recipes at equal wall time on top of one starting point. The winner runs
once more for 1,000 steps (``FINAL``, about 10 min), so that the start and it together stay
within a 90-minute budget. The candidates:

- ``today``: today's recipe unchanged (the control: what 600 more steps alone do);
- ``min_snr_5`` / ``min_snr_20``: Min-SNR-gamma loss weighting (Hang et al. 2023), which caps
  the epsilon loss's factor SNR_t = 1 / s^2 on the x0 error at gamma;
- ``sigma_share_0.8``: 80 % of each batch at log-uniform pixel sigma in [0.02, 1] (today 50 %);
- ``min_snr_20_share_0.8``: both;
- ``p_uncond_0.5``: the null label on half of the batches (today 10 %). ``denoise`` without a
  label and unconditional sampling both run the null-label path, which today's recipe trains on
  a tenth of the images (the shipped model's unconditional DDIM-50 FID is 169, its class-
  conditional one at guidance 1 is 21, on the same 1,000 seeds).

Each model, and the shipped one, is scored on the 1,000 bundled test digits (posterior mean at
the true sigma, every benchmark sigma; noise ``noisy_set`` seed 0) and by classifier-feature FID
of 1,000 unconditional DDIM-50 digits against the 10,000 test digits (floor: 1,000 training
digits). The winner is the candidate with the best smallest gain over the start across sigma
0.1-0.5; it ships only if it then beats the start at every sigma on all 10,000 test digits
(``python benchmarks/models.py``).

    tinyddpm train --out runs/ddpm                  # the start (78 min), if runs/ddpm is not there
    python benchmarks/recipe_ablation.py            # every candidate in runs/recipe_*, then the table
    python benchmarks/recipe_ablation.py --only p_uncond_0.5_1000_steps   # the winner, longer
    python benchmarks/recipe_ablation.py --only today min_snr_5

Writes ``src/tinyddpm/harness/results/recipe_ablation.json`` (merged: a second call adds its candidates).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import torch

from tinyddpm.checkpoint import load_model, pretrained
from tinyddpm.data import load_mnist, load_sample, pixels
from tinyddpm.denoise import denoise
from tinyddpm.harness.evaluate import generated_digits, generation_scores, machine, noisy_set
from tinyddpm.harness.train import TrainConfig, train
from tinyddpm.metrics import classifier_features, psnr
from tinyddpm.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "tinyddpm" / "harness" / "results" / "recipe_ablation.json"
SIGMAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75)
HEADLINE = ("0.1", "0.2", "0.3", "0.5")  # the sigmas the winner must improve
FID_COUNT, FID_STEPS = 1000, 50
# the start: today's recipe, 78 min (``tinyddpm train --out runs/ddpm``; sha256 5f6b09fa7cbebc39...,
# the ddpm shipped before this study); runs/ddpm/ema.safetensors is that file
START = ROOT / "runs" / "ddpm" / "ema.safetensors"
BASE = replace(TrainConfig(), init=str(START), steps=600, lr=2e-4, warmup_steps=50, checkpoint_every=100)
RECIPES = {
    "today": BASE,
    "min_snr_5": replace(BASE, weighting="min_snr", snr_gamma=5.0),
    "min_snr_20": replace(BASE, weighting="min_snr", snr_gamma=20.0),
    "sigma_share_0.8": replace(BASE, sigma_share=0.8),
    "min_snr_20_share_0.8": replace(BASE, weighting="min_snr", snr_gamma=20.0, sigma_share=0.8),
    "p_uncond_0.5": replace(BASE, p_uncond=0.5),
}
# the winner again for 1,000 steps: 78 min + this run stays within the 90-minute budget; not a
# candidate (longer than the others), the model that ships if it beats the start at every sigma
FINAL = {"p_uncond_0.5_1000_steps": replace(RECIPES["p_uncond_0.5"], steps=1000)}


def measure(model: torch.nn.Module, schedule, x: torch.Tensor, classifier, f_test) -> dict:
    """Posterior-mean PSNR per sigma on ``x`` and FID / class counts of unconditional samples."""
    pm = {}
    for sigma in SIGMAS:
        out = denoise(noisy_set(x, sigma, seed=0), sigma, model=model, schedule=schedule)
        pm[str(sigma)] = round(float(psnr(out, x).mean()), 3)
    images, seconds = generated_digits(model, schedule, FID_COUNT, steps=FID_STEPS)
    return {"posterior_mean_psnr": pm, "fid_ddim50": generation_scores(classifier, images, f_test)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=[*RECIPES, *FINAL], help="run just these")
    args = ap.parse_args(argv)
    result = json.loads(OUT.read_text()) if OUT.exists() else {"candidates": {}}
    classifier = pretrained("classifier")[0].eval()
    f_test = classifier_features(classifier, pixels(load_mnist(train=False)[0]))
    x, _ = load_sample()
    if "start" not in result:
        train_x = load_mnist(train=True)[0]
        pick = torch.randperm(len(train_x), generator=seeded(99))[:FID_COUNT]
        floor = generation_scores(classifier, pixels(train_x[pick]), f_test)
        result["fid_floor_train"] = floor
        result["start"] = measure(*load_model(START)[:2], x, classifier, f_test)
    recipes = {**RECIPES, **FINAL}
    for name in args.only or list(RECIPES):
        path = train(recipes[name], ROOT / "runs" / f"recipe_{name}", progress=False)
        model, schedule, info = load_model(path)
        t0 = time.perf_counter()
        row = measure(model, schedule, x, classifier, f_test)
        row["run"] = {k: info[k] for k in ("steps", "wall_time_s", "images_seen")}
        row["config"] = recipes[name].to_dict()
        row["change_db"] = {
            s: round(row["posterior_mean_psnr"][s] - result["start"]["posterior_mean_psnr"][s], 3)
            for s in row["posterior_mean_psnr"]
        }
        row["seconds_scoring"] = round(time.perf_counter() - t0, 1)
        result.setdefault("final" if name in FINAL else "candidates", {})[name] = row
        print(f"{name:>22} {row['change_db']} fid {row['fid_ddim50']['fid']}", flush=True)
        result.update(
            _command="python benchmarks/recipe_ablation.py",
            _machine=machine(),
            _what=__doc__.split("\n\n")[1].strip(),
        )
        OUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    scores = {k: min(v["change_db"][s] for s in HEADLINE) for k, v in result["candidates"].items()}
    result["winner"] = max(scores, key=scores.get)
    OUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"winner {result['winner']} (smallest gain {scores[result['winner']]:+.3f} dB) -> {OUT}")
    return result


if __name__ == "__main__":
    main()
