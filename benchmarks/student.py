"""The student's project as a peer: their recipe trained here, their procedure measured, their CNN.

``tinyddpm.harness.student`` rebuilds the student's recipe from the facts in ``shared/seed/README.md``
(32x32 digits in [-1, 1], linear T = 300, "SimpleUnet", L1 loss, Adam 1e-3, batch 128; the
U-Net at 3/8 of the student's widths, 12 -> 192 channels instead of 32 -> 512, so that the
weights ship under 10 MB; the full width is 15.6 M parameters, 60 MiB). Trained on 2 CPU cores
for the wall time of the shipped model's first learning-curve point: ``train`` on the 60,000
training digits, no flips; ``train+test, flips`` on all 70,000 digits with random horizontal
flips, as the student did (so it has seen the test digits it is measured on).

Measured on 200 bundled test digits (20 per class), at sigma 0.1, 0.2, 0.3, 0.5 (pixel units):
(a) the student's own inputs: x_s by the forward process at the step s equivalent to sigma
(x_s / sqrt(ab_s) = x0 + 2 sigma eps), the chain from s rounded down to a multiple of 10, unit
ancestral steps, clamped after each; (b) plain y = x + sigma n fed the student's way, unscaled
(x = 2y - 1), from the step whose noise std sqrt(1 - ab_s) matches 2 sigma ("by eye") and from
tinyddpm's matched step, both rounded down to 10; (c) the same network driven by tinyddpm:
posterior mean and 10 DDIM steps from the matched t* (the input scaled by sqrt(ab)). The
student's model works at 32x32: noise is drawn at 32x32 on the resized digit, and outputs are
resized back to 28x28 and compared with the original digit (``resize_ceiling``: what the round
trip 28 -> 32 -> 28 alone costs a clean digit). The shipped model: posterior mean on the same
digits at 28x28 (its own noise draw). Identity: the shipped classifier on the 28x28 outputs.

The noise-level CNN: the student's 300-way step classifier, trained with the clean image as
input (their code) and with x_s (as intended), against ``sigma_net`` and the MAD estimator on
the same noisy digits: 2,000 test digits at 32x32 with a step s uniform on 0 .. 299 (the CNN
sees x_s; the estimators see the same image as y = x + sigma n, sigma the step's equivalent).

    python benchmarks/student.py train   # ~50 min: both U-Nets, both CNNs -> runs/student/
    python benchmarks/student.py eval    # ~10 min: src/tinyddpm/harness/results/student.json
    python benchmarks/student.py eval-shipped   # only the shipped ddpm's rows again, after it changes
    python benchmarks/student.py eval-range     # ~5 min: sigma 1.0 and 2.0, the shipped networks only

``eval-range`` covers the rest of the student's training range (their t uniform on 50 .. 299 is
pixel sigma from about 0.15 to about 2.2): settings (a)-(c) at sigma 1.0 and 2.0 for the shipped
``student`` weights (the ``train`` network; the train+test+flips one is not shipped) and the
shipped ddpm's rows, under ``wide_range``, with the exact shares of the student's draws above
sigma 0.5 and 1.0.

Writes ``src/tinyddpm/harness/results/student.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from tinyddpm.checkpoint import load_model, pretrained, save_model
from tinyddpm.data import load_mnist, load_sample, pixels
from tinyddpm.denoise import denoise
from tinyddpm.harness.evaluate import machine
from tinyddpm.harness.student import (
    PROCEDURE_STEPS,
    StudentUNetConfig,
    by_eye_step,
    eps_adapter,
    equivalent_step,
    from_student,
    procedure_sigmas,
    schedule,
    step_sigma,
    student_chain,
    to_student,
    train_step_cnn,
    train_student,
)
from tinyddpm.metrics import predict_labels, psnr
from tinyddpm.noise_level import estimate_sigma_learned, estimate_sigma_mad
from tinyddpm.samplers import ddim_step, ddim_timesteps, predict_start, sample_loop
from tinyddpm.seeding import generator

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "student"
RESULTS = ROOT / "src" / "tinyddpm" / "harness" / "results"
SIGMAS = (0.1, 0.2, 0.3, 0.5)
WIDE_SIGMAS = (1.0, 2.0)  # eval-range: the rest of the student's training range
WIDTH = StudentUNetConfig(channels=(12, 24, 48, 96, 192))  # 3/8 of the student's widths
MINUTES = 967.1 / 60  # the shipped model's first learning-curve point (ddpm_learning_curve.csv)
CNN_STEPS = 1500
DDIM_STEPS = 10


def train_all() -> None:
    RUNS.mkdir(parents=True, exist_ok=True)
    train_x = load_mnist(train=True)[0]
    test_x = load_mnist(train=False)[0]
    for name, images, flips in (
        ("train", train_x, False),
        ("train_test_flips", torch.cat([train_x, test_x]), True),
    ):
        path = RUNS / f"{name}.safetensors"
        if path.exists():
            continue
        net, info = train_student(images, minutes=MINUTES, flips=flips, config=WIDTH)
        save_model(path, net, schedule=schedule(), info=info)
        print(name, info, flush=True)
    for name, noisy in (("cnn_clean_input", False), ("cnn_noisy_input", True)):
        path = RUNS / f"{name}.safetensors"
        if not path.exists():
            net, info = train_step_cnn(train_x, noisy_input=noisy, steps=CNN_STEPS)
            save_model(path, net, info=info)
            print(name, info, flush=True)


def scores28(out28: torch.Tensor, x28: torch.Tensor, labels: torch.Tensor, classifier) -> dict:
    """Mean PSNR at 28x28, identity, and the flips: [position in the set, label, read as] per misread."""
    read = predict_labels(classifier, out28)
    wrong = (read != labels).nonzero().flatten().tolist()
    return {
        "psnr": round(float(psnr(out28, x28).mean()), 3),
        "identity": round(float((read == labels).double().mean()), 4),
        "flips": [[i, int(labels[i]), int(read[i])] for i in wrong],
    }


def scores(out32: torch.Tensor, x28: torch.Tensor, labels: torch.Tensor, classifier) -> dict:
    """``scores28`` of (N, 1, 32, 32) model-unit outputs resized back, plus ``psnr_32``: the PSNR
    at 32x32 against the resized digit, in the student's own space."""
    clean32 = (to_student(x28) + 1) / 2
    psnr_32 = round(float(psnr(((out32 + 1) / 2).clamp(0, 1), clean32).mean()), 3)
    return {**scores28(from_student(out32), x28, labels, classifier), "psnr_32": psnr_32}


def chain(net, x_start: torch.Tensor, start: int, seed: int) -> torch.Tensor:
    return student_chain(net, x_start, start, schedule(), generator(seed, "student-chain", start))[0]


def procedure_rows(
    net, x28: torch.Tensor, labels: torch.Tensor, classifier, sigmas: tuple[float, ...] = SIGMAS
) -> list[dict]:
    """Settings (a), (b), (c) of the module docstring, one row per sigma."""
    sched = schedule()
    ab = sched.alpha_bar[1:].float()
    x32 = to_student(x28)  # (N, 1, 32, 32) in [-1, 1]
    rows = []
    for sigma in sigmas:
        g = generator(0, "student-noise", round(1e4 * sigma))
        eps = torch.randn(x32.shape, generator=g)
        t_star = equivalent_step(sigma)
        s_eq = int(round(t_star))  # the student's step equivalent to sigma
        x_s = ab[s_eq].sqrt() * x32 + (1 - ab[s_eq]).sqrt() * eps  # (a): the forward process
        y = x32 + 2 * sigma * eps  # (b), (c): plain additive noise, model units
        eye, start_a = by_eye_step(sigma), s_eq // 10 * 10
        row = {"sigma": sigma, "step_equivalent": s_eq, "start_a": start_a, "by_eye_step": eye}
        row["a_student_inputs"] = scores(chain(net, x_s, start_a, 0), x28, labels, classifier)
        row["b_plain_by_eye"] = scores(chain(net, y.clamp(-1, 1), eye // 10 * 10, 0), x28, labels, classifier)
        row["b_plain_matched"] = scores(
            chain(net, y.clamp(-1, 1), s_eq // 10 * 10, 0), x28, labels, classifier
        )
        f, t_index = eps_adapter(net), t_star + 1  # the schedule's index of the student's step t_star
        x_t = (
            sched.alpha_bar_at(torch.tensor(t_index)).sqrt().float() * y
        )  # tinyddpm: scale, then start at t*
        with torch.no_grad():
            pm, _ = predict_start(f, x_t, t_index, sched)
            dd = sample_loop(ddim_step, f, x_t, ddim_timesteps(t_index, DDIM_STEPS), sched)
        row["c_posterior_mean"] = scores(pm, x28, labels, classifier)
        row[f"c_ddim_{DDIM_STEPS}"] = scores(dd, x28, labels, classifier)
        rows.append(row)
    return rows


def estimator_rows(cnns: dict, x28: torch.Tensor) -> dict:
    """The student's CNN both ways against sigma_net and MAD on the same noisy digits."""
    sched = schedule()
    ab = sched.alpha_bar[1:].float()
    x32 = to_student(x28)
    g = generator(0, "student-cnn-eval", 0)
    s = torch.randint(0, 300, (len(x32),), generator=g)
    eps = torch.randn(x32.shape, generator=g)
    a = ab[s][:, None, None, None]
    x_s = a.sqrt() * x32 + (1 - a).sqrt() * eps
    sigma = step_sigma(s)  # (N,) pixel units
    y_pix = (x_s / a.sqrt() + 1) / 2  # the same image as y = x + sigma n, pixel units
    out = {"digits": len(x32), "chance_exact": round(1 / 300, 4)}

    def rel_err(est: torch.Tensor) -> dict:
        r = (est.double() / sigma - 1).abs()
        return {"median_rel_error": round(float(r.median()), 4), "mean_rel_error": round(float(r.mean()), 4)}

    for name, net in cnns.items():
        with torch.no_grad():
            pred = torch.cat([net(x_s[i : i + 500]).argmax(1) for i in range(0, len(x_s), 500)])
        out[name] = {
            "exact": round(float((pred == s).double().mean()), 4),
            "within_10_steps": round(float(((pred - s).abs() <= 10).double().mean()), 4),
            **rel_err(step_sigma(pred)),
        }
    out["sigma_net"] = rel_err(estimate_sigma_learned(y_pix.float()))
    out["mad"] = rel_err(estimate_sigma_mad(y_pix.float()))
    return out


def shipped_rows(
    x28: torch.Tensor, labels: torch.Tensor, classifier, sigmas: tuple[float, ...] = SIGMAS, first: int = 0
) -> list[dict]:
    """The shipped ddpm's posterior mean on the same digits at 28x28, one noise draw per sigma
    (draw ``first + i`` for the i-th sigma, so that wider rows never reuse a draw)."""
    return [
        {
            "sigma": s,
            **scores28(
                denoise(x28 + s * torch.randn(x28.shape, generator=generator(0, "shipped", first + i)), s),
                x28,
                labels,
                classifier,
            ),
        }
        for i, s in enumerate(sigmas)
    ]


def digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(positions in load_sample(), 28x28 digits, labels): 20 digits per class."""
    x_all, labels_all = load_sample()
    pick = torch.arange(0, 1000, 5)  # flips give positions in this set
    return pick, x_all[pick], labels_all[pick]


def evaluate_shipped() -> dict:
    """Only the shipped model's rows again (after a new ``ddpm`` ships); the rest of student.json stays."""
    out = RESULTS / "student.json"
    result = json.loads(out.read_text())
    _, x28, labels = digits()
    result["shipped"] = shipped_rows(x28, labels, pretrained("classifier")[0])
    result["_shipped_machine"] = machine()
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["shipped"], indent=1))
    return result


def student_draws() -> dict:
    """The noise the student's procedure draws, in pixel sigma: their step uniform on
    ``PROCEDURE_STEPS`` (their own indices 0 .. 299), exactly, over the 250 equally likely steps."""
    sigma = procedure_sigmas()
    return {
        "t_low": PROCEDURE_STEPS[0],
        "t_high": PROCEDURE_STEPS[1],
        "sigma_at_low": round(float(sigma[0]), 4),
        "sigma_at_high": round(float(sigma[-1]), 4),
        "share_above_0.5": round(float((sigma > 0.5).double().mean()), 4),
        "share_above_1.0": round(float((sigma > 1.0).double().mean()), 4),
    }


def evaluate_range() -> dict:
    """Settings (a)-(c) at WIDE_SIGMAS for the shipped ``student`` network and the shipped ddpm's
    rows there, merged into student.json under ``wide_range``; the rest of the file stays."""
    out = RESULTS / "student.json"
    result = json.loads(out.read_text())
    _, x28, labels = digits()
    classifier = pretrained("classifier")[0]
    t0 = time.perf_counter()
    net = pretrained("student")[0]
    result["wide_range"] = {
        "sigmas": list(WIDE_SIGMAS),
        "model": "train",
        "rows": procedure_rows(net, x28, labels, classifier, WIDE_SIGMAS),
        "shipped": shipped_rows(x28, labels, classifier, WIDE_SIGMAS, first=len(SIGMAS)),
        "draws": student_draws(),
        "_machine": machine(),
        "_seconds": round(time.perf_counter() - t0, 1),
    }
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result["wide_range"], indent=1)[:4000])
    return result


def evaluate() -> dict:
    pick, x28, labels = digits()
    classifier = pretrained("classifier")[0]
    t0 = time.perf_counter()
    result = {
        "_command": "python benchmarks/student.py train && python benchmarks/student.py eval",
        "_machine": machine(),
        "_what": __doc__.split("\n\n")[1].strip(),
        "digits": len(x28),
        "bundled_indices": pick.tolist(),  # tinyddpm.load_sample() positions of the digits
        "resize_ceiling": scores(to_student(x28), x28, labels, classifier),
        "shipped": shipped_rows(x28, labels, classifier),
        "models": {},
    }
    for name in ("train", "train_test_flips"):
        net, _, info = load_model(RUNS / f"{name}.safetensors")
        result["models"][name] = {"training": info, "rows": procedure_rows(net, x28, labels, classifier)}
    cnns = {
        name: load_model(RUNS / f"{name}.safetensors")[0] for name in ("cnn_clean_input", "cnn_noisy_input")
    }
    test_x = pixels(load_mnist(train=False)[0][:2000])
    result["noise_level"] = estimator_rows(cnns, test_x)
    result["noise_level"]["training"] = {n: load_model(RUNS / f"{n}.safetensors")[2] for n in cnns}
    result["_seconds_eval"] = round(time.perf_counter() - t0, 1)
    out = RESULTS / "student.json"
    out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.startswith("_")}, indent=1)[:6000])
    return result


if __name__ == "__main__":
    torch.manual_seed(0)
    {"train": train_all, "eval": evaluate, "eval-shipped": evaluate_shipped, "eval-range": evaluate_range}[
        sys.argv[1]
    ]()
