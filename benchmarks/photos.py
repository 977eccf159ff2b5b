"""Your own digits: photo-like pictures and 8-bit PNG files through ``tinyddpm denoise``, as a user runs it.

1. Photos. 200 photo-like pictures made from MNIST test digits by
   :func:`tinyddpm.preprocess.synthetic_photo` (sides 60-400 px, the digit 45-80 % of the shorter
   side anywhere in the picture, dark ink on light paper or the reverse, a light gradient up to
   0.2, paper noise of std 0.05-0.2, clipped and rounded to 8 bits), saved as PNG files and
   denoised by the command line twice::

       tinyddpm denoise *.png -o mnist/ --sigma auto --mnist   # the shipped classifier reads these
       tinyddpm denoise *.png -o frame/ --sigma auto           # back in each picture's own frame

   Reported: how often the classifier reads the ``--mnist`` outputs correctly (target: at least
   97 %; clean MNIST: 99.6 %; ``accuracy_before``: the old way, padded and resized to 28x28),
   and the PSNR of the ``frame/`` outputs and of the inputs against the clean pictures (target:
   every output above its input).
2. 8-bit round trip. The first 500 bundled test digits plus seeded Gaussian noise (sigma 0.1, 0.2,
   0.3), saved as 8-bit PNG files (clipped to [0, 1], rounded) and denoised with ``tinyddpm
   denoise --sigma auto``; against the one-step posterior mean of the same noisy digits unclipped,
   with the true sigma (target: within 1.0 dB). For the record, the same files the way the package
   read them before (learned sigma estimate on the clipped digits, no unclipping), with the new
   sigma estimate but the clipped pixels left as they are (what unclipping gains), and with the
   true sigma (clipped, no unclipping).

    python benchmarks/photos.py            # 200 photos, 500 digits per sigma
    python benchmarks/photos.py --quick    # 40 photos, 100 digits

Writes ``src/tinyddpm/harness/results/photos.json`` (``--quick``: ``photos_quick.json``) and prints a summary.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tinyddpm.checkpoint import pretrained
from tinyddpm.cli import main
from tinyddpm.data import load_mnist, load_sample
from tinyddpm.denoise import denoise
from tinyddpm.harness.evaluate import machine, noisy_set, quantize_uint8
from tinyddpm.io import load_image
from tinyddpm.metrics import predict_labels, psnr
from tinyddpm.noise_level import estimate_sigma, estimate_sigma_learned
from tinyddpm.preprocess import SyntheticPhoto, synthetic_photo

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
SIGMAS = (0.1, 0.2, 0.3)
SEED = 0


def save_png(pixels: np.ndarray, path: Path) -> None:
    """(H, W) values on the 1/255 grid -> an 8-bit grayscale PNG."""
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8), mode="L").save(path)


def read_png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float64) / 255


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """``tinyddpm`` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def make_photos(n: int, seed: int) -> tuple[list[SyntheticPhoto], np.ndarray, np.ndarray]:
    """``n`` photo-like pictures of MNIST test digits drawn with ``seed``: (photos, labels, indices)."""
    images, labels = load_mnist(train=False)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(images), n, replace=False))
    photos = [synthetic_photo(images[i].numpy() / 255.0, rng) for i in idx]
    return photos, labels[idx].numpy(), idx


def photo_psnr(a: np.ndarray, ref: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - ref) ** 2)))


def before_accuracy(names: list[Path], labels: np.ndarray) -> float:
    """What the package did with such files before: padded with black and resized to 28x28
    (:func:`tinyddpm.io.load_image`), learned sigma, denoised; how often the classifier reads them."""
    y = torch.cat([load_image(p)[0] for p in names])  # (n, 1, 28, 28)
    out = denoise(y, estimate_sigma_learned(y).clamp(min=1e-3))
    return float((predict_labels(pretrained("classifier")[0], out).numpy() == labels).mean())


def photo_set(n: int, seed: int, work: Path) -> dict:
    """Part 1: the photo set through the command line, both outputs."""
    photos, labels, idx = make_photos(n, seed)
    names = [work / f"photo{i:03d}.png" for i in range(n)]
    for ph, p in zip(photos, names):
        save_png(ph.noisy, p)
    t0 = time.perf_counter()
    code_m, _, err_m = run_cli(["denoise", *map(str, names), "-o", str(work / "mnist"), "--mnist"])
    t1 = time.perf_counter()
    code_f, _, err_f = run_cli(["denoise", *map(str, names), "-o", str(work / "frame")])
    t2 = time.perf_counter()
    done = [i for i, p in enumerate(names) if (work / "mnist" / p.name).exists()]
    digits = torch.from_numpy(np.stack([read_png(work / "mnist" / names[i].name) for i in done]))
    pred = predict_labels(pretrained("classifier")[0], digits[:, None].float()).numpy()
    correct = int((pred == labels[done]).sum())
    rows = []
    for i, ph in enumerate(photos):
        out = work / "frame" / names[i].name
        row = {"index": int(idx[i]), "label": int(labels[i]), "size": list(ph.noisy.shape)}
        row.update(
            dark_ink=ph.dark_ink,
            sigma=round(ph.sigma, 4),
            psnr_input=round(photo_psnr(ph.noisy, ph.clean), 3),
        )
        if out.exists():
            row["psnr_output"] = round(photo_psnr(read_png(out), ph.clean), 3)
        if i in done:
            row["read_as"] = int(pred[done.index(i)])
        rows.append(row)
    gains = [r["psnr_output"] - r["psnr_input"] for r in rows if "psnr_output" in r]
    return {
        "n": n,
        "seed": seed,
        "refused": [line for line in (err_m + err_f).splitlines() if "error" in line],
        "exit_status": [code_m, code_f],
        "accuracy": correct / n,
        "correct": correct,
        "psnr_input_mean": round(float(np.mean([r["psnr_input"] for r in rows])), 3),
        "psnr_output_mean": round(float(np.mean([r["psnr_output"] for r in rows if "psnr_output" in r])), 3),
        "improved": int(sum(g > 0 for g in gains)),
        "gain_min_db": round(float(min(gains)), 3) if gains else None,
        "gain_mean_db": round(float(np.mean(gains)), 3) if gains else None,
        "seconds_mnist_run": round(t1 - t0, 1),
        "seconds_frame_run": round(t2 - t1, 1),
        "accuracy_before": before_accuracy(names, labels),
        "rows": rows,
    }


def round_trip(n: int, work: Path) -> list[dict]:
    """Part 2: noisy bundled digits as 8-bit PNG files, ``--sigma auto``, against the unclipped truth."""
    x = load_sample()[0][:n]  # (n, 1, 28, 28)
    rows = []
    for sigma in SIGMAS:
        y = noisy_set(x, sigma, seed=SEED)  # not clipped
        yq = quantize_uint8(y)  # what an 8-bit PNG holds
        folder = work / f"sigma{sigma}"
        folder.mkdir()
        names = [folder / f"d{i:04d}.png" for i in range(n)]
        for img, p in zip(yq, names):
            save_png(img[0].numpy(), p)
        code, _, err = run_cli(["denoise", *map(str, names), "-o", str(folder / "out")])
        if code != 0:
            raise RuntimeError(err)
        out = torch.from_numpy(np.stack([read_png(folder / "out" / p.name) for p in names]))[:, None]
        reference = denoise(y, sigma)  # posterior mean, unclipped, true sigma
        before = denoise(yq, estimate_sigma_learned(yq).clamp(min=1e-3))  # the package's old "auto"
        no_unclip = denoise(yq, estimate_sigma(yq).clamp(min=1e-3))  # the new sigma, clipped pixels kept
        rows.append(
            {
                "sigma": sigma,
                "digits": n,
                "psnr_unclipped_true_sigma": round(float(psnr(reference, x).mean()), 3),
                "psnr_png_auto": round(float(psnr(out.float(), x).mean()), 3),
                "psnr_png_true_sigma_no_unclip": round(float(psnr(denoise(yq, sigma), x).mean()), 3),
                "psnr_png_auto_no_unclip": round(float(psnr(no_unclip, x).mean()), 3),
                "psnr_png_before": round(float(psnr(before, x).mean()), 3),
            }
        )
        r = rows[-1]
        r["gap_db"] = round(r["psnr_unclipped_true_sigma"] - r["psnr_png_auto"], 3)
        r["gap_before_db"] = round(r["psnr_unclipped_true_sigma"] - r["psnr_png_before"], 3)
    return rows


def summary(result: dict) -> str:
    p = result["photos"]
    lines = [
        f"photos: {p['correct']}/{p['n']} read correctly ({100 * p['accuracy']:.1f} %, "
        f"before: {100 * p['accuracy_before']:.1f} %), "
        f"PSNR {p['psnr_input_mean']:.2f} -> {p['psnr_output_mean']:.2f} dB, "
        f"{p['improved']}/{p['n']} improved (smallest gain {p['gain_min_db']} dB), "
        f"refused {len(p['refused'])}",
        f"{'sigma':>6} {'unclipped, true':>16} {'PNG, auto':>10} {'gap':>6} {'before':>8} {'gap':>6}",
    ]
    for r in result["round_trip"]:
        lines.append(
            f"{r['sigma']:>6} {r['psnr_unclipped_true_sigma']:>16.2f} {r['psnr_png_auto']:>10.2f} "
            f"{r['gap_db']:>6.2f} {r['psnr_png_before']:>8.2f} {r['gap_before_db']:>6.2f}"
        )
    return "\n".join(lines)


def main_bench(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40 photos and 100 digits per sigma")
    ap.add_argument("--out", type=Path, default=None, help="results file (default: the package's results/)")
    a = ap.parse_args(argv)
    n_photos, n_digits = (40, 100) if a.quick else (200, 500)
    command = "python benchmarks/photos.py" + (" --quick" if a.quick else "")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "photos").mkdir()
        t0 = time.perf_counter()
        result = {
            "_command": command,
            "_machine": machine(),
            "_what": __doc__.split("\n\n")[1].strip(),
            "photos": photo_set(n_photos, SEED, work / "photos"),
            "round_trip": round_trip(n_digits, work),
        }
        result["_seconds"] = round(time.perf_counter() - t0, 1)
    out = a.out or RESULTS / ("photos_quick.json" if a.quick else "photos.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(summary(result))
    print(f"-> {out}")
    return result


if __name__ == "__main__":
    main_bench(sys.argv[1:])
