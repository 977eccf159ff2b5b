"""Peak memory of ``tinyddpm.denoise`` on 20,000 digits: bounded by the chunk, not by N.

Denoises N noisy digits (the bundled 1,000-digit sample tiled N / 1,000 times, plus seeded
Gaussian noise of sigma 0.3, not clipped) with the shipped model and the one-step posterior
mean, for N = 2,000 and 20,000 and batch sizes 64, 256 (the default) and 1024. Every
measurement runs in a fresh Python process, so each peak is its own:

- ``baseline``: the process has imported torch, loaded the pretrained model and built the
  N inputs, and does not denoise;
- ``denoise``: the same, then one ``denoise(y, 0.3, method="posterior_mean", ...)`` call.

The peak resident set size is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``; the increase over
the baseline of the same N is what denoising costs. The output itself (N x 784 float32, 63 MB
for 20,000 digits) is inherent; everything else should depend on the batch size only. The
inputs are built in place, chunk by chunk, so that building them does not raise the baseline's
peak above what the inputs hold.

With glibc's default malloc, the peak also holds freed memory that malloc keeps for reuse
(its mmap threshold adapts upwards as large blocks are freed), and how much depends on the
order of allocations: two runs of the same row can differ by about 100 MB. Rows marked
``mmap_threshold`` run with ``MALLOC_MMAP_THRESHOLD_=131072``, which fixes the threshold so
that freed blocks return to the system: their peak is what live tensors hold. Rows with
``model="zero"`` (a network that returns zeros: no activations) isolate what ``denoise``
allocates besides the network, with ``clip`` on and off (``clip`` adds the final
``out.clamp(0, 1)``).

    OMP_NUM_THREADS=1 python benchmarks/memory.py           # all rows (half an hour or more at one thread)
    OMP_NUM_THREADS=1 python benchmarks/memory.py --resume  # keep rows already in memory.json
    python benchmarks/memory.py --child denoise 2000 256     # one measurement, prints one JSON line

Writes ``src/tinyddpm/harness/results/memory.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from tinyddpm.harness.evaluate import machine
from tinyddpm.seeding import seeded

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
SIGMA = 0.3
SEED = 0
MiB = 2**20
FIXED = "mmap_threshold"  # glibc with MALLOC_MMAP_THRESHOLD_ fixed: freed blocks go back to the system
ALLOCATOR_ENV = {"default": {}, FIXED: {"MALLOC_MMAP_THRESHOLD_": "131072"}}
CONFIGS = [  # (mode, N, batch_size, clip, model, allocator)
    ("baseline", 2000, None, True, "pretrained", "default"),
    ("baseline", 20000, None, True, "pretrained", "default"),
    ("denoise", 2000, 64, True, "pretrained", "default"),
    ("denoise", 2000, 256, True, "pretrained", "default"),
    ("denoise", 2000, 1024, True, "pretrained", "default"),
    ("denoise", 20000, 64, True, "pretrained", "default"),
    ("denoise", 20000, 256, True, "pretrained", "default"),
    ("denoise", 20000, 1024, True, "pretrained", "default"),
    ("baseline", 2000, None, True, "pretrained", FIXED),
    ("baseline", 20000, None, True, "pretrained", FIXED),
    ("denoise", 2000, 256, True, "pretrained", FIXED),
    ("denoise", 20000, 256, True, "pretrained", FIXED),
    ("denoise", 2000, 256, True, "zero", FIXED),
    ("denoise", 20000, 256, True, "zero", FIXED),
    ("denoise", 2000, 256, False, "zero", FIXED),
    ("denoise", 20000, 256, False, "zero", FIXED),
]


def _status_kib(field: str) -> int | None:
    """A ``VmRSS`` / ``VmHWM`` line of /proc/self/status in KiB (Linux), else None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def child(mode: str, n: int, batch_size: int | None, clip: bool, model_kind: str = "pretrained") -> dict:
    """One measurement in this (fresh) process."""
    import torch

    import tinyddpm
    from tinyddpm.denoise import default_model

    model, schedule = default_model()
    if model_kind == "zero":
        model = ZeroEps()
    x, _ = tinyddpm.load_sample()  # (1000, 1, 28, 28) in [0, 1]
    reps = -(-n // len(x))
    y = x.repeat(reps, 1, 1, 1)[:n].contiguous()  # (n, 1, 28, 28)
    del x
    gen = seeded(SEED)
    for chunk in y.split(1000):  # y += sigma * noise, in place: no second N-sized tensor
        chunk.add_(torch.randn(chunk.shape, generator=gen), alpha=SIGMA)
    rec = {
        "mode": mode,
        "n": n,
        "batch_size": batch_size,
        "clip": clip,
        "model": model_kind,
        "allocator": FIXED if os.environ.get("MALLOC_MMAP_THRESHOLD_") else "default",
        "rss_before_bytes": (_status_kib("VmRSS") or 0) * 1024,
    }
    if mode == "denoise":
        t0 = time.perf_counter()
        out = tinyddpm.denoise(
            y,
            SIGMA,
            method="posterior_mean",
            model=model,
            schedule=schedule,
            batch_size=batch_size,
            clip=clip,
            seed=SEED,
        )
        rec["seconds"] = round(time.perf_counter() - t0, 1)
        rec["rss_after_bytes"] = (_status_kib("VmRSS") or 0) * 1024
        assert out.shape == y.shape and bool(torch.isfinite(out).all())
    rec["peak_rss_bytes"] = _peak_bytes()
    rec["threads"] = torch.get_num_threads()
    return rec


def ZeroEps():  # noqa: ANN201, N802
    """A stand-in network that predicts zero noise: denoise's own allocations, no activations."""
    import torch

    class _ZeroEps(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.anchor = torch.nn.Parameter(torch.zeros(()))  # denoise reads the device from it

        def forward(self, x_t, t, y=None):  # noqa: ANN001, ANN201
            return torch.zeros_like(x_t)

    return _ZeroEps()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child", nargs=3, metavar=("MODE", "N", "BATCH_SIZE"), help="one measurement (internal)")
    p.add_argument("--no-clip", action="store_true", help="with --child: denoise(..., clip=False)")
    p.add_argument("--zero-model", action="store_true", help="with --child: a network that returns zeros")
    p.add_argument("--resume", action="store_true", help="keep the rows already measured in --out")
    p.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    a = p.parse_args()
    if a.child:
        mode, n, bs = a.child
        kind = "zero" if a.zero_model else "pretrained"
        print(json.dumps(child(mode, int(n), None if bs == "-" else int(bs), not a.no_clip, kind)))
        return

    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    old = {}
    if a.resume and a.out.exists():
        for r in json.loads(a.out.read_text())["rows"]:
            key = (
                r["mode"],
                r["n"],
                r["batch_size"],
                r["clip"],
                r.get("model", "pretrained"),
                r.get("allocator", "default"),
            )
            old[key] = r
    rows = []
    for key in CONFIGS:
        mode, n, bs, clip, kind, alloc = key
        if key in old:
            rows.append(old[key] | {"model": kind, "allocator": alloc})
            continue
        cmd = [sys.executable, __file__, "--child", mode, str(n), "-" if bs is None else str(bs)]
        cmd += (["--no-clip"] if not clip else []) + (["--zero-model"] if kind == "zero" else [])
        r = subprocess.run(cmd, capture_output=True, text=True, env=env | ALLOCATOR_ENV[alloc], check=False)
        if r.returncode:
            sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
        rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(
            f"  {mode} N={n} batch_size={bs} clip={clip} model={kind} allocator={alloc}: "
            f"peak {rows[-1]['peak_rss_bytes'] / MiB:.1f} MiB",
            flush=True,
        )

    base = {(r["n"], r["allocator"]): r["peak_rss_bytes"] for r in rows if r["mode"] == "baseline"}
    for r in rows:
        r["output_bytes"] = r["n"] * 784 * 4
        if r["mode"] == "denoise":
            r["increase_bytes"] = r["peak_rss_bytes"] - base[r["n"], r["allocator"]]
            r["increase_less_output_bytes"] = r["increase_bytes"] - r["output_bytes"]
    threads = {r["threads"] for r in rows}
    results = {
        "_what": "peak RSS of tinyddpm.denoise(method='posterior_mean') with the shipped model, sigma 0.3; "
        "one fresh process per row; increase = peak - peak of the baseline process of the same N "
        "(model and inputs loaded, no denoising) with the same allocator setting",
        # the children measured: their OMP_NUM_THREADS and torch threads, not this process's
        "_machine": machine()
        | {
            "OMP_NUM_THREADS": env["OMP_NUM_THREADS"],
            "threads": threads.pop() if len(threads) == 1 else sorted(threads),
        },
        "_command": "OMP_NUM_THREADS=1 python benchmarks/memory.py",
        "rows": rows,
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    print(
        f"\n{'allocator':>14} {'model':>10} {'N':>6} {'batch':>5} {'clip':>5} {'peak MiB':>9} "
        f"{'+ over base':>11} {'output':>7} {'+ - output':>10} {'s':>6}"
    )
    for r in rows:
        mib = {
            k: r[k] / MiB
            for k in ("peak_rss_bytes", "output_bytes", "increase_bytes", "increase_less_output_bytes")
            if k in r
        }
        if r["mode"] == "baseline":
            print(
                f"{r['allocator']:>14} {'-':>10} {r['n']:>6} {'-':>5} {'-':>5} "
                f"{mib['peak_rss_bytes']:>9.1f} {'(baseline)':>11}"
            )
            continue
        print(
            f"{r['allocator']:>14} {r['model']:>10} {r['n']:>6} {r['batch_size']:>5} {str(r['clip']):>5} "
            f"{mib['peak_rss_bytes']:>9.1f} {mib['increase_bytes']:>11.1f} {mib['output_bytes']:>7.1f} "
            f"{mib['increase_less_output_bytes']:>10.1f} {r['seconds']:>6.1f}"
        )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
