"""Measuring a denoiser on MNIST digits: the numbers that MODELS.md, the benchmarks and the book report.

Protocol: clean digits x in [0, 1], y = x + sigma n with n ~ N(0, I) from a seeded generator,
*not* clipped; the denoiser sees y and sigma; PSNR per image against x (mean over images), plus
the PSNR of the pooled MSE, the same after quantising the output to 8 bits (the protocol of
Soltanayev & Chun 2018), SSIM (Wang et al. 2004) and, with a classifier, how often the digit's
identity survives. ``score`` computes all of these for one set of outputs; ``evaluate_denoiser``
runs a denoiser over noise levels; ``score_model`` scores a shipped model the way MODELS.md and
the registry record it; ``generated_digits`` and ``generation_scores`` measure digits generated
from noise (classifier-feature FID, class counts); ``machine`` says where a measurement ran.

Words: a *sample* is a digit generated from noise (:func:`tinyddpm.samplers.sample`), never a
subset of the data; the 1,000 test digits that ship in the package are the *bundled* digits
(:func:`tinyddpm.load_sample`, :func:`bundled_test_indices`).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..checkpoint import architecture_name, load_model, pretrained_path, registry
from ..data import SAMPLE_FILE, add_noise, load_sample, to_pixels
from ..denoise import denoise
from ..metrics import (
    classifier_features,
    frechet_distance,
    identity_accuracy,
    mse,
    pooled_psnr,
    predict_labels,
    psnr,
    ssim,
)
from ..noise_level import estimate_sigma_learned, estimate_sigma_mad
from ..precision import Precision, autocast_dtype
from ..samplers import SampleMethod, sample
from ..schedules import NoiseSchedule
from ..seeding import generator, seeded
from .student import from_student, matched_posterior_mean, to_student
from .supervised import supervised_denoise

Denoiser = Callable[[Tensor, float], Tensor]

TEST_SIGMAS = (0.1, 0.2, 0.3, 0.5)  # the noise levels of MODELS.md's test tables (pixel units)
SAMPLE_SIGMAS = (0.2, 0.5)  # the diffusion model's figures recorded in the registry
SIGMA_ESTIMATE_LEVELS = (0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)  # sigma_net's test table
SIGMA_ESTIMATE_DIGITS = 2000  # sigma_net's test table uses the first 2,000 digits (skimage runs per image)


def noisy_set(images: Tensor, sigma: float, *, seed: int = 0) -> Tensor:
    """The fixed noisy version of ``images`` at ``sigma`` (pixel units) used by every evaluation."""
    g = seeded(seed * 1000 + round(sigma * 1e4))
    return add_noise(images, sigma, generator=g)


def quantize_uint8(images: Tensor) -> Tensor:
    """Pixel images as an 8-bit file would hold them: clipped to [0, 1], rounded to k / 255."""
    return torch.round(images.clamp(0, 1) * 255) / 255


def score(
    x_hat: Tensor, x: Tensor, *, labels: Tensor | None = None, classifier: nn.Module | None = None
) -> dict[str, Any]:
    """How close outputs ``x_hat`` are to clean digits ``x``, both (N, 1, 28, 28) in pixel units.

    ``images``; ``psnr`` (mean per-image dB); ``psnr_pooled`` (PSNR of the MSE pooled over the
    set); ``psnr_pooled_uint8`` (the same after ``quantize_uint8``); ``ssim`` (mean per image);
    ``identity`` (fraction the classifier reads as ``labels``, only with both); ``mse`` (mean).

    >>> x = torch.zeros(2, 1, 28, 28)
    >>> score(x + 0.1, x)["psnr"]  # 10 log10(1 / 0.1^2)
    20.0
    """
    out: dict[str, Any] = {
        "images": len(x),
        "psnr": round(float(psnr(x_hat, x).mean()), 3),
        "psnr_pooled": round(pooled_psnr(x_hat, x), 3),
        "psnr_pooled_uint8": round(pooled_psnr(quantize_uint8(x_hat), x), 3),
        "ssim": round(float(ssim(x_hat, x).mean()), 4),
    }
    if classifier is not None and labels is not None:
        out["identity"] = round(identity_accuracy(classifier, x_hat, labels), 4)
    out["mse"] = float(mse(x_hat, x).mean())
    return out


def evaluate_denoiser(
    denoiser: Denoiser,
    images: Tensor,
    sigmas: Sequence[float],
    *,
    labels: Tensor | None = None,
    classifier: nn.Module | None = None,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Scores of ``denoiser(y, sigma) -> x_hat`` at each sigma: ``{str(sigma): {...}}``.

    Each entry holds ``score``'s keys (``identity`` with a classifier and labels), plus
    ``psnr_noisy`` (the input's mean PSNR) and ``seconds`` (the denoiser's wall time).
    """
    out: dict[str, dict[str, Any]] = {}
    for sigma in sigmas:
        y = noisy_set(images, sigma, seed=seed)
        t0 = time.perf_counter()
        x_hat = denoiser(y, sigma)
        dt = time.perf_counter() - t0
        row = score(x_hat, images, labels=labels, classifier=classifier)
        row["psnr_noisy"] = round(float(psnr(y, images).mean()), 3)
        row["seconds"] = round(dt, 2)
        out[str(sigma)] = row
    return out


@torch.no_grad()
def vae_reconstruction(vae: nn.Module, images: Tensor, *, batch_size: int = 1000) -> Tensor:
    """The VAE's deterministic reconstruction decode(mu(images)) (``VAE.forward``), in batches, no autograd.

    Images are passed as given (a noisy y is not clipped), like the chapter-1 experiment.
    """
    return torch.cat([vae(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])


def bundled_test_indices() -> Tensor:
    """The MNIST test-set index of each bundled digit (``load_sample``), in its order: (1000,) int64."""
    with resources.files("tinyddpm").joinpath("assets", SAMPLE_FILE).open("rb") as f:
        return torch.from_numpy(np.load(f)["test_indices"].astype(np.int64))


def generated_digits(
    model: nn.Module,
    schedule: NoiseSchedule,
    count: int,
    *,
    method: SampleMethod = "ddim",
    steps: int | None = 50,
    guidance: float = 1.0,
    conditional: bool = False,
    seed: int = 0,
    chunk: int = 250,
) -> tuple[Tensor, float]:
    """``count`` digits generated from noise, pixels in [0, 1] (count, 1, 28, 28), and the seconds taken.

    Image i starts from its own generator seeded ``derived_seed(seed, "fid", i)``, so a digit
    does not depend on ``chunk`` or ``count``. ``conditional``: image i asks for class i mod 10
    with classifier-free ``guidance``; otherwise every image gets the null label (unconditional).
    """
    gens = [generator(seed, "fid", i) for i in range(count)]
    t0 = time.perf_counter()
    chunks = []
    for lo in range(0, count, chunk):
        hi = min(count, lo + chunk)
        label = torch.arange(lo, hi) % 10 if conditional else None
        x = sample(
            model, schedule, hi - lo, method=method, steps=steps, label=label, guidance=guidance,
            generator=gens[lo:hi],
        )  # fmt: skip
        chunks.append(x)
    return to_pixels(torch.cat(chunks)).clamp(0, 1), time.perf_counter() - t0


def generation_scores(classifier: nn.Module, images: Tensor, reference_features: Tensor) -> dict[str, Any]:
    """FID in the classifier's feature space against ``reference_features``, and the class counts.

    ``class_tv_from_uniform`` is the total-variation distance of the predicted-class frequencies
    from 1/10 each; ``max_class_deviation`` the largest |count / (n / 10) - 1| over the classes.
    """
    counts = torch.bincount(predict_labels(classifier, images), minlength=10)
    share = counts / len(images)
    fd = frechet_distance(classifier_features(classifier, images), reference_features)
    return {
        "images": len(images),
        "fid": round(fd, 3),
        "class_counts": counts.tolist(),
        "class_tv_from_uniform": round(0.5 * float((share - 0.1).abs().sum()), 4),
        "max_class_deviation": round(float((share / 0.1 - 1).abs().max()), 4),
    }


def machine(*, precision: Precision = "auto", device: str = "cpu") -> dict[str, Any]:
    """Where a measurement ran: CPU model, cores, torch threads, the OpenMP settings, versions, precision.

    ``precision`` is the dtype a network's forward pass runs in on ``device`` when ``denoise`` and
    ``sample`` are given ``precision`` (default ``"auto"``: bfloat16 where the hardware has it, see
    :mod:`tinyddpm.precision`); ``default_dtype`` is what every other tensor holds, and
    ``float32_matmul_precision`` whether float32 matrix products may use faster, lower-precision units.
    """
    net_dtype = autocast_dtype(nn.Module(), precision, torch.device(device)) or torch.get_default_dtype()
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"),  # PASSIVE: waiting threads sleep
        "torch": torch.__version__,
        "python": platform.python_version(),
        "precision": str(net_dtype).removeprefix("torch."),
        "default_dtype": str(torch.get_default_dtype()).removeprefix("torch."),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
    }


# ---- shipped models: one scorer per kind of model ------------------------------------------
# A scorer returns the compact figures the registry records (full=False) or the test tables of
# MODELS.md (full=True) for a model on digits x (N, 1, 28, 28) in [0, 1] with their labels.
@dataclass(frozen=True)
class ScoringContext:
    """What every scorer of ``MODEL_SCORERS`` gets: the model, the digits, and how to score them."""

    model: nn.Module
    x: Tensor  # (N, 1, 28, 28) clean digits in [0, 1]
    labels: Tensor | None  # (N,) their classes, for identity (with ``classifier``)
    schedule: NoiseSchedule | None  # the model's noise schedule (None: not a diffusion model)
    info: dict  # the checkpoint's training record (a supervised denoiser's sigma is there)
    classifier: nn.Module | None  # reads the outputs' classes; None: no identity scores
    full: bool  # False: the registry's one-line figures; True: MODELS.md's test tables


ModelScorer = Callable[[ScoringContext], dict[str, Any]]


def _score_ddpm(c: ScoringContext) -> dict[str, Any]:
    model, x, labels, schedule, classifier, full = c.model, c.x, c.labels, c.schedule, c.classifier, c.full
    den = lambda y, s: denoise(y, s, model=model, schedule=schedule)  # noqa: E731
    if full:
        rows = evaluate_denoiser(den, x, TEST_SIGMAS, labels=labels, classifier=classifier)
        return {"posterior_mean": rows, "alpha_bar_T": float(schedule.alpha_bar[-1])}
    rows = evaluate_denoiser(den, x, SAMPLE_SIGMAS)
    return {f"psnr_posterior_mean@{s}": v["psnr"] for s, v in rows.items()}


def _score_supervised(c: ScoringContext) -> dict[str, Any]:
    model, x, labels, info, classifier, full = c.model, c.x, c.labels, c.info, c.classifier, c.full
    s0 = (info.get("train_config") or {}).get("supervised_sigma")
    if s0 is None:
        raise ValueError("a supervised denoiser's sigma is in its info: pass info= as load_model returned it")
    s0 = float(s0)
    den = lambda y, s: supervised_denoise(model, y, s0)  # noqa: E731
    if full:
        return evaluate_denoiser(den, x, (s0,), labels=labels, classifier=classifier)
    return {f"psnr@{s0}": evaluate_denoiser(den, x, (s0,))[str(s0)]["psnr"]}


def _score_classifier(c: ScoringContext) -> dict[str, Any]:
    model, x, labels, full = c.model, c.x, c.labels, c.full
    if labels is None:
        raise ValueError("scoring a classifier needs the digits' labels")
    acc = lambda images: round(identity_accuracy(model, images, labels), 4)  # noqa: E731
    out = {"accuracy_clean": acc(x)}
    if full:
        out.update({f"accuracy_noisy@{s}": acc(noisy_set(x, s)) for s in TEST_SIGMAS})
    return out


def _score_vae(c: ScoringContext) -> dict[str, Any]:
    model, x, full = c.model, c.x, c.full
    out = {"psnr_clean": score(vae_reconstruction(model, x), x)["psnr"]}
    if full:
        for s, v in evaluate_denoiser(lambda y, s: vae_reconstruction(model, y), x, TEST_SIGMAS).items():
            out[f"psnr_noisy_input@{s}"] = v["psnr_noisy"]
            out[f"psnr_reconstruction@{s}"] = v["psnr"]
    return out


def _score_sigma_net(c: ScoringContext) -> dict[str, Any]:
    model, x, full = c.model, c.x, c.full
    rel_err = lambda est, s: (est / s - 1).abs()  # noqa: E731
    if not full:
        est = estimate_sigma_learned(noisy_set(x, 0.3), model)
        return {"median_rel_err@0.3": round(float(rel_err(est, 0.3).median()), 4)}
    from skimage.restoration import estimate_sigma as sk_estimate

    sub = x[:SIGMA_ESTIMATE_DIGITS]
    out: dict[str, Any] = {"digits": len(sub)}
    for s in SIGMA_ESTIMATE_LEVELS:
        y = noisy_set(sub, s)
        ests = {
            "learned": estimate_sigma_learned(y, model),
            "mad": estimate_sigma_mad(y),
            "skimage": torch.tensor([sk_estimate(im[0].numpy()) for im in y]),
        }
        out[str(s)] = {
            k: {
                "median_rel_err": round(float(rel_err(e, s).median()), 4),
                "p90_rel_err": round(float(rel_err(e, s).quantile(0.9)), 4),
            }
            for k, e in ests.items()
        }
    return out


def _score_student_unet(c: ScoringContext) -> dict[str, Any]:
    """The student's network driven by tinyddpm's one step at the matched t*, in its own 32x32
    space: noise drawn at 32x32 on the resized digit (seeded per sigma); ``psnr`` against that
    resized digit, ``psnr_28`` and ``identity`` after resizing the result back to 28x28 (the
    round trip 28 -> 32 -> 28 alone costs a clean digit its fine detail)."""
    model, x, labels, classifier, full = c.model, c.x, c.labels, c.classifier, c.full
    x32 = to_student(x)
    clean32 = (x32 + 1) / 2
    rows: dict[str, dict[str, Any]] = {}
    for sigma in TEST_SIGMAS if full else SAMPLE_SIGMAS:
        g = seeded(round(sigma * 1e4))
        y32 = x32 + 2 * sigma * torch.randn(x32.shape, generator=g)
        out = torch.cat(
            [matched_posterior_mean(model, y32[i : i + 500], sigma) for i in range(0, len(x), 500)]
        )
        row = score(((out + 1) / 2).clamp(0, 1), clean32)
        back = score(from_student(out), x, labels=labels, classifier=classifier)
        row["psnr_28"] = back["psnr"]
        if "identity" in back:
            row["identity"] = back["identity"]
        rows[str(sigma)] = row
    if full:
        return {"posterior_mean": rows}
    return {f"psnr_posterior_mean@{s}": v["psnr"] for s, v in rows.items()}


MODEL_SCORERS: dict[str, ModelScorer] = {
    "ddpm": _score_ddpm,  # a U-Net with a noise schedule: one-step posterior-mean denoising
    "supervised": _score_supervised,  # a U-Net without one: a direct denoiser at its training sigma
    "classifier": _score_classifier,
    "vae": _score_vae,
    "sigma_net": _score_sigma_net,
    "seed_unet": _score_student_unet,  # the student's recipe (tinyddpm.harness.student)
}


def model_kind(model: nn.Module, schedule: NoiseSchedule | None) -> str:
    """The key of ``MODEL_SCORERS`` for a loaded model: its architecture, a U-Net split by its job."""
    arch = architecture_name(model)
    if arch == "unet":
        return "ddpm" if schedule is not None else "supervised"
    return arch


def score_model(
    name_or_model: str | nn.Module,
    images: Tensor | None = None,
    labels: Tensor | None = None,
    *,
    schedule: NoiseSchedule | None = None,
    info: dict | None = None,
    classifier: nn.Module | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Score a shipped model (by registry name, sha256 checked) or a loaded one on digits in [0, 1].

    ``images`` and ``labels`` default to the bundled digits. A loaded model needs the ``schedule``
    and ``info`` that ``load_model`` returned with it (a supervised denoiser's sigma is in ``info``).
    ``full=False`` gives the figures the registry records, e.g. ``{"accuracy_clean": 0.995}``;
    ``full=True`` the test tables of MODELS.md (with a ``classifier``: identity kept).

    >>> score_model("classifier")  # doctest: +SKIP
    {'accuracy_clean': 0.995}
    """
    if isinstance(name_or_model, str):
        path, sha = pretrained_path(name_or_model), registry()[name_or_model]["sha256"]
        model, schedule, info = load_model(path, expected_sha256=sha)
    else:
        model = name_or_model
    if images is None:
        images, labels = load_sample()
    scorer = MODEL_SCORERS[model_kind(model, schedule)]
    return scorer(ScoringContext(model, images, labels, schedule, info or {}, classifier, full))
