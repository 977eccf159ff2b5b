"""What a ``denoise()`` call costs beyond the network: the shipped model is loaded once.

For one digit (and for 16), it times, in one process and interleaved round by round:

- ``forward``: one bare forward pass of the shipped U-Net on x_t* (what any denoiser must pay),
  in float32 and under bfloat16 autocast;
- ``denoise``: ``tinyddpm.denoise(y, sigma=0.3)`` with the default model (posterior mean), after
  a first call has loaded it: input conversion, sigma -> t*, the network, Tweedie's step, clip;
  with ``precision="fp32"`` and with the default ``"auto"``, each against the forward pass of
  the same precision;
- ``first call``: the first ``denoise()`` of a fresh process (reads, hashes and builds the model).

Each figure is the median of ``--rounds`` rounds; the ratio denoise / forward is the overhead.

    python benchmarks/call_overhead.py               # writes src/tinyddpm/harness/results/call_overhead.json
    python benchmarks/call_overhead.py --out /tmp/x  # anywhere else
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import tinyddpm
from tinyddpm.harness.evaluate import machine
from tinyddpm.precision import with_precision

ROOT = Path(__file__).resolve().parents[1]
SIGMA = 0.3


def first_call_seconds() -> float:
    """Wall time of the first denoise() in a fresh process (model read, hashed and built)."""
    code = (
        "import time, torch, tinyddpm; y = torch.rand(1, 1, 28, 28); t = time.perf_counter();"
        "tinyddpm.denoise(y, 0.3); print(time.perf_counter() - t)"
    )
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )


@torch.no_grad()
def measure(n: int, rounds: int) -> dict[str, float]:
    x = tinyddpm.load_sample()[0][:n]
    y = tinyddpm.add_noise(x, SIGMA, generator=tinyddpm.seeded(0))
    model, schedule = tinyddpm.pretrained("ddpm")
    t_star = tinyddpm.start_step(torch.full((n,), SIGMA), schedule)
    x_t = schedule.alpha_bar_at(t_star).sqrt().float().reshape(-1, 1, 1, 1) * (2 * y - 1)
    t_star = t_star.float()
    auto = with_precision(model, "auto")

    def timed(fn) -> float:  # noqa: ANN001
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    calls = {
        "forward_fp32": lambda: model(x_t, t_star, None),
        "denoise_fp32": lambda: tinyddpm.denoise(y, SIGMA, precision="fp32"),
        "forward_auto": lambda: auto(x_t, t_star, None),
        "denoise_auto": lambda: tinyddpm.denoise(y, SIGMA),
    }
    for fn in calls.values():  # warm-up; the first denoise loads and caches the model
        fn()
    times: dict[str, list[float]] = {k: [] for k in calls}
    for _ in range(rounds):
        for k, fn in calls.items():
            times[k].append(timed(fn))
    med = {k: statistics.median(v) for k, v in times.items()}
    row: dict[str, float] = {"images": n}
    row.update({f"{k}_ms": round(1e3 * v, 3) for k, v in med.items()})
    row["ratio_fp32"] = round(med["denoise_fp32"] / med["forward_fp32"], 3)
    row["ratio_auto"] = round(med["denoise_auto"] / med["forward_auto"], 3)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--out", type=Path, default=ROOT / "src" / "tinyddpm" / "harness" / "results")
    a = ap.parse_args()
    rows = [measure(n, a.rounds) for n in (1, 16)]
    result = {
        "machine": machine(),
        "sigma": SIGMA,
        "rounds": a.rounds,
        "rows": rows,
        "first_call_s": round(first_call_seconds(), 3),
    }
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "call_overhead.json").write_text(json.dumps(result, indent=1) + "\n")
    for r in rows:
        print(
            f"{r['images']:>3} digit(s): fp32 forward {r['forward_fp32_ms']:.2f} ms, denoise "
            f"{r['denoise_fp32_ms']:.2f} ms (x{r['ratio_fp32']:.2f}); "
            f"auto forward {r['forward_auto_ms']:.2f} ms, "
            f"denoise {r['denoise_auto_ms']:.2f} ms (x{r['ratio_auto']:.2f})"
        )
    print(f"first call in a fresh process: {result['first_call_s']:.2f} s -> {a.out / 'call_overhead.json'}")


if __name__ == "__main__":
    main()
