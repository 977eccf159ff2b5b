"""Other writers: the shipped denoiser on handwritten digits that are not MNIST's.

The other set is scikit-learn's ``load_digits`` (the UCI "Optical Recognition of Handwritten
Digits" test part: 1,797 digits by 13 writers who are not among MNIST's 500, written on forms,
scanned as 32x32 bitmaps and stored as 8x8 counts of ink pixels, 0-16). Each digit goes to MNIST
form the way a user's picture does: grey levels /16, bicubic 4x up to 32x32, an 8-pixel black
margin, then :func:`tinyddpm.preprocess.normalize` (ink box to 20 px, centre of mass to the
centre of 28x28). These digits are blurrier than MNIST's: the 8x8 counts keep no detail finer
than 4 scanner pixels.

A seeded split: 1,097 digits train a judge (the package's classifier architecture, trained on
their clean MNIST-form versions), 700 are held out. On the held-out digits and on the 1,000
bundled MNIST test digits, y = x + sigma n at sigma 0.2 and 0.3 (``noisy_set``, seed 0) is
denoised by the shipped model (posterior mean at the matched step, true sigma; and with
``sigma="auto"``). Reported per set and sigma: PSNR of the noisy input and of the two outputs
against the clean digit, and how often the set's own judge reads clean, noisy and denoised
digits as their label (MNIST: the shipped classifier; the other set: its judge).

    python benchmarks/other_writers.py          # all digits (~6 min on 2 cores, most of it the conversion)
    python benchmarks/other_writers.py --quick  # 300 digits: 200 for the judge, 100 held out

Writes ``src/tinyddpm/harness/results/other_writers.json`` (``--quick``: only with ``--out``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from tinyddpm.checkpoint import pretrained
from tinyddpm.data import load_sample
from tinyddpm.denoise import denoise
from tinyddpm.harness.classifier import train_classifier
from tinyddpm.harness.evaluate import machine, noisy_set
from tinyddpm.metrics import predict_labels, psnr
from tinyddpm.preprocess import normalize

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
SIGMAS = (0.2, 0.3)
SEED = 0
HELD_OUT = 700
JUDGE_EPOCHS = 60  # 1,097 digits: 8 batches of 128 an epoch, 480 steps in all


def mnist_form(counts: np.ndarray) -> np.ndarray:
    """One (8, 8) digit of counts 0-16 -> (28, 28) float32 in [0, 1], MNIST form."""
    grey = Image.fromarray((counts / 16).astype(np.float32)).resize((32, 32), Image.BICUBIC)
    picture = np.pad(np.clip(np.asarray(grey, dtype=np.float64), 0, 1), 8)  # (48, 48)
    digit, _ = normalize(picture, source="load_digits")
    return np.clip(digit, 0, 1)


def other_set(n: int | None = None) -> tuple[Tensor, Tensor]:
    """The first ``n`` (all: 1,797) of scikit-learn's digits in MNIST form, in a seeded order:
    (images (n, 1, 28, 28) float32 on the 1/255 grid, labels (n,))."""
    from sklearn.datasets import load_digits  # the optional "bench" extra

    d = load_digits()
    order = np.random.default_rng(SEED).permutation(len(d.target))[:n]
    images = np.stack([mnist_form(d.images[i]) for i in order])
    images = np.round(images * 255) / 255  # what a uint8 file holds, as MNIST's own digits
    return torch.from_numpy(images).float()[:, None], torch.from_numpy(d.target[order]).long()


def accuracy(judge: torch.nn.Module, images: Tensor, labels: Tensor) -> float:
    return round(float((predict_labels(judge, images) == labels).double().mean()), 4)


def measure(
    x: Tensor, labels: Tensor, judge: torch.nn.Module, *, model: torch.nn.Module | None = None, schedule=None
) -> list[dict]:
    """The rows of one digit set: PSNR and the judge's accuracy, noisy and denoised, per sigma
    (``model``: the shipped one unless given)."""
    rows = []
    for sigma in SIGMAS:
        y = noisy_set(x, sigma, seed=SEED)
        matched = denoise(y, sigma, model=model, schedule=schedule)
        auto = denoise(y, "auto", model=model, schedule=schedule)
        rows.append(
            {
                "sigma": sigma,
                "digits": len(x),
                "psnr_noisy": round(float(psnr(y, x).mean()), 3),
                "psnr_posterior_mean": round(float(psnr(matched, x).mean()), 3),
                "psnr_auto": round(float(psnr(auto, x).mean()), 3),
                "accuracy_clean": accuracy(judge, x, labels),
                "accuracy_noisy": accuracy(judge, y, labels),
                "accuracy_posterior_mean": accuracy(judge, matched, labels),
                "accuracy_auto": accuracy(judge, auto, labels),
            }
        )
    return rows


def held_out_and_judge(quick: bool) -> tuple[Tensor, Tensor, torch.nn.Module, dict]:
    """The held-out digits of the other set, their labels, and the judge trained on the rest."""
    n_total, held_out, epochs = (300, 100, 60) if quick else (None, HELD_OUT, JUDGE_EPOCHS)
    x, labels = other_set(n_total)
    x_train, y_train = x[held_out:], labels[held_out:]
    judge, info = train_classifier(
        (x_train[:, 0] * 255).round().to(torch.uint8), y_train, epochs=epochs, seed=SEED, progress=False
    )
    info = {
        "train_digits": len(x_train),
        "held_out_digits": held_out,
        "epochs": epochs,
        "steps": info["steps"],
    }
    return x[:held_out], labels[:held_out], judge.eval().requires_grad_(False), info


def run(quick: bool) -> dict:
    t0 = time.perf_counter()
    x_test, y_test, judge, info = held_out_and_judge(quick)
    t_convert = time.perf_counter() - t0
    mnist_x, mnist_y = load_sample()
    mnist_judge = pretrained("classifier")[0]
    return {
        "_command": "python benchmarks/other_writers.py" + (" --quick" if quick else ""),
        "_machine": machine(),
        "_what": __doc__.split("\n\n")[1].strip(),
        "judge": {
            **info,
            "accuracy_held_out_clean": accuracy(judge, x_test, y_test),
            "mnist_classifier_accuracy_held_out_clean": accuracy(mnist_judge, x_test, y_test),
        },
        "other": measure(x_test, y_test, judge),
        "mnist": measure(mnist_x, mnist_y, mnist_judge),
        "gap_db": {},
        "_seconds_data_and_judge": round(t_convert, 1),
        "_seconds": round(time.perf_counter() - t0, 1),
    }


def add_gaps(result: dict) -> dict:
    """PSNR gained by denoising (output - input), MNIST minus the other set, per sigma."""
    for o, m in zip(result["other"], result["mnist"]):
        gain_o = o["psnr_posterior_mean"] - o["psnr_noisy"]
        gain_m = m["psnr_posterior_mean"] - m["psnr_noisy"]
        result["gap_db"][str(o["sigma"])] = {
            "psnr": round(m["psnr_posterior_mean"] - o["psnr_posterior_mean"], 3),
            "gain": round(gain_m - gain_o, 3),
        }
    return result


def summary(result: dict) -> str:
    j = result["judge"]
    lines = [
        f"judge: {j['train_digits']} digits, {j['steps']} steps; clean held-out accuracy "
        f"{100 * j['accuracy_held_out_clean']:.1f} % (MNIST classifier: "
        f"{100 * j['mnist_classifier_accuracy_held_out_clean']:.1f} %)",
        f"{'set':>6} {'sigma':>6} {'noisy':>7} {'post.mean':>9} {'auto':>7} {'acc clean':>9} "
        f"{'noisy':>6} {'denoised':>8}",
    ]
    for name in ("mnist", "other"):
        for r in result[name]:
            lines.append(
                f"{name:>6} {r['sigma']:>6} {r['psnr_noisy']:>7.2f} {r['psnr_posterior_mean']:>9.2f} "
                f"{r['psnr_auto']:>7.2f} {100 * r['accuracy_clean']:>9.1f} {100 * r['accuracy_noisy']:>6.1f} "
                f"{100 * r['accuracy_posterior_mean']:>8.1f}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="300 digits: 200 for the judge, 100 held out")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: the package's results/)")
    a = ap.parse_args(argv)
    if a.quick and a.out is None:
        ap.error("--quick writes only where --out says (the committed results stay as they are)")
    torch.manual_seed(SEED)
    result = add_gaps(run(a.quick))
    out = a.out or RESULTS / "other_writers.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(summary(result))
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
