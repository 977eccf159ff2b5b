"""Which recipe to train the next ``ddpm`` with: an ablation from scratch at equal steps (issue 21).

Every candidate trains a fresh 1.5 M-parameter U-Net from the same seed for the same number of
steps of batch 128 (``--steps``; equal steps, not equal minutes, so that the machine's load
cannot favour one), on the first 59,000 MNIST training digits. It is scored on digits the runs
never saw and that are not the test set: the last 1,000 training digits (posterior mean at the
true sigma, sigma 0.05-0.75, ``noisy_set`` seed 0), 300 of scikit-learn's digits in MNIST form
(other hands; digits 700-999 of ``benchmarks/other_writers.py``'s seeded order, so its 700
held-out digits stay unseen) at sigma 0.3, and classifier-feature FID of ``--fid`` unconditional
DDIM-50 digits (the null label: the prior that label-free denoising uses) against 10,000
training digits. Each run is scored twice, with its EMA weights and with its raw weights, so the
table also says what the EMA buys at this length. The candidates:

- ``today``: ``TrainConfig()`` as the shipped model was trained (uniform t for half of each
  batch, log-uniform pixel sigma in [0.02, 1] for the other half; null label on 10 %);
- ``uniform``: t uniform on [0, T] for the whole batch (Ho et al. 2020);
- ``lognormal``: ln s ~ N(-1.2, 1.2^2) in model units (Karras et al. 2022);
- ``sigma_share_0.8``: 80 % of each batch log-uniform in pixel sigma (a band-focused mixture);
- ``p_uncond_0.3``: the null label on 30 % of the images;
- ``augment_0.2``: a fifth of the digits under small affine and stroke changes
  (:mod:`tinyddpm.harness.augment`, half of its default ranges), for other people's handwriting.

    python benchmarks/scratch_ablation.py                    # all candidates (each ~13 min on 2 idle cores)
    python benchmarks/scratch_ablation.py --only today lognormal
    python benchmarks/scratch_ablation.py --quick --out /tmp/a.json   # 20 steps, tiny scoring (tests)

Runs live in ``runs/scratch_<name>`` and resume; the table is merged into
``src/tinyddpm/harness/results/scratch_ablation.json`` (a second call adds or replaces its candidates).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from tinyddpm.checkpoint import load_model, load_tensors, pretrained
from tinyddpm.data import load_mnist, pixels
from tinyddpm.denoise import denoise
from tinyddpm.harness.augment import AugmentConfig
from tinyddpm.harness.evaluate import generated_digits, generation_scores, machine, noisy_set
from tinyddpm.harness.runs import STATE_FILE
from tinyddpm.harness.train import TrainConfig, quick_config, train
from tinyddpm.metrics import classifier_features, psnr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from other_writers import other_set  # noqa: E402

OUT = ROOT / "src" / "tinyddpm" / "harness" / "results" / "scratch_ablation.json"
SIGMAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75)
TRAIN_DIGITS = 59_000  # the runs train on these; the last 1,000 training digits score them
STEPS = 1000  # 128,000 images: about 10 minutes of bf16 training on 2 idle cores
SMALL_AUGMENT = AugmentConfig(p=0.2, degrees=6.0, scale=(0.92, 1.08), shear=0.1, shift=0.75, blur=(0.5, 0.85))


def candidates(steps: int, **overrides) -> dict[str, TrainConfig]:
    base = replace(TrainConfig(), steps=steps, train_limit=TRAIN_DIGITS, checkpoint_every=100, **overrides)
    return {
        "today": base,
        "uniform": replace(base, t_sampling="uniform"),
        "lognormal": replace(base, t_sampling="lognormal"),
        "sigma_share_0.8": replace(base, sigma_share=0.8),
        "p_uncond_0.3": replace(base, p_uncond=0.3),
        "augment_0.2": replace(base, augment=SMALL_AUGMENT),
    }


def raw_weights(run: Path, like: torch.nn.Module) -> torch.nn.Module:
    """The run's last raw (not averaged) weights, from its resumable state."""
    tensors, _ = load_tensors(run / STATE_FILE)
    model = type(like)(like.config)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    return model.eval().requires_grad_(False)


def measure(model, schedule, sets: dict, classifier, f_ref, fid_count: int) -> dict:
    """Posterior-mean PSNR on the held-out training digits per sigma, on the other hands at 0.3,
    and FID of unconditional DDIM-50 samples."""
    x = sets["held_out"]
    row = {"posterior_mean_psnr": {}}
    for sigma in SIGMAS:
        out = denoise(noisy_set(x, sigma, seed=0), sigma, model=model, schedule=schedule)
        row["posterior_mean_psnr"][str(sigma)] = round(float(psnr(out, x).mean()), 3)
    o = sets["other_hands"]
    out = denoise(noisy_set(o, 0.3, seed=0), 0.3, model=model, schedule=schedule)
    row["other_hands_psnr_0.3"] = round(float(psnr(out, o).mean()), 3)
    images, seconds = generated_digits(model, schedule, fid_count, steps=50)
    row["fid_unconditional_ddim50"] = generation_scores(classifier, images, f_ref)["fid"]
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", help="run just these candidates")
    ap.add_argument("--steps", type=int, default=STEPS, help="training steps of each candidate")
    ap.add_argument("--fid", type=int, default=500, help="unconditional samples for FID")
    ap.add_argument("--quick", action="store_true", help="20 steps, 100 + 20 digits, 50 samples (tests)")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs", help="folder of the run folders")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if args.quick and args.out == OUT:
        ap.error("--quick writes only to an --out of its own")
    steps, n_held, n_other, fid = (20, 100, 20, 50) if args.quick else (args.steps, 1000, 300, args.fid)
    tiny = quick_config()  # --quick: the tests' tiny U-Net and batch
    small = {"unet": tiny.unet, "batch_size": tiny.batch_size, "warmup_steps": 5} if args.quick else {}
    recipes = candidates(steps, **small)
    unknown = set(args.only or ()) - set(recipes)
    if unknown:
        ap.error(f"unknown candidates {sorted(unknown)} (known: {sorted(recipes)})")
    images, _ = load_mnist(train=True)
    sets = {
        "held_out": pixels(images[TRAIN_DIGITS : TRAIN_DIGITS + n_held]),
        "other_hands": other_set(700 + n_other)[0][700:],
    }
    classifier = pretrained("classifier")[0].eval()
    f_ref = classifier_features(classifier, pixels(images[:10_000]))
    result = json.loads(args.out.read_text()) if args.out.exists() else {"candidates": {}}
    for name in args.only or list(recipes):
        t0 = time.perf_counter()
        path = train(recipes[name], args.runs / f"scratch_{name}", progress=False)
        model, schedule, info = load_model(path)
        row = {
            "ema": measure(model, schedule, sets, classifier, f_ref, fid),
            "raw": measure(raw_weights(path.parent, model), schedule, sets, classifier, f_ref, fid),
            "run": {k: info[k] for k in ("steps", "wall_time_s", "images_seen")},
            "config": recipes[name].to_dict(),
            "seconds_total": round(time.perf_counter() - t0, 1),
        }
        result["candidates"][name] = row
        print(f"{name:>16} {row['ema']}", flush=True)
        result.update(
            _command="python benchmarks/scratch_ablation.py" + (" --quick" if args.quick else ""),
            _machine=machine(),
            _what=__doc__.split("\n\n")[1].strip(),
            held_out_digits=n_held,
            other_hands_digits=n_other,
            fid_samples=fid,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


if __name__ == "__main__":
    main()
