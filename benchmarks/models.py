"""Ship and score the pretrained models: copy trained weights into the package, record their
sha256, measure each model on the MNIST test set and on the bundled sample, and write
``src/tinyddpm/weights/registry.json``, ``src/tinyddpm/harness/results/models.json`` and ``MODELS.md``.
The scores come from ``tinyddpm.harness.evaluate.score_model`` (the same function the tests call).

    python benchmarks/models.py --ship      # copy runs/* into the package, then score everything
    python benchmarks/models.py             # re-score what the package ships

The recipes (one command per model) are in RECIPES; the run folders are those commands' outputs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import tinyddpm
from tinyddpm.checkpoint import load_model, sha256_file
from tinyddpm.data import load_mnist, load_sample, pixels
from tinyddpm.harness.evaluate import SIGMA_ESTIMATE_LEVELS, TEST_SIGMAS, machine, score_model
from tinyddpm.harness.train import TrainConfig
from tinyddpm.unet import num_parameters

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "src" / "tinyddpm" / "weights"
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
SIGMAS = TEST_SIGMAS
SIGMA_EST = SIGMA_ESTIMATE_LEVELS

RECIPES = {
    "ddpm": {
        "what": "class-conditional diffusion model (EMA weights), cosine schedule T = 1000",
        # the default recipe, then the winner of benchmarks/recipe_ablation.py continuing it
        "command": "tinyddpm train --out runs/ddpm && "
        "python benchmarks/recipe_ablation.py --only p_uncond_0.5_1000_steps",
        "source": "runs/recipe_p_uncond_0.5_1000_steps/ema.safetensors",
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
    "student": {
        "what": (
            "the student's recipe (tinyddpm.harness.student): SimpleUnet at 3/8 width,"
            " linear T = 300, L1 loss"
        ),
        "command": "python benchmarks/student.py train",
        "source": "runs/student/train.safetensors",
    },
    "supervised_0.5": {
        "what": "supervised reference denoiser at sigma 0.5 (same U-Net, MSE)",
        "command": "tinyddpm train --out runs/supervised_0.5 --supervised-sigma 0.5 --steps 1000",
        "source": "runs/supervised_0.5/ema.safetensors",
    },
}


def _ident(row: dict) -> str:
    return f"{row['identity']:.4f}" if "identity" in row else "not measured"


def _rate(info: dict) -> str:
    """Training images per second, from the run's own record."""
    bs = info.get("batch_size") or (info.get("train_config") or {}).get("batch_size", 0)
    n = (
        info.get("images_seen")
        or info.get("steps", 0) * bs
        or info.get("epochs", 0) * (60000 // max(bs, 1)) * bs
    )
    t = info.get("wall_time_s")
    return f"{n / t:.0f}" if n and t else "n/a"


def fmt_time(info: dict) -> str:
    """The training wall time; for a fine-tune, of the run it continued and its own together."""
    t = info.get("total_wall_time_s", info.get("wall_time_s"))
    return "n/a" if t is None else f"{t / 60:.1f} min"


def _stages(ti: dict, cfg: dict) -> str:
    """'N steps of batch B (I images), T min': the run, preceded by the run it continued, if any."""
    own = (
        f"{ti.get('steps')} steps of batch {cfg['batch_size']} ({ti.get('images_seen', 0):,} images), "
        f"{ti.get('wall_time_s', 0) / 60:.1f} min"
    )
    if "init_run" not in ti:
        return own
    base = ti["init_run"]
    before = TrainConfig.from_dict(base["train_config"]).to_dict()  # older records lack newer fields
    changed = {
        k: v for k, v in cfg.items() if k not in ("steps", "init", "checkpoint_every") and before.get(k) != v
    }
    return (
        f"{_stages(base, base['train_config'])} (the recipe's defaults), then {own} "
        f"continuing from it with {', '.join(f'{k}={v}' for k, v in changed.items())}; "
        f"{fmt_time(ti)} in all"
    )


def models_md(results: dict) -> str:
    """MODELS.md, generated from src/tinyddpm/harness/results/models.json (never edited by hand)."""
    m = results.get("_machine", {})
    n_test = results.get("_test_digits", 10000)
    digits = "the 10,000 MNIST test digits" if n_test == 10000 else f"the first {n_test:,} MNIST test digits"
    by_cpu: dict[str, list[str]] = {}
    for name, r in results.items():
        if not name.startswith("_"):
            by_cpu.setdefault((r.get("machine") or m).get("cpu", "?"), []).append(f"`{name}`")
    where = "; ".join(f"{cpu} ({', '.join(ns)})" for cpu, ns in by_cpu.items())
    out = [
        "# Shipped models",
        "",
        "Generated by `python benchmarks/models.py` from `src/tinyddpm/harness/results/models.json`;"
        " do not edit.",
        f"Trained and scored with 2 CPU cores and no GPU, torch {m.get('torch', '?')}, on: {where}.",
        "Each model is trained on the 60,000 MNIST training digits (data root `$TINYDDPM_DATA`) by the",
        "command shown, seed 0, and loaded by `tinyddpm.pretrained(name)`, which checks the sha256.",
        f"Test scores use {digits} with Gaussian noise that is not clipped",
        "(`tinyddpm.harness.evaluate.noisy_set`, fixed seed); PSNR is the mean over images in dB.",
        "",
        "| model | what | command | parameters | file | training wall time | images/s | sha256 |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    names = [k for k in results if not k.startswith("_")]
    for name in names:
        r = results[name]
        out.append(
            f"| `{name}` | {r['what']} | `{r['command']}` | {r['parameters']:,} "
            f"| {r['file_bytes'] / 2**20:.1f} MiB "
            f"| {fmt_time(r['train_info'])} | {_rate(r['train_info'])} | `{r['sha256'][:16]}...` |"
        )
    if "ddpm" in results:
        r = results["ddpm"]
        ti = r["train_info"]
        out += [
            "",
            "## ddpm: one-step posterior-mean denoising",
            "",
            f"{_stages(ti, r['train_config'])} "
            f"on {ti.get('workers', 1)} CPU process(es); "
            f"alpha_bar_T = {r['test_scores']['alpha_bar_T']:.2e}.",
            "",
            "| sigma | noisy PSNR | posterior-mean PSNR | pooled PSNR | identity kept |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for s, v in r["test_scores"]["posterior_mean"].items():
            out.append(
                f"| {s} | {v['psnr_noisy']:.2f} | {v['psnr']:.2f} | {v['psnr_pooled']:.2f} | {_ident(v)} |"
            )
        curve = RESULTS / "ddpm_learning_curve.csv"
        if curve.exists():
            import csv

            rows = list(csv.DictReader(curve.open()))
            out += [
                "",
                "Learning curve (EMA weights, posterior-mean PSNR on the 1,000 bundled test digits;",
                "the run's states saved every 500 steps, scored by `python benchmarks/learning_curve.py`;",
                "full log in `src/tinyddpm/harness/results/ddpm_train_log.csv`):",
                "",
                "| step | wall time | " + " | ".join(f"sigma {s}" for s in SIGMAS) + " |",
                "| ---: | ---: |" + " ---: |" * len(SIGMAS),
            ]
            for row in rows:
                out.append(
                    f"| {row['step']} | {float(row['elapsed_s']) / 60:.0f} min | "
                    + " | ".join(f"{float(row[f'psnr@{s}']):.2f}" for s in SIGMAS)
                    + " |"
                )
    if "classifier" in results:
        sc = results["classifier"]["test_scores"]
        out += ["", "## classifier: test accuracy", "", "| input | accuracy |", "| --- | ---: |"]
        out += [f"| {k.replace('accuracy_', '').replace('@', ' sigma ')} | {v:.4f} |" for k, v in sc.items()]
    if "vae" in results:
        sc = results["vae"]["test_scores"]
        out += [
            "",
            "## vae: reconstruction PSNR (dB)",
            "",
            f"Clean digits in, clean digits out: {sc['psnr_clean']:.2f} dB.",
            "",
            "| sigma | noisy input | VAE reconstruction of the noisy input |",
            "| ---: | ---: | ---: |",
        ]
        for s in SIGMAS:
            out.append(f"| {s} | {sc[f'psnr_noisy_input@{s}']:.2f} | {sc[f'psnr_reconstruction@{s}']:.2f} |")
    if "sigma_net" in results:
        sc = results["sigma_net"]["test_scores"]
        out += [
            "",
            f"## sigma_net: relative error of sigma estimates ({sc['digits']:,} test digits)",
            "",
            "| sigma | learned median | learned p90 | MAD (classical) median | MAD p90 "
            "| skimage median | skimage p90 |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for s in SIGMA_EST:
            e = sc[str(s)]
            cells = [
                f"{e[k][q]:.3f}"
                for k in ("learned", "mad", "skimage")
                for q in ("median_rel_err", "p90_rel_err")
            ]
            out.append(f"| {s} | " + " | ".join(cells) + " |")
    if "student" in results:
        r = results["student"]
        ti = r["train_info"]
        out += [
            "",
            "## student: the student's recipe, driven by tinyddpm's one step",
            "",
            f"{ti.get('steps'):,} steps of batch {ti.get('batch_size')}, {fmt_time(ti)}, flips: "
            f"{ti.get('flips')}, {ti.get('train_digits'):,} training digits. Posterior mean at the matched "
            "t*, in the model's 32x32 space (noise drawn at 32x32 on the resized digit; PSNR against it);",
            "28x28: the result resized back, against the original digit (the resizing alone caps that: see",
            "`resize_ceiling` in `src/tinyddpm/harness/results/student.json`, which also measures the"
            " student's own",
            "procedure); identity on the 28x28 result.",
            "",
            "| sigma | posterior-mean PSNR (32x32) | pooled PSNR (32x32) | PSNR (28x28) | identity kept |",
            "| ---: | ---: | ---: | ---: | ---: |",
        ]
        for s, v in r["test_scores"]["posterior_mean"].items():
            out.append(
                f"| {s} | {v['psnr']:.2f} | {v['psnr_pooled']:.2f} | {v['psnr_28']:.2f} | {_ident(v)} |"
            )
    sup = [n for n in names if n.startswith("supervised_")]
    if sup:
        out += [
            "",
            "## supervised reference denoisers",
            "",
            "| model | sigma | PSNR | pooled PSNR | identity kept |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for n in sup:
            for s, v in results[n]["test_scores"].items():
                out.append(f"| `{n}` | {s} | {v['psnr']:.2f} | {v['psnr_pooled']:.2f} | {_ident(v)} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument(
        "--ship", action="store_true", help="copy trained weights from runs/ into the package first"
    )
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
    test_x = pixels(test_img)
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
        kw = dict(schedule=schedule, info=info)
        full = score_model(model, test_x, test_y, classifier=classifier, full=True, **kw)
        small = score_model(model, sample_x, sample_y, **kw)
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
    previous = results.get("_machine")
    for name, r in results.items():  # each model keeps the machine it was scored on
        if not name.startswith("_"):
            r.setdefault("machine", previous)
    for name in names:
        if name in results and (weights / f"{name}.safetensors").exists():
            results[name]["machine"] = machine()
    results["_machine"] = machine()
    results["_test_digits"] = len(test_x)
    results["_tinyddpm"] = tinyddpm.__version__
    reg_path.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")
    results_path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    args.models_md.write_text(models_md(results))
    print(f"wrote {reg_path}, {results_path} and MODELS.md")


if __name__ == "__main__":
    main()
