"""All the benchmarks in one command: denoising quality, identity, speed and sample quality.

    python benchmarks/run.py                 # full run (~50 min on 2 CPU cores), into harness/results/
    python benchmarks/run.py --quick         # same code on a few digits, into a new temporary folder
    python benchmarks/run.py --quick --out /tmp/bench   # ... into /tmp/bench (tests/test_benchmarks.py)
    python benchmarks/run.py --only speed    # one section again (quality, speed, diffusers, fid, summary)
    python benchmarks/run.py --only quality fid summary --reuse-model-free   # after a new ddpm (~20 min)

Sections write ``<out>/bench_<section>.json``, each with the machine, threads and precision it ran
with (``tinyddpm.harness.evaluate.machine``); ``summary`` turns them into ``<out>/BENCHMARKS.md``. A
``--quick`` run never writes into ``src/tinyddpm/harness/results/`` unless ``--out`` says so.

Digit sets (nested, the same digits for every method that runs on them):
- ``test``: the 10,000 MNIST test digits, for the methods that take one network evaluation or less;
- ``s1000``: the 1,000 test digits bundled with the package (100 per class);
- ``s50``: the first 5 digits of each class in ``s1000``, for the multi-step samplers.
Noise: y = x + sigma n, not clipped, n fixed per digit (``tinyddpm.harness.evaluate.noisy_set``); classical
denoisers are tuned per sigma on 300 training digits, never on test digits.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

import tinyddpm
from tinyddpm.data import load_mnist, pixels, to_model
from tinyddpm.denoise import denoise, start_step
from tinyddpm.harness import interop
from tinyddpm.harness.baselines import (
    CLASSICAL_GRIDS,
    available_classical,
    classical_denoise,
    fixed_step_chain,
    tune_classical,
)
from tinyddpm.harness.evaluate import (
    bundled_test_indices,
    generated_digits,
    generation_scores,
    machine,
    noisy_set,
    score,
    vae_reconstruction,
)
from tinyddpm.harness.supervised import supervised_denoise
from tinyddpm.metrics import classifier_features, predict_labels, psnr
from tinyddpm.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
SIGMAS: dict[str, float] = {
    "0.05": 0.05,
    "0.1": 0.1,
    "0.2": 0.2,
    "0.3": 0.3,
    "0.5": 0.5,
    "0.75": 0.75,
    "50/255": 50 / 255,
}
SOLTANAYEV_SDA_DB = 25.36  # stacked denoising autoencoder on MNIST at sigma 50/255 (Soltanayev & Chun 2018)
DDIM_STEPS = (5, 10, 20, 50)
ANCESTRAL_STEPS = 50  # strided ancestral steps (DDIM with eta = 1): unit steps would cost t* evaluations
AVERAGE_K, AVERAGE_STEPS = 8, 10
FIXED_STEP = 100  # a hand-picked start step of the linear T = 300 schedule, whatever the noise
FIXED_STEP_ROW = f"fixed step {FIXED_STEP} of linear T=300, unscaled input"  # not the student's procedure
CLASSICAL_SET = {"bm3d": "s1000"}  # BM3D takes ~0.1 s a digit here: the bundled 1,000, not all 10,000
GUIDANCE = 2.0
SECTIONS = ("quality", "speed", "diffusers", "fid", "summary")
QUALITY_SIZES = (
    "test",
    "s1000",
    "s50_per_class",
    "s50_max",
    "tune",
    "tune_bm3d",
)  # a saved partial run must match these


# ---- sizes ---------------------------------------------------------------------------------
def sizes(quick: bool) -> dict[str, int]:
    if quick:
        return {
            "test": 40,
            "s1000": 20,
            "s50_per_class": 1,
            "s50_max": 4,
            "tune": 24,
            "tune_bm3d": 3,
            "bm3d_workers": 1,
            "fid": 24,
            "fid_ancestral": 3,
            "speed_batch": 16,
            "diffusers_batch": 4,
            "unit_steps": False,
        }
    return {
        "test": 10000,
        "s1000": 1000,
        "s50_per_class": 5,
        "s50_max": 50,
        "tune": 300,
        "tune_bm3d": 100,  # held-out digits for BM3D's grid: it takes ~0.1 s a digit
        "bm3d_workers": torch.get_num_threads(),  # processes, one digit each at a time
        "fid": 1000,
        "fid_ancestral": 10,
        "speed_batch": 256,
        "diffusers_batch": 64,
        "unit_steps": True,
    }


def digit_sets(n: dict[str, int]) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """(test images in [0, 1], labels, {set name: indices into the test set})."""
    xs, ys = load_mnist(train=False)
    x = pixels(xs[: n["test"]])  # (N, 1, 28, 28)
    y = ys[: n["test"]]
    s1000 = bundled_test_indices()
    s1000 = s1000[s1000 < n["test"]][: n["s1000"]]
    if len(s1000) < n["s1000"]:  # --quick: the first test digits stand in
        s1000 = torch.arange(n["s1000"])
    s50 = torch.cat([s1000[y[s1000] == c][: n["s50_per_class"]] for c in range(10)])
    s50 = s50.sort().values[: n["s50_max"]]
    return x, y, {"test": torch.arange(len(x)), "s1000": s1000, "s50": s50}


def held_out_train(n: int) -> Tensor:
    """``n`` fixed training digits for tuning the classical denoisers (not test digits)."""
    xs, _ = load_mnist(train=True)
    idx = torch.randperm(len(xs), generator=seeded(1234))[:n]
    return pixels(xs[idx])


# ---- section: quality ----------------------------------------------------------------------
def model_free(rid: str) -> bool:
    """Whether a quality row's denoiser never reads ``ddpm`` (so a new ``ddpm`` leaves it unchanged)."""
    return rid in ("noisy", "vae") or rid.startswith(("classical_", "supervised_"))


def quality(
    n: dict[str, int], log: Callable[[str], None], partial: Path | None = None, reuse: dict | None = None
) -> dict:
    """Every method at every sigma. With ``partial``, finished sigmas are saved there after each
    sigma and skipped when the section is run again with the same sizes (a resumable long run).

    With ``reuse`` (an earlier ``bench_quality.json`` of the same sizes and classical denoisers),
    the rows that do not read ``ddpm`` (``model_free``) and the classical tuning are taken from it
    instead of measured again: the noisy sets are seeded, so they would come out the same, and
    BM3D's tuning and rows are most of the section's time. Only the ``ddpm`` rows are measured.
    """
    x, labels, sets = digit_sets(n)
    model, schedule = tinyddpm.pretrained("ddpm")
    classifier, _ = tinyddpm.pretrained("classifier")
    vae, _ = tinyddpm.pretrained("vae")
    sup = {0.2: tinyddpm.pretrained("supervised_0.2")[0], 0.5: tinyddpm.pretrained("supervised_0.5")[0]}
    tune_x = held_out_train(n["tune"])
    den = dict(model=model, schedule=schedule, seed=0)
    classical = available_classical()

    # row id -> (label shown in tables, digit set, denoiser(y, sigma, idx) -> x_hat); readers look
    # rows up by id, the label is only displayed
    methods: dict[str, tuple[str, str, Callable]] = {
        "noisy": ("noisy input", "test", lambda y, s, i: y),
        "vae": ("VAE (chapter 1)", "test", lambda y, s, i: vae_reconstruction(vae, y)),
        "fixed_step": (
            FIXED_STEP_ROW,
            "s50",
            lambda y, s, i: fixed_step_chain(
                y, start_step=FIXED_STEP, model=model, schedule=schedule, seed=0
            ),
        ),
        "posterior_mean": ("posterior mean", "test", lambda y, s, i: denoise(y, s, **den)),
        "posterior_mean_blind": (
            "posterior mean, blind (sigma='auto')",
            "s1000",
            lambda y, s, i: denoise(y, "auto", **den),
        ),
        "posterior_mean_guided": (
            f"posterior mean, guided (g={GUIDANCE:g}, predicted label)",
            "s1000",
            lambda y, s, i: denoise(
                y, s, label=predict_labels(classifier, denoise(y, s, **den)), guidance=GUIDANCE, **den
            ),
        ),
        **{
            f"ddim_{k}": (
                f"DDIM, {k} steps",
                "s50",
                lambda y, s, i, k=k: denoise(y, s, method="ddim", steps=k, **den),
            )
            for k in DDIM_STEPS
        },
        "ancestral": (
            f"ancestral ({ANCESTRAL_STEPS} steps)",
            "s50",
            lambda y, s, i: denoise(y, s, method="ancestral", steps=ANCESTRAL_STEPS, **den),
        ),
        "average": (
            f"average of {AVERAGE_K} ancestral ({AVERAGE_STEPS} steps)",
            "s50",
            lambda y, s, i: denoise(y, s, method="average", samples=AVERAGE_K, steps=AVERAGE_STEPS, **den),
        ),
    }
    rows: list[dict] = []
    tuning: dict[str, dict] = {}
    done: set[str] = set()
    if reuse is not None:
        same = all(reuse["sizes"].get(k) == n[k] for k in QUALITY_SIZES) and reuse["classical"] == classical
        if not same or set(reuse["sigmas"]) != set(SIGMAS):
            raise SystemExit(
                "--reuse-model-free: the saved bench_quality.json has other sizes, sigmas or denoisers"
            )
        kept = {(r["id"], r["sigma"]): r for r in reuse["rows"] if model_free(r["id"])}
    if partial is not None and partial.exists():
        saved = json.loads(partial.read_text())
        if all(saved["sizes"].get(k) == n[k] for k in QUALITY_SIZES):
            rows, tuning, done = saved["rows"], saved["tuning"], set(saved["done"])
    for key, sigma in SIGMAS.items():
        if key in done:
            continue
        y_all = noisy_set(x, sigma, seed=0)
        # classical denoisers, tuned on held-out training digits (mean PSNR)
        y_tune = noisy_set(tune_x, sigma, seed=1)
        tuned = {}
        for name in classical:
            if reuse is not None:
                tuning.setdefault(name, {})[key] = reuse["tuning"][name][key]
                tuned[name] = reuse["tuning"][name][key]["param"]
                continue
            k = n["tune_bm3d"] if name == "bm3d" else n["tune"]
            best, grid_scores = tune_classical(
                name,
                tune_x[:k],
                y_tune[:k],
                sigma,
                score=lambda a, b: float(psnr(a, b).mean()),
                workers=n["bm3d_workers"] if name == "bm3d" else 1,
            )
            tuned[name] = best
            tuning.setdefault(name, {})[key] = {
                "param": best,
                "tune_psnr": {str(p): round(v, 3) for p, v in grid_scores.items()},
            }
        if reuse is not None:  # its params came back from JSON as lists, not the grid's tuples
            best_classical = reuse["tuning"]["best"][key]
        else:
            best_classical = max(tuned, key=lambda m: tuning[m][key]["tune_psnr"][str(tuned[m])])
        tuning.setdefault("best", {})[key] = best_classical
        per_sigma = dict(methods)
        for name in classical:
            per_sigma[f"classical_{name}"] = (
                f"{name} (tuned)",
                CLASSICAL_SET.get(name, "test"),
                lambda y, s, i, name=name: classical_denoise(
                    y, s, name=name, param=tuned[name], workers=n["bm3d_workers"] if name == "bm3d" else 1
                ),
            )
        for level in sup:
            if math.isclose(level, sigma):
                per_sigma[f"supervised_{level:g}"] = (
                    f"supervised U-Net (trained at {level:g})",
                    "test",
                    lambda y, s, i, m=sup[level]: supervised_denoise(m, y, s),
                )
        for rid, (name, set_name, fn) in per_sigma.items():
            if reuse is not None and model_free(rid):
                rows.append({**kept[(rid, key)], "reused": True})
                log(f"sigma {key:>6}  {name:55s} {set_name:6s} reused")
                continue
            idx = sets[set_name]
            t0 = time.perf_counter()
            x_hat = fn(y_all[idx], sigma, idx)
            dt = time.perf_counter() - t0
            row = {
                "id": rid,
                "method": name,
                "sigma": key,
                "set": set_name,
                "seconds_per_image": dt / len(idx),
                **score(x_hat, x[idx], labels=labels[idx], classifier=classifier),
            }
            if rid == f"classical_{best_classical}":
                row["best_classical"] = True
            # the same method on the common subset s50 (slicing is exact: results do not depend on the batch)
            pos = torch.searchsorted(idx, sets["s50"])
            s50 = sets["s50"]
            row["s50"] = score(x_hat[pos], x[s50], labels=labels[s50], classifier=classifier)
            if set_name == "test":  # and on the bundled 1,000, where BM3D runs
                s1000 = sets["s1000"]
                row["s1000"] = score(x_hat[s1000], x[s1000], labels=labels[s1000], classifier=classifier)
            rows.append(row)
            log(
                f"sigma {key:>6}  {name:55s} {set_name:6s} {row['psnr']:6.2f} dB  id {row['identity']:.3f}"
                f"  {dt:7.1f} s"
            )
        done.add(key)
        if partial is not None:
            partial.write_text(json.dumps({"sizes": n, "rows": rows, "tuning": tuning, "done": sorted(done)}))
    pd = perception_distortion(rows)
    return {
        "sizes": n,
        "sets": {k: [int(i) for i in v] if k != "test" else len(v) for k, v in sets.items()},
        "sigmas": SIGMAS,
        "tuning": tuning,
        "rows": rows,
        "perception_distortion": pd,
        "soltanayev_sda_db": SOLTANAYEV_SDA_DB,
        "fixed_step": FIXED_STEP,
        "classical": classical,
        "classical_tune_digits": {m: n["tune_bm3d"] if m == "bm3d" else n["tune"] for m in classical},
        "lead_over_best_of_bm3d_nl_means": lead_over_strongest(rows),
        **({"reused_model_free_rows_from": reuse["machine"]} if reuse is not None else {}),
    }


def lead_over_strongest(rows: list[dict]) -> dict[str, dict]:
    """Posterior mean minus the better of BM3D and tuned NL-means, per sigma, on the digits both ran on."""
    out = {}
    for key in dict.fromkeys(r["sigma"] for r in rows):
        at = {r["id"]: r for r in rows if r["sigma"] == key}
        pm = at["posterior_mean"]
        rivals = {at[m]["method"]: at[m] for m in ("classical_bm3d", "classical_nl_means") if m in at}
        if not rivals:
            continue
        on = "s1000" if "classical_bm3d" in at else "test"
        ref = pm["s1000"] if on == "s1000" else pm
        rival_psnr = {
            m: (r["s1000"]["psnr"] if on == "s1000" and r["set"] == "test" else r["psnr"])
            for m, r in rivals.items()
        }
        best = max(rival_psnr, key=rival_psnr.get)
        out[key] = {
            "digits": on,
            "posterior_mean": round(ref["psnr"], 3),
            "strongest": best,
            "strongest_psnr": round(rival_psnr[best], 3),
            "lead_db": round(ref["psnr"] - rival_psnr[best], 3),
        }
    return out


def perception_distortion(rows: list[dict]) -> dict[str, dict[str, float]]:
    """Per sigma: MSE(sampler) / MSE(posterior mean) on s50 (exact model: 2 for one sample, 1 + 1/K for K)."""
    out: dict[str, dict[str, float]] = {}
    for key in SIGMAS:
        by = {r["id"]: r["s50"]["mse"] for r in rows if r["sigma"] == key}
        pm = by["posterior_mean"]
        out[key] = {
            "ancestral_over_pm": round(by["ancestral"] / pm, 3),
            "average_over_pm": round(by["average"] / pm, 3),
            "ddim10_over_pm": round(by["ddim_10"] / pm, 3),
            "theory_sample": 2.0,
            "theory_average": 1 + 1 / AVERAGE_K,
        }
    return out


# ---- section: speed ------------------------------------------------------------------------
def _timed(fn: Callable[[], object], repeat: int = 3, warmup: bool = True) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, after one warm-up run if ``warmup``."""
    if warmup:
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


@torch.no_grad()
def speed(n: dict[str, int], log: Callable[[str], None]) -> dict:
    """Images per second at batch 1 and 256 (sigma 0.3), and the sampling loop's overhead."""
    model, schedule = tinyddpm.pretrained("ddpm")
    classifier, _ = tinyddpm.pretrained("classifier")
    x = tinyddpm.load_sample()[0]
    sigma = 0.3
    t_star = float(start_step(sigma, schedule))
    den = dict(model=model, schedule=schedule, seed=0)
    methods = {
        "posterior mean": (1, lambda y: denoise(y, sigma, **den)),
        "posterior mean, blind": (1, lambda y: denoise(y, "auto", **den)),
        f"posterior mean, guided (g={GUIDANCE:g}, predicted label)": (
            3,
            lambda y: denoise(
                y, sigma, label=predict_labels(classifier, denoise(y, sigma, **den)), guidance=GUIDANCE, **den
            ),
        ),
        "DDIM, 10 steps": (10, lambda y: denoise(y, sigma, method="ddim", steps=10, **den)),
        "DDIM, 50 steps": (50, lambda y: denoise(y, sigma, method="ddim", steps=50, **den)),
        f"ancestral ({ANCESTRAL_STEPS} steps)": (
            ANCESTRAL_STEPS,
            lambda y: denoise(y, sigma, method="ancestral", steps=ANCESTRAL_STEPS, **den),
        ),
        f"ancestral (unit steps from t* = {t_star:.1f})": (
            math.ceil(t_star),
            lambda y: denoise(y, sigma, method="ancestral", **den),
        ),
        f"average of {AVERAGE_K} ancestral ({AVERAGE_STEPS} steps)": (
            AVERAGE_K * AVERAGE_STEPS,
            lambda y: denoise(y, sigma, method="average", samples=AVERAGE_K, steps=AVERAGE_STEPS, **den),
        ),
    }
    out: dict = {"sigma": sigma, "machine": machine(), "methods": {}}
    for batch in (1, n["speed_batch"]):
        y = noisy_set(x[:batch], sigma)
        for name, (nfe, fn) in methods.items():
            if (batch > 1 and nfe > 10) or (name.startswith("ancestral (unit") and not n["unit_steps"]):
                continue  # > 10 evaluations x 256 images is minutes of CPU each; batch 1 shows the rate
            short = nfe * batch <= 10 * 16  # long runs: one timing, no warm-up (it matters for short ones)
            sec = _timed(lambda: fn(y), repeat=3 if short or nfe == 1 else 1, warmup=short or nfe == 1)
            out["methods"].setdefault(name, {"nfe": nfe})[f"batch_{batch}"] = {
                "images_per_second": round(batch / sec, 2),
                "seconds": round(sec, 4),
            }
            log(f"batch {batch:4d}  {name:55s} {batch / sec:9.2f} images/s")
    # overhead: the sampling loop vs (NFE x one bare forward pass of the same network)
    out["overhead"] = {}
    for batch, steps in ((n["speed_batch"], 10), (1, 50)):
        y = noisy_set(x[:batch], sigma)
        x_t = torch.randn(batch, 1, 28, 28, generator=seeded(0))
        t = torch.full((batch,), t_star / 2)
        bare = _timed(lambda: model(x_t, t), repeat=3 if batch > 1 else 50)
        for method in ("ddim", "ancestral"):
            loop = _timed(
                lambda: denoise(y, sigma, method=method, steps=steps, **den),
                repeat=1 if batch > 1 else 3,
                warmup=batch == 1,
            )
            ratio = loop / (steps * bare)
            out["overhead"][f"{method}, {steps} steps, batch {batch}"] = {
                "loop_seconds": round(loop, 4),
                "bare_forward_seconds": round(bare, 5),
                "ratio": round(ratio, 3),
            }
            log(f"overhead {method:9s} {steps} steps batch {batch:4d}: {ratio:.3f}")
    out["precision"] = precision_compare(model, schedule, x, n, log)
    return out


def precision_compare(model, schedule, x: Tensor, n: dict[str, int], log: Callable[[str], None]) -> dict:
    """Bare forward images/s, float32 vs the default precision ("auto"), at batch 1, 16 and 256; the
    network's FLOP utilisation against a 2048 x 2048 float32 matmul timed in the same run; and the
    posterior-mean PSNR of the two precisions on the bundled digits at every benchmark sigma."""
    from torch.utils.flop_counter import FlopCounterMode

    from tinyddpm.precision import with_precision

    with FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 1, 28, 28), torch.full((1,), 100.0))
    flops = fc.get_total_flops()  # per image, multiply-add = 2
    a = torch.randn(2048, 2048, generator=seeded(0))
    mm_flops = 2 * 2048**3 / _timed(lambda: a @ a, repeat=5)
    out: dict = {
        "gflop_per_image": round(flops / 1e9, 4),
        "matmul_2048_fp32_gflops": round(mm_flops / 1e9, 1),
        "forward": {},
        "psnr": {},
    }
    channels_last = copy.deepcopy(model).to(memory_format=torch.channels_last)  # a layout to try
    for batch in sorted({1, 16, n["speed_batch"]}):
        x_t = torch.randn(batch, 1, 28, 28, generator=seeded(0))
        t = torch.full((batch,), 100.0)
        row = {}
        for prec in ("fp32", "auto", "auto, channels_last"):
            net = (
                with_precision(channels_last, "auto")
                if prec.endswith("channels_last")
                else with_precision(model, prec)
            )
            sec = _timed(lambda net=net: net(x_t, t), repeat=20 if batch == 1 else 3)
            row[prec] = {
                "images_per_second": round(batch / sec, 1),
                "flop_utilisation_vs_fp32_matmul": round(batch * flops / sec / mm_flops, 3),
            }
        row["speedup"] = round(row["auto"]["images_per_second"] / row["fp32"]["images_per_second"], 2)
        out["forward"][f"batch_{batch}"] = row
        log(f"precision batch {batch:4d}: fp32 {row['fp32']['images_per_second']} auto "
            f"{row['auto']['images_per_second']} images/s ({row['speedup']}x)")  # fmt: skip
    for key, sigma in SIGMAS.items():
        y = noisy_set(x, sigma)
        got = {
            prec: float(psnr(denoise(y, sigma, model=model, schedule=schedule, precision=prec), x).mean())
            for prec in ("fp32", "auto")
        }
        out["psnr"][key] = {
            "fp32": round(got["fp32"], 4),
            "auto": round(got["auto"], 4),
            "auto_minus_fp32": round(got["auto"] - got["fp32"], 4),
        }
    out["digits"] = f"{len(x)} bundled test digits (posterior mean, noise seed 0)"
    return out


# ---- section: diffusers --------------------------------------------------------------------
@torch.no_grad()
def diffusers_compare(n: dict[str, int], log: Callable[[str], None]) -> dict:
    """The same network driven by diffusers' DDIMScheduler / DDPMScheduler and by tinyddpm."""
    try:
        import diffusers
    except ImportError:
        return {"skipped": "diffusers is not installed (pip install -e '.[bench]')"}
    model, schedule = tinyddpm.pretrained("ddpm")
    x, _ = tinyddpm.load_sample()
    batch = n["diffusers_batch"]
    x = x[:batch]
    t0_step = 250  # a start step on diffusers' integer grid; sigma chosen so that t* = 250 exactly
    sigma = float(schedule.sigma_from_t(float(t0_step))) / 2
    y = noisy_set(x, sigma)

    model(to_model(y), torch.full((batch,), float(t0_step)))  # warm-up: neither library pays first-call costs
    out: dict = {
        "diffusers": diffusers.__version__,
        "batch": batch,
        "sigma": round(sigma, 5),
        "start_step": t0_step,
        "precision": "float32",
    }
    for name, steps in (("DDIM", 10), ("DDPM ancestral", 25)):
        # the settings that make diffusers run tinyddpm's chain (tinyddpm.harness.interop says why each)
        sched = interop.scheduler(schedule, "ddim" if name == "DDIM" else "ddpm")
        method = "ddim" if name == "DDIM" else "ancestral"
        t0 = time.perf_counter()
        # float32 on both sides (diffusers calls the network as it is): the same arithmetic to compare
        a = denoise(
            y, sigma, model=model, schedule=schedule, method=method, steps=steps, seed=0, precision="fp32"
        )
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        b = interop.run_chain(model, schedule, sched, y, start=t0_step, steps=steps, generator=seeded(0))
        t_theirs = time.perf_counter() - t0
        row = {
            "steps": steps,
            "seconds_tinyddpm": round(t_ours, 3),
            "seconds_diffusers": round(t_theirs, 3),
            "time_ratio_tinyddpm_over_diffusers": round(t_ours / t_theirs, 3),
            "psnr_tinyddpm": round(float(psnr(a, x).mean()), 3),
            "psnr_diffusers": round(float(psnr(b, x).mean()), 3),
        }
        if name == "DDIM":  # deterministic: the two outputs themselves must agree
            row["max_abs_difference"] = float((a - b).abs().max())
        out[name] = row
        log(f"diffusers {name}: {row}")
    return out


# ---- section: fid --------------------------------------------------------------------------
@torch.no_grad()
def fid(n: dict[str, int], log: Callable[[str], None]) -> dict:
    """Classifier-feature FID of generated digits against the test set, and the train-vs-test floor."""
    model, schedule = tinyddpm.pretrained("ddpm")
    classifier, _ = tinyddpm.pretrained("classifier")
    classifier.eval()
    test = pixels(load_mnist(train=False)[0])
    train = pixels(load_mnist(train=True)[0])
    f_test = classifier_features(classifier, test)
    out: dict = {
        "reference": f"{len(test)} MNIST test digits",
        "generation": "unconditional: null label; guided: image i asks for class i mod 10; seed 0",
        "runs": {},
    }
    floor_idx = torch.randperm(len(train), generator=seeded(99))
    for count in (n["fid"], n["fid_ancestral"]):
        out["runs"][f"training digits (floor), n={count}"] = generation_scores(
            classifier, train[floor_idx[:count]], f_test
        )
    for steps in (10, 20, 50):
        imgs, sec = generated_digits(model, schedule, n["fid"], steps=steps)
        big, small = f"DDIM {steps} steps, n={n['fid']}", f"DDIM {steps} steps, n={n['fid_ancestral']}"
        out["runs"][big] = {**generation_scores(classifier, imgs, f_test), "seconds": round(sec, 1)}
        out["runs"][small] = generation_scores(classifier, imgs[: n["fid_ancestral"]], f_test)
        log(f"fid {big}: {out['runs'][big]['fid']}")
    # g = 1: the conditional model alone; against the null-label rows it shows how much of the gap
    # is the null-label path (trained on p_uncond of the batches) rather than the network
    for g in (1.0, GUIDANCE):
        imgs, sec = generated_digits(model, schedule, n["fid"], steps=50, conditional=True, guidance=g)
        name = f"DDIM 50 steps, class label, guidance {g:g}, n={n['fid']}"
        out["runs"][name] = {**generation_scores(classifier, imgs, f_test), "seconds": round(sec, 1)}
        log(f"fid {name}: {out['runs'][name]['fid']}")
    imgs, sec = generated_digits(model, schedule, n["fid_ancestral"], method="ancestral", steps=None)
    name = f"ancestral {schedule.T} steps, n={n['fid_ancestral']}"
    out["runs"][name] = {**generation_scores(classifier, imgs, f_test), "seconds": round(sec, 1)}
    log(f"fid {name}: {out['runs'][name]['fid']}")
    floor = out["runs"][f"training digits (floor), n={n['fid']}"]["fid"]
    out["targets"] = {
        "unconditional_ddim50_over_floor": round(
            out["runs"][f"DDIM 50 steps, n={n['fid']}"]["fid"] / floor, 2
        ),
        "guided_ddim50_over_floor": round(
            out["runs"][f"DDIM 50 steps, class label, guidance {GUIDANCE:g}, n={n['fid']}"]["fid"] / floor, 2
        ),
        "unconditional_max_class_deviation": out["runs"][f"DDIM 50 steps, n={n['fid']}"][
            "max_class_deviation"
        ],
    }
    return out


# ---- section: summary ----------------------------------------------------------------------
def summary(out_dir: Path) -> str:
    """BENCHMARKS.md from the section files present in ``out_dir``."""

    def load(name: str) -> dict | None:
        p = out_dir / f"bench_{name}.json"
        return json.loads(p.read_text()) if p.exists() else None

    q, sp, df, fd = load("quality"), load("speed"), load("diffusers"), load("fid")
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python benchmarks/run.py` from `src/tinyddpm/harness/results/bench_*.json`;"
        " do not edit.",
        "",
    ]
    if q:
        keys = list(q["sigmas"])
        n = q["sizes"]
        lines += [
            "## Denoising quality: mean PSNR (dB) / identity kept (%)",
            "",
            f"Each method on its own digit set: test = {n['test']:,} MNIST test digits, "
            f"s1000 = the {n['s1000']:,} bundled test digits, s50 = {len(q['sets']['s50'])} of them "
            f"({n['s50_per_class']} per class). Noise not clipped, fixed seed. "
            "Classical denoisers tuned per sigma on held-out training digits "
            f"({n['tune']:,}; BM3D {n.get('tune_bm3d', n['tune']):,}): NL-means over patch size "
            f"{', '.join(str(p) for p in sorted({p for p, _ in CLASSICAL_GRIDS['nl_means']}))} "
            f"and h from {min(h for _, h in CLASSICAL_GRIDS['nl_means'])} to "
            f"{max(h for _, h in CLASSICAL_GRIDS['nl_means'])} sigma, BM3D over its noise level "
            f"({min(CLASSICAL_GRIDS['bm3d'])} to {max(CLASSICAL_GRIDS['bm3d'])} sigma). "
            f"The fixed-step row starts the linear T=300 chain at step {q.get('fixed_step', 100)} "
            "with the noisy image unscaled, whatever sigma: not the student's procedure "
            "(`src/tinyddpm/harness/results/student.json` measures that).",
            "",
            "| method | digits | " + " | ".join(f"σ={k}" for k in keys) + " |",
            "|---|---|" + "---|" * len(keys),
        ]
        methods = list(dict.fromkeys(r["id"] for r in q["rows"]))
        label = {r["id"]: r["method"] for r in q["rows"]}
        for m in methods:
            cells, digits = [], ""
            for k in keys:
                r = next((r for r in q["rows"] if r["id"] == m and r["sigma"] == k), None)
                if r is None:
                    cells.append("")
                    continue
                digits = r["set"]
                star = " ★" if r.get("best_classical") else ""
                cells.append(f"{r['psnr']:.2f} / {100 * r['identity']:.1f}{star}")
            lines.append(f"| {label[m]} | {digits} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "★ the classical method with the best held-out (training-digit) PSNR at that sigma.",
            "",
        ]
        lead = q.get("lead_over_best_of_bm3d_nl_means", {})
        if lead:
            lines += [
                "## Lead of the posterior mean over the stronger of BM3D and tuned NL-means (dB)",
                "",
                "| σ | digits | posterior mean | strongest rival | its PSNR | lead |",
                "|---|---|---|---|---|---|",
            ]
            lines += [
                f"| {k} | {v['digits']} | {v['posterior_mean']:.2f} | {v['strongest']} "
                f"| {v['strongest_psnr']:.2f} | {v['lead_db']:+.2f} |"
                for k, v in lead.items()
            ]
            lines.append("")
        lines += [
            f"## All methods on the same {len(q['sets']['s50'])} digits (s50): mean PSNR (dB) / SSIM",
            "",
            "| method | " + " | ".join(f"σ={k}" for k in keys) + " |",
            "|---|" + "---|" * len(keys),
        ]
        for m in methods:
            cells = []
            for k in keys:
                r = next((r for r in q["rows"] if r["id"] == m and r["sigma"] == k), None)
                cells.append(f"{r['s50']['psnr']:.2f} / {r['s50']['ssim']:.3f}" if r else "")
            lines.append(f"| {label[m]} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "## σ = 50/255, protocol of Soltanayev & Chun (2018): outputs quantised to uint8, "
            "PSNR of the pooled MSE",
            "",
            f"Their stacked denoising autoencoder: {q['soltanayev_sda_db']} dB.",
            "",
            "| method | digits | pooled PSNR, uint8 (dB) |",
            "|---|---|---|",
        ]
        for r in q["rows"]:
            if r["sigma"] == "50/255":
                lines.append(f"| {r['method']} | {r['set']} | {r['psnr_pooled_uint8']:.2f} |")
        lines += [
            "",
            "## Perception-distortion: MSE of a sample / MSE of the posterior mean (s50)",
            "",
            "| σ | ancestral sample | average of 8 | DDIM 10 | exact model: sample "
            "| exact model: average of 8 |",
            "|---|---|---|---|---|---|",
        ]
        for k, v in q["perception_distortion"].items():
            lines.append(
                f"| {k} | {v['ancestral_over_pm']:.2f} | {v['average_over_pm']:.2f} "
                f"| {v['ddim10_over_pm']:.2f} | {v['theory_sample']:.2f} "
                f"| {v['theory_average']:.3f} |"
            )
        lines += ["", "Wall time per image of each row is in `bench_quality.json` (`seconds_per_image`)."]
        if "reused_model_free_rows_from" in q:
            m = q["reused_model_free_rows_from"]
            lines += [
                "The rows that do not read `ddpm` (noisy, VAE, classical, supervised) were kept from the "
                f"previous run (`--reuse-model-free`), measured on {m['cores']} cores of an {m['cpu']}."
            ]
    if sp:
        m = sp["machine"]
        lines += [
            "",
            f"## Speed (σ = {sp['sigma']}): images per second",
            "",
            f"{m['cpu']}, {m['threads']} torch threads, torch {m['torch']}, Python {m['python']}"
            + (f", network in {m['precision']}." if "precision" in m else "."),
            "",
            "| method | network evaluations per image | batch 1 | batch 256 |",
            "|---|---|---|---|",
        ]
        for name, v in sp["methods"].items():
            b1 = v.get("batch_1", {}).get("images_per_second")
            bn = next(
                (
                    vv["images_per_second"]
                    for kk, vv in v.items()
                    if kk.startswith("batch_") and kk != "batch_1"
                ),
                None,
            )
            lines.append(
                f"| {name} | {v['nfe']} | {b1 if b1 is not None else ''} "
                f"| {bn if bn is not None else 'not run'} |"
            )
        lines += [
            "",
            "Overhead: sampling loop time / (steps x one bare forward pass of the same network), "
            "target <= 1.05.",
            "",
            "| run | loop (s) | bare forward (s) | ratio |",
            "|---|---|---|---|",
        ]
        for k, v in sp["overhead"].items():
            lines.append(f"| {k} | {v['loop_seconds']} | {v['bare_forward_seconds']} | {v['ratio']:.3f} |")
        pr = sp.get("precision")
        if pr:
            lines += [
                "",
                f'Precision: bare forward pass, float32 vs the default (`precision="auto"`). '
                f"{pr['gflop_per_image']} GFLOP per image; a 2048 x 2048 float32 matmul ran at "
                f"{pr['matmul_2048_fp32_gflops']} GFLOP/s in the same run (utilisation = network FLOP/s "
                "over that).",
                "",
                "| batch | fp32 images/s | auto images/s | auto, channels_last images/s "
                "| speed-up (auto / fp32) | fp32 utilisation | auto utilisation |",
                "|---|---|---|---|---|---|---|",
            ]
            for k, v in pr["forward"].items():
                lines.append(
                    f"| {k.removeprefix('batch_')} | {v['fp32']['images_per_second']} "
                    f"| {v['auto']['images_per_second']} | {v['auto, channels_last']['images_per_second']} "
                    f"| {v['speedup']:.2f}x "
                    f"| {v['fp32']['flop_utilisation_vs_fp32_matmul']:.0%} "
                    f"| {v['auto']['flop_utilisation_vs_fp32_matmul']:.0%} |"
                )
            lines += [
                "",
                f"Posterior-mean PSNR, {pr['digits']}: auto minus fp32 (dB): "
                + ", ".join(f"σ={k} {v['auto_minus_fp32']:+.4f}" for k, v in pr["psnr"].items())
                + ".",
            ]
    if df:
        lines += ["", "## The same network driven by diffusers", ""]
        if "skipped" in df:
            lines.append(f"Skipped: {df['skipped']}.")
        else:
            lines += [
                f"diffusers {df['diffusers']}, batch {df['batch']}, denoising at σ = {df['sigma']} "
                f"(t* = {df['start_step']}).",
                "",
                "| scheduler | steps | tinyddpm (s) | diffusers (s) | time ratio "
                "| PSNR tinyddpm | PSNR diffusers |",
                "|---|---|---|---|---|---|---|",
            ]
            for name in ("DDIM", "DDPM ancestral"):
                r = df[name]
                lines.append(
                    f"| {name} | {r['steps']} | {r['seconds_tinyddpm']} | {r['seconds_diffusers']} "
                    f"| {r['time_ratio_tinyddpm_over_diffusers']:.3f} | {r['psnr_tinyddpm']:.2f} "
                    f"| {r['psnr_diffusers']:.2f} |"
                )
            if "max_abs_difference" in df["DDIM"]:
                diff = df["DDIM"]["max_abs_difference"]
                lines.append(f"\nDDIM outputs differ by at most {diff:.2e} (pixel units).")
    if fd:
        lines += [
            "",
            "## Sample quality: classifier-feature FID against the test set",
            "",
            "| run | FID | class counts (0-9) | total variation from uniform "
            "| largest class deviation | seconds |",
            "|---|---|---|---|---|---|",
        ]
        for name, r in fd["runs"].items():
            dev = r.get("max_class_deviation")
            lines.append(
                f"| {name} | {r['fid']:.2f} | {' '.join(map(str, r['class_counts']))} "
                f"| {r['class_tv_from_uniform']:.3f} | {'' if dev is None else f'{dev:.0%}'} "
                f"| {r.get('seconds', '')} |"
            )
        tg = fd.get("targets")
        if tg:
            lines += [
                "",
                f"FID over the training-digit floor: unconditional DDIM-50 "
                f"{tg['unconditional_ddim50_over_floor']:.2f}x (target at most 3x), guided "
                f"{tg['guided_ddim50_over_floor']:.2f}x (target at most 2x); largest deviation of an "
                f"unconditional class count from uniform {tg['unconditional_max_class_deviation']:.0%} "
                "(target within 30 %).",
            ]
    text = "\n".join(lines) + "\n"
    (out_dir / "BENCHMARKS.md").write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a few digits, same code (for tests)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="results folder (default: src/tinyddpm/harness/results; with --quick, a new temporary folder)",
    )
    p.add_argument("--only", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    p.add_argument(
        "--reuse-model-free",
        action="store_true",
        help="quality: take the rows that do not read ddpm, and the tuning, from OUT/bench_quality.json",
    )
    a = p.parse_args(argv)
    if a.out is None and a.quick:  # a quick run never overwrites the full run's results by default
        a.out = Path(tempfile.mkdtemp(prefix="tinyddpm-bench-quick-"))
    elif a.out is None:
        a.out = ROOT / "src" / "tinyddpm" / "harness" / "results"
    a.out.mkdir(parents=True, exist_ok=True)
    print(f"writing to {a.out}", flush=True)
    n = sizes(a.quick)
    log = lambda s: print(s, flush=True)  # noqa: E731
    for name, fn in (("quality", quality), ("speed", speed), ("diffusers", diffusers_compare), ("fid", fid)):
        if name in a.only:
            t0 = time.perf_counter()
            torch.manual_seed(0)  # nothing should draw from the global generator; this makes sure of it
            if name == "quality":
                saved = a.out / "bench_quality.json"
                reuse = json.loads(saved.read_text()) if a.reuse_model_free else None
                res = quality(n, log, partial=a.out / "bench_quality.partial.json", reuse=reuse)
            else:
                res = fn(n, log)
            res["section_seconds"] = round(time.perf_counter() - t0, 1)
            res["quick"] = a.quick
            res["machine"] = machine()
            (a.out / f"bench_{name}.json").write_text(json.dumps(res, indent=1) + "\n")
            if name == "quality":
                (a.out / "bench_quality.partial.json").unlink(missing_ok=True)
            log(f"== {name}: {res['section_seconds']} s")
    if "summary" in a.only:
        summary(a.out)
    print(f"results in {a.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
