"""Whether a newly trained ``ddpm`` may replace the shipped one: the gate of issue 21, measured.

Both models, the shipped ``ddpm`` and a candidate's EMA weights, are measured the same way:

- MNIST: the posterior mean (one step at the matched t*, true sigma, null label) on all 10,000
  test digits at sigma 0.1, 0.2, 0.3 and 0.5, for two noise draws (``noisy_set`` seeds 0 and 1:
  the benchmarks' draw and an independent one), and the protocol of Soltanayev & Chun (2018):
  sigma 50/255, outputs quantised to 8 bits, the PSNR of the pooled MSE;
- other hands: the 700 held-out digits of scikit-learn's set in MNIST form at sigma 0.2 and 0.3,
  with that set's own judge (``benchmarks/other_writers.py``), against the MNIST rows;
- samples: classifier-feature FID of 1,000 DDIM-50 digits against the 10,000 test digits, with
  the null label (unconditional) and with class i mod 10 at guidance 1, over the floor that 1,000
  training digits reach (the same seeds as ``benchmarks/run.py``).

The candidate passes when it is at least as good as the shipped model at every sigma and on both
draws (``TOLERANCE_DB``) and better on other hands (sigma 0.3) or on unconditional FID. The
issue's floors are reported beside the gate, not part of it.

    python benchmarks/ship_gate.py runs/ddpm/ema.safetensors                 # ~21 min on 2 cores
    python benchmarks/ship_gate.py runs/ddpm/ema.safetensors --quick --out /tmp/gate.json

Writes ``src/tinyddpm/harness/results/ship_gate.json`` (``--quick``: only with ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import Tensor

import tinyddpm
from tinyddpm.checkpoint import pretrained_path, registry
from tinyddpm.data import load_mnist, pixels
from tinyddpm.denoise import denoise
from tinyddpm.harness.evaluate import generated_digits, generation_scores, machine, noisy_set, score
from tinyddpm.metrics import classifier_features
from tinyddpm.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from other_writers import held_out_and_judge, measure  # noqa: E402

OUT = ROOT / "src" / "tinyddpm" / "harness" / "results" / "ship_gate.json"
SIGMAS = (0.1, 0.2, 0.3, 0.5)
SOLTANAYEV_SIGMA = 50 / 255
DRAWS = (0, 1)  # noisy_set seeds: the benchmarks' draw, and an independent one
TOLERANCE_DB = 0.02
FLOORS_DB = {"0.1": 31.6, "0.2": 27.6, "0.3": 25.25, "0.5": 22.2, "soltanayev_chun": 27.36}
OTHER_HANDS_GAP_DB, OTHER_HANDS_IDENTITY, FID_OVER_FLOOR = 1.5, 0.98, 3.0  # the goals


def mnist_rows(model, schedule, x: Tensor) -> dict:
    """Posterior-mean PSNR (dB, mean over images) per draw and sigma, and the Soltanayev-Chun figure."""
    out: dict = {}
    for seed in DRAWS:
        out[f"draw_{seed}"] = {
            str(s): round(
                float(
                    score(denoise(noisy_set(x, s, seed=seed), s, model=model, schedule=schedule), x)["psnr"]
                ),
                3,
            )
            for s in SIGMAS
        }
    y = noisy_set(x, SOLTANAYEV_SIGMA, seed=0)
    out["soltanayev_chun"] = round(
        score(denoise(y, SOLTANAYEV_SIGMA, model=model, schedule=schedule), x)["psnr_pooled_uint8"], 3
    )
    return out


def sample_rows(model, schedule, classifier, f_test: Tensor, count: int, floor: float) -> dict:
    """FID (and class counts) of ``count`` DDIM-50 digits, unconditional and class-conditional at g = 1."""
    out = {}
    for name, kw in {"unconditional": {}, "class_label_g1": {"conditional": True, "guidance": 1.0}}.items():
        images, seconds = generated_digits(model, schedule, count, steps=50, **kw)
        row = generation_scores(classifier, images, f_test)
        out[name] = {**row, "over_floor": round(row["fid"] / floor, 2), "seconds": round(seconds, 1)}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("candidate", type=Path, help="the candidate's weights (a run's ema.safetensors)")
    ap.add_argument("--quick", action="store_true", help="500 test digits, 100 samples, the quick other set")
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args(argv)
    if a.quick and a.out is None:
        ap.error("--quick writes only where --out says (the committed results stay as they are)")
    t0 = time.perf_counter()
    model, schedule, info = tinyddpm.load_model(a.candidate)  # read and verified once
    shipped, shipped_schedule, shipped_info = tinyddpm.load_model(
        pretrained_path("ddpm"), expected_sha256=registry()["ddpm"]["sha256"]
    )
    models = {"shipped": (shipped, shipped_schedule), "candidate": (model, schedule)}
    classifier = tinyddpm.pretrained("classifier")[0].eval()
    xs, _ = load_mnist(train=False)
    test = pixels(xs)  # (10000, 1, 28, 28): the FID reference, and the digits denoised
    x = test[:500] if a.quick else test
    count = 100 if a.quick else 1000
    train = pixels(load_mnist(train=True)[0])
    f_test = classifier_features(classifier, test)
    floor = generation_scores(
        classifier, train[torch.randperm(len(train), generator=seeded(99))[:count]], f_test
    )["fid"]
    other_x, other_y, judge, judge_info = held_out_and_judge(a.quick)

    result: dict = {
        "_command": f"python benchmarks/ship_gate.py {a.candidate}" + (" --quick" if a.quick else ""),
        "_machine": machine(),
        "_what": __doc__.split("\n\n")[1].strip(),
        "candidate": {"file": str(a.candidate), **info},  # its training record (steps, wall time, config)
        "shipped": {"file": "ddpm", **shipped_info},  # the model it would replace, for the record
        "test_digits": len(x),
        "fid_samples": count,
        "fid_floor": floor,
        "judge": judge_info,
        "models": {},
    }
    for name, (model, schedule) in models.items():
        mnist = mnist_rows(model, schedule, x)
        other = measure(other_x, other_y, judge, model=model, schedule=schedule)
        at = {r["sigma"]: r for r in other}
        result["models"][name] = {
            "mnist_posterior_mean_psnr": mnist,
            "other_hands": {
                str(s): {"psnr": r["psnr_posterior_mean"], "identity": r["accuracy_posterior_mean"]}
                for s, r in at.items()
            },
            "other_hands_gap_db_0.3": round(mnist["draw_0"]["0.3"] - at[0.3]["psnr_posterior_mean"], 3),
            "samples": sample_rows(model, schedule, classifier, f_test, count, floor),
        }
        print(name, json.dumps(result["models"][name], indent=1)[:1500], flush=True)

    new, old = result["models"]["candidate"], result["models"]["shipped"]
    change = {
        f"draw_{d}@{s}": round(
            new["mnist_posterior_mean_psnr"][f"draw_{d}"][str(s)]
            - old["mnist_posterior_mean_psnr"][f"draw_{d}"][str(s)],
            3,
        )
        for d in DRAWS
        for s in SIGMAS
    }
    change["soltanayev_chun"] = round(
        new["mnist_posterior_mean_psnr"]["soltanayev_chun"]
        - old["mnist_posterior_mean_psnr"]["soltanayev_chun"],
        3,
    )
    better_other = new["other_hands"]["0.3"]["psnr"] > old["other_hands"]["0.3"]["psnr"]
    better_samples = new["samples"]["unconditional"]["fid"] < old["samples"]["unconditional"]["fid"]
    mnist_ok = all(v >= -TOLERANCE_DB for v in change.values())
    pm = new["mnist_posterior_mean_psnr"]
    result["gate"] = {
        "mnist_change_db": change,
        "mnist_at_least_as_good": mnist_ok,
        "better_on_other_hands": better_other,
        "better_unconditional_fid": better_samples,
        "ship": mnist_ok and (better_other or better_samples),
    }
    result["goals"] = {
        **{
            f"mnist_{s}": {
                "got": pm["draw_1"][s],
                "floor": FLOORS_DB[s],
                "met": pm["draw_1"][s] >= FLOORS_DB[s],
            }
            for s in map(str, SIGMAS)
        },
        "soltanayev_chun": {
            "got": pm["soltanayev_chun"],
            "floor": FLOORS_DB["soltanayev_chun"],
            "met": pm["soltanayev_chun"] >= FLOORS_DB["soltanayev_chun"],
        },
        "other_hands_gap_0.3": {
            "got": new["other_hands_gap_db_0.3"],
            "goal": OTHER_HANDS_GAP_DB,
            "met": new["other_hands_gap_db_0.3"] <= OTHER_HANDS_GAP_DB,
        },
        "other_hands_identity_0.3": {
            "got": new["other_hands"]["0.3"]["identity"],
            "goal": OTHER_HANDS_IDENTITY,
            "met": new["other_hands"]["0.3"]["identity"] >= OTHER_HANDS_IDENTITY,
        },
        "unconditional_fid_over_floor": {
            "got": new["samples"]["unconditional"]["over_floor"],
            "goal": FID_OVER_FLOOR,
            "met": new["samples"]["unconditional"]["over_floor"] <= FID_OVER_FLOOR,
        },
    }
    result["_seconds"] = round(time.perf_counter() - t0, 1)
    out = a.out or OUT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({"gate": result["gate"], "goals": result["goals"]}, indent=1))
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    main()
