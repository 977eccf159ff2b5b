"""Ship and score the pretrained models: copy trained weights into the package, record their
sha256, measure each model on the MNIST test set and on the bundled sample, and write
``src/tinyddpm/weights/registry.json``, ``benchmarks/results/models.json`` and ``MODELS.md``.

    python benchmarks/models.py --ship      # copy runs/* into the package, then score everything
    python benchmarks/models.py             # re-score what the package ships

The recipes (one command per model) are in RECIPES; the run folders are those commands' outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import time
from pathlib import Path

import torch

import tinyddpm
from tinyddpm.checkpoint import load_model, sha256_file
from tinyddpm.data import load_mnist, load_sample
from tinyddpm.denoise import denoise
from tinyddpm.evaluate import evaluate_denoiser, noisy_set
from tinyddpm.metrics import psnr
from tinyddpm.noise_level import estimate_sigma_learned, estimate_sigma_mad
from tinyddpm.supervised import supervised_denoise
from tinyddpm.unet import num_parameters

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "tinyddpm" / "weights"
RESULTS = ROOT / "benchmarks" / "results"
SIGMAS = (0.1, 0.2, 0.3, 0.5)
SIGMA_EST = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)

RECIPES = {
    "ddpm": {
        "what": "class-conditional diffusion model (EMA weights), cosine schedule T = 1000",
        "command": "tinyddpm train --out runs/ddpm",
        "source": "runs/ddpm/ema.safetensors",
    },
    "classifier": {
        "what": "MNIST classifier: identity judge and FID features",
        "command": "tinyddpm train-aux classifier -o runs/classifier.safetensors",
        "source": "runs/classifier.safetensors",
    },
    "vae": {
        "what": "chapter-1 VAE, trained on clean digits only",
        "command": "tinyddpm train-aux vae -o runs/vae.safetensors",
        "source": "runs/vae.safetensors",
    },
    "sigma_net": {
        "what": "learned noise-level estimator (regresses log sigma)",
        "command": "tinyddpm train-aux sigma_net -o runs/sigma_net.safetensors",
        "source": "runs/sigma_net.safetensors",
    },
    "supervised_0.2": {
        "what": "supervised reference denoiser at sigma 0.2 (same U-Net, MSE)",
        "command": "tinyddpm train --out runs/supervised_0.2 --supervised-sigma 0.2",
        "source": "runs/supervised_0.2/ema.safetensors",
    },
    "supervised_0.5": {
        "what": "supervised reference denoiser at sigma 0.5 (same U-Net, MSE)",
        "command": "tinyddpm train --out runs/supervised_0.5 --supervised-sigma 0.5 --steps 1000",
        "source": "runs/supervised_0.5/ema.safetensors",
    },
}


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS")}


def score(name: str, model, schedule, test_x, test_y, sample_x, sample_y, classifier) -> tuple[dict, dict]:
    """(scores on the 10,000 test digits, scores on the bundled sample) for one model."""
    if name == "ddpm":
        den = lambda y, s: denoise(y, s, model=model, schedule=schedule)  # noqa: E731
        full = evaluate_denoiser(den, test_x, SIGMAS, labels=test_y, classifier=classifier)
        small = {f"psnr_posterior_mean@{s}": v["psnr"] for s, v in evaluate_denoiser(den, sample_x, (0.2, 0.5)).items()}
        return {"posterior_mean": full, "alpha_bar_T": float(schedule.alpha_bar[-1])}, small
    if name == "classifier":
        acc = lambda x: round(float((model(x).argmax(1) == test_y).float().mean()), 4)  # noqa: E731
        with torch.no_grad():
            full = {"accuracy_clean": acc(test_x)}
            full.update({f"accuracy_noisy@{s}": acc(noisy_set(test_x, s)) for s in SIGMAS})
            small = {"accuracy_clean": round(float((model(sample_x).argmax(1) == sample_y).float().mean()), 4)}
        return full, small
    if name == "vae":
        with torch.no_grad():
            rec = lambda x: torch.cat([model(x[i : i + 1000]) for i in range(0, len(x), 1000)])  # noqa: E731
            full = {"psnr_clean": round(float(psnr(rec(test_x), test_x).mean()), 3)}
            for s in SIGMAS:
                y = noisy_set(test_x, s)
                full[f"psnr_noisy_input@{s}"] = round(float(psnr(y, test_x).mean()), 3)
                full[f"psnr_reconstruction@{s}"] = round(float(psnr(rec(y), test_x).mean()), 3)
            small = {"psnr_clean": round(float(psnr(rec(sample_x), sample_x).mean()), 3)}
        return full, small
    if name == "sigma_net":
        from skimage.restoration import estimate_sigma as sk_estimate

        sub = test_x[:2000]  # the first 2,000 test digits (skimage's estimator runs per image)
        full: dict = {"digits": len(sub)}
        for s in SIGMA_EST:
            y = noisy_set(sub, s)
            ests = {
                "learned": estimate_sigma_learned(y, model),
                "mad": estimate_sigma_mad(y),
                "skimage": torch.tensor([sk_estimate(im[0].numpy()) for im in y]),
            }
            full[str(s)] = {
                k: {"median_rel_err": round(float((e / s - 1).abs().median()), 4),
                    "p90_rel_err": round(float((e / s - 1).abs().quantile(0.9)), 4)}
                for k, e in ests.items()
            }
        y = noisy_set(sample_x, 0.3)
        small = {"median_rel_err@0.3": round(float((estimate_sigma_learned(y, model) / 0.3 - 1).abs().median()), 4)}
        return full, small
    if name.startswith("supervised_"):
        s0 = float(name.split("_")[1])
        den = lambda y, s: supervised_denoise(model, y, s0)  # noqa: E731
        full = evaluate_denoiser(den, test_x, (s0,), labels=test_y, classifier=classifier)
        small = {f"psnr@{s0}": evaluate_denoiser(den, sample_x, (s0,))[str(s0)]["psnr"]}
        return full, small
    raise KeyError(name)


def _ident(row: dict) -> str:
    return f"{row['identity']:.4f}" if "identity" in row else "not measured"


def _rate(info: dict) -> str:
    """Training images per second, from the run's own record."""
    bs = info.get("batch_size") or (info.get("train_config") or {}).get("batch_size", 0)
    n = info.get("images_seen") or info.get("steps", 0) * bs or info.get("epochs", 0) * (60000 // max(bs, 1)) * bs
    t = info.get("wall_time_s")
    return f"{n / t:.0f}" if n and t else "n/a"


def fmt_time(info: dict) -> str:
    t = info.get("wall_time_s")
    return "n/a" if t is None else f"{t / 60:.1f} min"


def models_md(results: dict) -> str:
    """MODELS.md, generated from benchmarks/results/models.json (never edited by hand)."""
    m = results.get("_machine", {})
    n_test = results.get("_test_digits", 10000)
    digits = "the 10,000 MNIST test digits" if n_test == 10000 else f"the first {n_test:,} MNIST test digits"
    out = [
        "# Shipped models",
        "",
        "Generated by `python benchmarks/models.py` from `benchmarks/results/models.json`; do not edit.",
        f"Trained and scored on {m.get('cpu', '?')} with 2 CPU cores and no GPU, torch {m.get('torch', '?')}.",
        "Each model is trained on the 60,000 MNIST training digits (data root `$TINYDDPM_DATA`) by the",
        "command shown, seed 0, and loaded by `tinyddpm.pretrained(name)`, which checks the sha256.",
        f"Test scores use {digits} with Gaussian noise that is not clipped",
        "(`tinyddpm.evaluate.noisy_set`, fixed seed); PSNR is the mean over images in dB.",
        "",
        "| model | what | command | parameters | file | training wall time | images/s | sha256 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    names = [k for k in results if not k.startswith("_")]
    for name in names:
        r = results[name]
        out.append(
            f"| `{name}` | {r['what']} | `{r['command']}` | {r['parameters']:,} | {r['file_bytes'] / 2**20:.1f} MiB "
            f"| {fmt_time(r['train_info'])} | {_rate(r['train_info'])} | `{r['sha256'][:16]}...` |"
        )
    if "ddpm" in results:
        r = results["ddpm"]
        ti = r["train_info"]
        out += ["", "## ddpm: one-step posterior-mean denoising", "",
                f"{ti.get('steps')} steps of batch {r['train_config']['batch_size']} ({ti.get('images_seen', 0):,} images), "
                f"{fmt_time(ti)} on {ti.get('workers', 1)} CPU process(es); alpha_bar_T = {r['test_scores']['alpha_bar_T']:.2e}.", "",
                "| sigma | noisy PSNR | posterior-mean PSNR | pooled PSNR | identity kept |", "| ---: | ---: | ---: | ---: | ---: |"]
        for s, v in r["test_scores"]["posterior_mean"].items():
            out.append(f"| {s} | {v['psnr_noisy']:.2f} | {v['psnr']:.2f} | {v['psnr_pooled']:.2f} | {_ident(v)} |")
        curve = RESULTS / "ddpm_learning_curve.csv"
        if curve.exists():
            import csv

            rows = list(csv.DictReader(curve.open()))
            out += ["", "Learning curve (EMA weights, posterior-mean PSNR on the 1,000 bundled test digits;",
                    "`python benchmarks/learning_curve.py runs/ddpm` during training; full log in",
                    "`benchmarks/results/ddpm_train_log.csv`):", "",
                    "| step | wall time | sigma 0.1 | sigma 0.2 | sigma 0.3 | sigma 0.5 |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
            for row in rows:
                out.append(f"| {row['step']} | {float(row['elapsed_s']) / 60:.0f} min | " + " | ".join(
                    f"{float(row[f'psnr@{s}']):.2f}" for s in SIGMAS) + " |")
    if "classifier" in results:
        sc = results["classifier"]["test_scores"]
        out += ["", "## classifier: test accuracy", "", "| input | accuracy |", "| --- | ---: |"]
        out += [f"| {k.replace('accuracy_', '').replace('@', ' sigma ')} | {v:.4f} |" for k, v in sc.items()]
    if "vae" in results:
        sc = results["vae"]["test_scores"]
        out += ["", "## vae: reconstruction PSNR (dB)", "", f"Clean digits in, clean digits out: {sc['psnr_clean']:.2f} dB.", "",
                "| sigma | noisy input | VAE reconstruction of the noisy input |", "| ---: | ---: | ---: |"]
        for s in SIGMAS:
            out.append(f"| {s} | {sc[f'psnr_noisy_input@{s}']:.2f} | {sc[f'psnr_reconstruction@{s}']:.2f} |")
    if "sigma_net" in results:
        sc = results["sigma_net"]["test_scores"]
        out += ["", f"## sigma_net: relative error of sigma estimates ({sc['digits']:,} test digits)", "",
                "| sigma | learned median | learned p90 | MAD (classical) median | MAD p90 | skimage median | skimage p90 |",
                "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for s in SIGMA_EST:
            e = sc[str(s)]
            out.append(f"| {s} | " + " | ".join(f"{e[k][q]:.3f}" for k in ("learned", "mad", "skimage") for q in ("median_rel_err", "p90_rel_err")) + " |")
    sup = [n for n in names if n.startswith("supervised_")]
    if sup:
        out += ["", "## supervised reference denoisers", "", "| model | sigma | PSNR | pooled PSNR | identity kept |", "| --- | ---: | ---: | ---: | ---: |"]
        for n in sup:
            for s, v in results[n]["test_scores"].items():
                out.append(f"| `{n}` | {s} | {v['psnr']:.2f} | {v['psnr_pooled']:.2f} | {_ident(v)} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ship", action="store_true", help="copy trained weights from runs/ into the package first")
    ap.add_argument("--only", nargs="*", help="model names to (re)score")
    ap.add_argument("--limit", type=int, help="score on the first N test digits only (a dry run)")
    ap.add_argument("--runs", type=Path, default=ROOT, help="folder the recipes' run paths are relative to")
    ap.add_argument("--weights", type=Path, default=WEIGHTS, help="the package's weights folder")
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--models-md", type=Path, default=ROOT / "MODELS.md")
    args = ap.parse_args()
    weights, results_dir = args.weights, args.results
    weights.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    reg_path = weights / "registry.json"
    registry = json.loads(reg_path.read_text()) if reg_path.exists() else {}
    results_path = results_dir / "models.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}

    names = args.only or list(RECIPES)
    if args.ship:
        for name in names:
            src = args.runs / RECIPES[name]["source"]
            if src.exists():
                shutil.copyfile(src, weights / f"{name}.safetensors")
                print(f"shipped {src} -> {name}.safetensors")
    test_img, test_y = load_mnist(train=False)
    if args.limit:
        test_img, test_y = test_img[: args.limit], test_y[: args.limit]
    test_x = test_img.float().div(255).unsqueeze(1)
    sample_x, sample_y = load_sample()
    if args.limit:
        sample_x, sample_y = sample_x[: args.limit], sample_y[: args.limit]
    clf_path = weights / "classifier.safetensors"
    classifier = load_model(clf_path)[0] if clf_path.exists() else None
    for name in names:
        path = weights / f"{name}.safetensors"
        if not path.exists():
            print(f"skip {name}: not shipped")
            continue
        model, schedule, info = load_model(path)
        t0 = time.time()
        full, small = score(name, model, schedule, test_x, test_y, sample_x, sample_y, classifier)
        print(f"{name}: scored in {time.time() - t0:.0f} s: {json.dumps(small)}")
        registry[name] = {"file": path.name, "sha256": sha256_file(path), "sample_scores": small}
        results[name] = {
            "what": RECIPES[name]["what"],
            "command": RECIPES[name]["command"],
            "parameters": num_parameters(model),
            "file_bytes": path.stat().st_size,
            "sha256": registry[name]["sha256"],
            "train_info": {k: v for k, v in info.items() if k != "train_config"},
            "train_config": info.get("train_config"),
            "test_scores": full,
            "sample_scores": small,
        }
    results["_machine"] = machine()
    results["_test_digits"] = len(test_x)
    results["_tinyddpm"] = tinyddpm.__version__
    reg_path.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    args.models_md.write_text(models_md(results))
    print(f"wrote {reg_path}, {results_path} and MODELS.md")


if __name__ == "__main__":
    main()
