"""The one-step denoiser as an ONNX file, for onnxruntime and for the book's in-page demo.

The posterior mean at the matched step (:func:`tinyddpm.denoise` with ``method="posterior_mean"``)
is one network call (Ho et al. 2020, Eq. 15, Tweedie's formula at t*). This module wraps the shipped
U-Net and that step into one graph and writes it with ``torch.onnx.export`` (the TorchScript
exporter, ``dynamo=False``), plus a JSON file beside it holding what a page needs to feed it.

Notation (as in :mod:`tinyddpm.denoise`): ``y`` the noisy digit in pixel units, never clipped;
``sigma`` its noise std in pixel units (model units ``s = 2 sigma``); ``t`` the fractional matched
step t* with alpha_bar(t*) = 1 / (1 + s^2) on the linearly interpolated schedule; ``alpha_bar`` the
schedule's alpha_bar(t*).

The graph (opset 17, any batch size N)::

    inputs   y (N, 1, 28, 28) float32, t (N,) float32, alpha_bar (N,) float32
    x_t    = sqrt(alpha_bar) (2 y - 1)                         x_{t*} = sqrt(ab) y, model units
    eps    = eps_theta(x_t, t)                                 the null class label
    x0     = clip((x_t - sqrt(1 - alpha_bar) eps) / sqrt(alpha_bar), -1, 1)   Eq. 15
    output   x0_hat (N, 1, 28, 28) float32 = clip((x0 + 1) / 2, 0, 1), pixel units

t* and alpha_bar(t*) stay outside the graph: the caller computes them in float64 from the schedule
(:func:`onnx_inputs`; the page from the JSON's ``alpha_bar`` table) exactly as ``denoise`` does, then
rounds them to float32 as ``denoise`` does. The JSON file (``<name>.json``) holds the schedule's
``T`` and ``alpha_bar`` for t = 0..T, the largest sigma, the ONNX file's sha256 and a few bundled
test digits (8-bit, row-major) for the page's buttons.

Regenerate the book's copy (the only copy; it is not package data: ``pip`` users export their own)::

    python -m tinyddpm.harness.export book/_static/in_page/ddpm_posterior_mean.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import pretrained, registry
from ..data import load_sample
from ..denoise import start_step
from ..schedules import NoiseSchedule
from ..seeding import seeded

OPSET = 17
INPUT_NAMES = ("y", "t", "alpha_bar")
OUTPUT_NAME = "x0_hat"


class PosteriorMean(nn.Module):
    """The exported graph: (y, t*, alpha_bar(t*)) -> E[x0 | y], in pixels.

    The float32 operations of ``denoise(..., method="posterior_mean",
    precision="fp32")``, in its order, once it has t* and alpha_bar(t*).
    """

    def __init__(self, eps_model: torch.nn.Module) -> None:
        super().__init__()
        self.eps_model = eps_model

    def forward(self, y: Tensor, t: Tensor, alpha_bar: Tensor) -> Tensor:
        """(N, 1, 28, 28) noisy pixels, (N,) t*, (N,) alpha_bar(t*) -> (N, 1, 28, 28) E[x0 | y] in pixels."""
        ab = alpha_bar.reshape(-1, 1, 1, 1)  # (N, 1, 1, 1)
        x_t = ab.sqrt() * (2 * y - 1)  # x_t* = sqrt(ab) y, model units
        eps = self.eps_model(x_t, t)  # (N, 1, 28, 28), null label
        x0 = (x_t - (1 - ab).sqrt() * eps) / ab.sqrt()  # Eq. 15
        x0 = x0.clamp(-1, 1)  # clip_x0, as denoise(clip=True)
        return ((x0 + 1) / 2).clamp(0, 1)  # pixel units


def onnx_inputs(y: Tensor | np.ndarray, sigma: float, schedule: NoiseSchedule) -> dict[str, np.ndarray]:
    """The graph's inputs for pixel-unit digits ``y`` (N, 1, 28, 28) at one pixel-unit ``sigma``.

    t* and alpha_bar(t*) in float64 (model-unit noise 2 sigma), then float32, as ``denoise`` does.
    """
    y = np.asarray(y, dtype=np.float32)
    n = y.shape[0]
    t_star = start_step(torch.full((n,), float(sigma), dtype=torch.float64), schedule)  # (N,) float64
    ab = schedule.alpha_bar_at(t_star)
    return {
        "y": np.ascontiguousarray(y),
        "t": t_star.to(torch.float32).numpy(),
        "alpha_bar": ab.to(torch.float32).numpy(),
    }


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def page_digits(labels: Tensor) -> list[int]:
    """The page's buttons: the index of the first bundled test digit of each class, 0 to 9."""
    return [int((labels == c).nonzero()[0]) for c in range(10)]


def page_table(onnx_path: Path, schedule: NoiseSchedule, *, model_name: str) -> dict:
    """What the in-page demo reads beside the ONNX file: schedule table, checksum, test digits."""
    images, labels = load_sample()  # (1000, 1, 28, 28) in [0, 1], 8-bit values / 255
    digits = [
        {
            "index": i,
            "label": int(labels[i]),
            "pixels": [int(v) for v in (images[i, 0] * 255).round().to(torch.uint8).reshape(-1)],
        }
        for i in page_digits(labels)
    ]
    return {
        "model": model_name,
        "weights_sha256": registry()[model_name]["sha256"],
        "onnx": onnx_path.name,
        "onnx_sha256": sha256_bytes(onnx_path.read_bytes()),
        "inputs": list(INPUT_NAMES),
        "output": OUTPUT_NAME,
        "schedule": schedule.config(),
        "T": schedule.T,
        "alpha_bar": [float(a) for a in schedule.alpha_bar],  # t = 0..T, float64 (JSON keeps 17 digits)
        "max_sigma": schedule.max_sigma / 2,  # pixel units
        "digits": digits,  # the first bundled test digit of each class; pixel = byte / 255
    }


def export_onnx(
    path: str | Path,
    *,
    model_name: str = "ddpm",
    opset: int = OPSET,
    check: bool = True,
) -> dict:
    """Write the posterior-mean denoiser of a shipped model to ``path`` and its table to ``path.json``.

    Args:
        path: the ONNX file to write (its folder is created); the JSON goes beside it with the
            suffix ``.json``.
        model_name: a shipped model (see :func:`tinyddpm.checkpoint.registry`) with a schedule.
        opset: ONNX opset (17: GroupNorm decomposed, runs in onnxruntime-web's WebAssembly backend).
        check: run the file with onnxruntime (if installed) on the bundled digits and compare it
            with ``denoise(precision="fp32")``; raise if a pixel differs by more than 1e-4.

    Returns:
        dict: a summary, ``path``, ``json``, ``bytes``, ``seconds`` (export time), ``max_abs_diff`` (or None).
    """
    try:
        import onnx  # noqa: F401  torch.onnx.export writes its file through it
    except ImportError:
        raise ImportError("exporting to ONNX needs the onnx package: pip install onnx") from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model, schedule = pretrained(model_name)
    if schedule is None:
        raise ValueError(f"{model_name!r} is not a diffusion model (it has no schedule)")
    graph = PosteriorMean(model).eval()
    example = onnx_inputs(load_sample()[0][:2], 0.3, schedule)
    start = time.perf_counter()
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated in favour of torch.export's, which this graph does
        # not need; the tracer's note on torch.as_tensor concerns the null label, a constant indeed
        warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx")
        torch.onnx.export(
            graph,
            tuple(torch.from_numpy(example[k]) for k in INPUT_NAMES),
            str(path),
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_axes={"y": {0: "N"}, "t": {0: "N"}, "alpha_bar": {0: "N"}, OUTPUT_NAME: {0: "N"}},
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False,
        )
    seconds = time.perf_counter() - start
    table = path.with_suffix(".json")
    table.write_text(json.dumps(page_table(path, schedule, model_name=model_name), separators=(",", ":")))
    diff = parity(path, model_name=model_name) if check else None
    if diff is not None and diff > 1e-4:
        raise RuntimeError(f"{path}: onnxruntime differs from denoise() by {diff:.3g} (> 1e-4)")
    return {
        "path": str(path),
        "json": str(table),
        "bytes": path.stat().st_size,
        "seconds": seconds,
        "max_abs_diff": diff,
    }


def parity(
    path: str | Path, *, model_name: str = "ddpm", sigmas: Sequence[float] = (0.1, 0.5)
) -> float | None:
    """Largest pixel difference between the ONNX file (onnxruntime, CPU) and ``denoise(precision="fp32")``
    on 100 bundled digits (10 per class) at ``sigmas``; None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from ..denoise import denoise

    model, schedule = pretrained(model_name)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = load_sample()[0][::10]  # (100, 1, 28, 28)
    worst = 0.0
    for i, sigma in enumerate(sigmas):
        y = x + sigma * torch.randn(x.shape, generator=seeded(i))
        ref = denoise(y, sigma, model=model, schedule=schedule, precision="fp32")
        (out,) = session.run(None, onnx_inputs(y, sigma, schedule))
        worst = max(worst, float(np.abs(out - ref.numpy()).max()))
    return worst


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tinyddpm.harness.export [PATH] [--model ddpm] [--opset 17] [--no-check]``."""
    p = argparse.ArgumentParser(
        prog="python -m tinyddpm.harness.export",
        description="Export the one-step posterior-mean denoiser to ONNX, with a JSON table beside it.",
    )
    p.add_argument(
        "path",
        nargs="?",
        default="book/_static/in_page/ddpm_posterior_mean.onnx",
        help="the ONNX file to write (default: the book's copy; run from the repository root)",
    )
    p.add_argument("--model", default="ddpm", help="shipped model name (default: ddpm)")
    p.add_argument("--opset", type=int, default=OPSET, help=f"ONNX opset (default: {OPSET})")
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime-vs-denoise() check")
    args = p.parse_args(argv)
    r = export_onnx(args.path, model_name=args.model, opset=args.opset, check=not args.no_check)
    diff = "not checked (no onnxruntime)" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.3g}"
    print(
        f"wrote {r['path']} ({r['bytes'] / 1e6:.2f} MB, exported in {r['seconds']:.1f} s) and {r['json']}; "
        f"max |onnxruntime - denoise()| = {diff}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
