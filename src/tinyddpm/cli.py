"""The ``tinyddpm`` command line: thin wrappers around the package, no logic of its own.

    tinyddpm demo -o demo.png                          denoise the bundled sample into a grid
    tinyddpm denoise noisy.png -o out/ --sigma 0.2     denoise image files (photos too)
    tinyddpm add-noise digit.png -o noisy.png --sigma 0.3 --seed 0
    tinyddpm sample -n 64 -o grid.png                  generate digits
    tinyddpm train --out runs/ddpm                     train (resumes if interrupted)

Bad input gets a one-line error on stderr and exit status 2, never a traceback, and never a
half-written or silently replaced output file (``--overwrite`` allows replacing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, get_args

import numpy as np
import torch

from .denoise import Method
from .io import MAX_PIXELS, ImageError, save_image
from .precision import Precision
from .samplers import SampleMethod
from .schedules import ScheduleKind
from .seeding import seeded

if TYPE_CHECKING:
    from .denoise import DenoisedImage
    from .harness.train import TrainConfig

MAX_CLI_SIGMA = 1.5
MAX_GRID_IMAGES = 10_000  # sample -n: digits in one grid
MAX_SCALE = 16  # sample --scale: pixels per digit pixel


class CLIError(Exception):
    """An error reported as one line, exit status 2."""


def _sigma_arg(text: str) -> float | str:
    if text == "auto":
        return "auto"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sigma must be a number in (0, {MAX_CLI_SIGMA}] or 'auto', got {text!r}"
        ) from None
    if not (math.isfinite(value) and 0 < value <= MAX_CLI_SIGMA):
        raise argparse.ArgumentTypeError(
            f"sigma must lie in (0, {MAX_CLI_SIGMA}] (pixel units, images in [0, 1]), got {text}"
        )
    return value


SAMPLES_DEFAULT = 8  # --samples: what denoise(method="average") averages by default


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _label_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"label must be a digit 0-9, got {text!r}") from None
    if not 0 <= value <= 9:
        raise argparse.ArgumentTypeError(f"label must be a digit 0-9, got {text}")
    return value


def _load_model(path: str | None):  # noqa: ANN202
    if path is None:
        from .denoise import default_model

        return default_model()
    from .checkpoint import load_model

    model, schedule, _ = load_model(path)
    if schedule is None:
        raise CLIError(f"{path}: not a diffusion model (no noise schedule stored)")
    return model, schedule


def _check_output(path: Path, overwrite: bool) -> None:
    if path.is_symlink() and not path.exists() and not overwrite:  # a dangling link is an entry too
        raise CLIError(f"{path}: already exists (a dangling link; pass --overwrite to replace it)")
    if path.exists() and not overwrite:
        raise CLIError(f"{path}: already exists (pass --overwrite to replace it)")
    if path.exists() and path.is_dir():
        raise CLIError(f"{path}: is a directory")
    if not path.parent.exists():
        raise CLIError(f"{path.parent}: output folder does not exist")
    if not os.access(path.parent, os.W_OK):
        raise CLIError(f"{path.parent}: output folder is not writable")


def _note(msg: str) -> None:
    print(f"note: {_printable(msg)}", file=sys.stderr)


def _printable(text: object) -> str:
    """``text`` with control characters (newlines, terminal escapes in file names) escaped."""
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in str(text))


# ---- commands ---------------------------------------------------------------------------
class FileErrors(CLIError):
    """The errors of some files of one call, one line each; the call's other files were processed."""

    def __init__(self, messages: Sequence[str]) -> None:
        super().__init__("\ntinyddpm: error: ".join(_printable(m) for m in messages))  # main() prefixes


def _denoise_outputs(a: argparse.Namespace) -> tuple[list[Path], list[Path], Path]:
    """Inputs, their output paths and the output folder; refuses a call that cannot work at all."""
    inputs = [Path(p) for p in a.inputs]
    outdir = Path(a.output)
    if outdir.exists() and not outdir.is_dir():
        raise CLIError(f"{outdir}: exists and is not a folder")
    suffix = ".npy" if a.npy else ".png"
    outputs = [outdir / (p.stem + suffix) for p in inputs]
    if len(set(outputs)) != len(outputs):
        raise CLIError("two inputs share a file name; their outputs would collide")
    if any(o.resolve() == i.resolve() for o, i in zip(outputs, inputs)):
        raise CLIError("an output would replace its own input; choose another output folder")
    if outdir.exists():
        if not os.access(outdir, os.W_OK):
            raise CLIError(f"{outdir}: output folder is not writable")
    else:  # refuse now, not after denoising, if the folder cannot be created
        parent = next(q for q in outdir.absolute().parents if q.exists())
        if not os.access(parent, os.W_OK):
            raise CLIError(f"{outdir}: cannot create the output folder ({parent} is not writable)")
    return inputs, outputs, outdir


def _result_line(p: Path, o: Path, r: DenoisedImage, auto: bool) -> str:
    rec = r.normalization
    what = "" if rec.mnist_form else f"{rec.shape[1]}x{rec.shape[0]}{', inverted' if rec.inverted else ''}; "
    if auto and rec.sigma_picture is not None:
        sig = f"estimated sigma {rec.sigma_picture:.3f}, {r.sigma:.3f} at 28x28"
    else:
        sig = f"estimated sigma {r.sigma:.3f}" if auto else f"sigma {r.sigma:.3f} at 28x28"
    return f"{p} -> {o} ({what}{sig})"


def cmd_denoise(a: argparse.Namespace) -> None:
    """Each file: read, normalise (MNIST form) and checked on its own, then all denoised in one
    batch and written back in the file's own frame (``--mnist``: the 28x28 digit). A file that
    fails gets its own error line and nothing written; the others are still processed; the exit
    status is then 2. Outputs never replace an existing entry without ``--overwrite``, even one
    that appears while denoising (another run into the same folder)."""
    from .denoise import check_pixels, denoise_normalized, digit_sigmas
    from .files import remove_temporaries
    from .io import read_pixels
    from .preprocess import normalize

    inputs, outputs, outdir = _denoise_outputs(a)
    errors, todo = [], []  # todo: (input, output, notes, digit, record)
    for p, o in zip(inputs, outputs):
        try:
            if outdir.exists():
                _check_output(o, a.overwrite)
            pixels, notes = read_pixels(p)
            digit, record = normalize(pixels, source=str(p))
            one = torch.from_numpy(digit)[None, None]  # (1, 1, 28, 28)
            if not bool(torch.isfinite(one).all()):
                raise ImageError(f"{p}: normalising it gave NaN or infinite values")
            check_pixels(one, digit_sigmas(one, [record], a.sigma), names=[str(p)])
            todo.append((p, o, notes, digit, record))
        except (CLIError, ImageError, ValueError) as e:
            errors.append(str(e))
    if todo:
        model, schedule = _load_model(a.model)
        kw = {"method": a.method, "steps": a.steps, "samples": a.samples, "label": a.label, "eta": a.eta}
        if a.method != "average":  # the API refuses options the method would ignore
            kw["samples"] = None if a.samples == SAMPLES_DEFAULT else a.samples
        kw.update(guidance=a.guidance, seed=a.seed, precision=a.precision, model=model, schedule=schedule)
        results = denoise_normalized([t[3] for t in todo], [t[4] for t in todo], a.sigma, **kw)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CLIError(f"{outdir}: cannot create the output folder ({e.strerror or e})") from None
        for (p, o, notes, _, _), r in zip(todo, results):
            for note in notes:
                _note(f"{p}: {note}")
            try:
                remove_temporaries(o)  # left by a run that was killed while writing this output
                save_image(torch.from_numpy(r.digit if a.mnist else r.image), o, overwrite=a.overwrite)
            except (ImageError, OSError) as e:
                errors.append(str(e))
                continue
            print(_printable(_result_line(p, o, r, a.sigma == "auto")))
    if errors:
        raise FileErrors(errors)


def cmd_add_noise(a: argparse.Namespace) -> None:
    """Gaussian noise of std ``--sigma`` (pixel units) added to an image at its own size."""
    from .data import add_noise
    from .io import read_pixels

    if a.sigma == "auto":
        raise CLIError("add-noise needs a numeric --sigma")
    out = Path(a.output)
    if out.exists() and out.resolve() == Path(a.input).resolve():
        raise CLIError(f"{out}: is the input; write the noisy image to another file")
    pixels, notes = read_pixels(a.input)
    _check_output(out, a.overwrite)
    img = torch.from_numpy(pixels.astype(np.float32))
    noisy = add_noise(img, a.sigma, generator=seeded(a.seed))
    for note in notes:
        _note(f"{a.input}: {note}")
    if out.suffix.lower() != ".npy":
        _note(
            "8-bit image files clip pixels to [0, 1] and round them; "
            "write .npy to keep the exact noisy values"
        )
    save_image(noisy, out, overwrite=a.overwrite)
    print(_printable(f"{a.input} -> {out} (sigma {a.sigma}, seed {a.seed})"))


def cmd_sample(a: argparse.Namespace) -> None:
    """``-n`` digits generated in chunks (memory set by the chunk, not by n) into one PNG grid."""
    from .generate import generate
    from .viz import grid

    if a.n > MAX_GRID_IMAGES:
        raise CLIError(f"-n {a.n}: at most {MAX_GRID_IMAGES:,} digits in one grid")
    if a.scale > MAX_SCALE or a.n * (28 * a.scale) ** 2 > MAX_PIXELS:
        raise CLIError(
            f"--scale {a.scale} with -n {a.n} makes a grid of more than {MAX_PIXELS:,} pixels "
            f"(or a scale above {MAX_SCALE})"
        )
    out = Path(a.output)
    _check_output(out, a.overwrite)
    model, schedule = _load_model(a.model)
    x = generate(
        a.n,
        label=a.label,
        guidance=a.guidance,
        method=a.method,
        steps=a.steps,
        eta=a.eta,
        seed=a.seed,
        model=model,
        schedule=schedule,
        progress=not a.quiet,
        precision=a.precision,
    )
    save_image(grid(x, nrow=int(math.ceil(math.sqrt(a.n))), scale=a.scale), out, overwrite=a.overwrite)
    print(_printable(f"{a.n} samples -> {out}"))


def cmd_demo(a: argparse.Namespace) -> None:
    from .data import add_noise, load_sample
    from .denoise import denoise
    from .metrics import psnr
    from .viz import comparison

    out = Path(a.output)
    _check_output(out, a.overwrite)
    x, labels = load_sample()
    y = add_noise(x, a.sigma, generator=seeded(a.seed))
    model, schedule = _load_model(a.model)
    print(f"{len(x)} bundled MNIST test digits, Gaussian noise sigma = {a.sigma} (not clipped)")
    print(f"{'noisy input':>22}: mean PSNR {float(psnr(y, x).mean()):.2f} dB")
    pick = torch.stack([torch.nonzero(labels == c)[0, 0] for c in range(10)])  # one digit per class
    rows = {"clean": x[pick], f"noisy {a.sigma}": y[pick]}
    for method, steps, name in (("posterior_mean", None, "posterior mean"), ("ddim", 10, "DDIM, 10 steps")):
        d = denoise(
            y,
            a.sigma,
            method=method,
            steps=steps,
            model=model,
            schedule=schedule,
            seed=a.seed,
            precision=a.precision,
        )
        rows[name] = d[pick]
        print(f"{name:>22}: mean PSNR {float(psnr(d, x).mean()):.2f} dB")
    anc = denoise(
        y[pick],
        a.sigma,
        method="ancestral",
        model=model,
        schedule=schedule,
        seed=a.seed,
        precision=a.precision,
    )
    rows["ancestral"] = anc
    print(f"{'ancestral (10 digits)':>22}: mean PSNR {float(psnr(anc, x[pick]).mean()):.2f} dB")
    save_image(comparison(rows), out)
    print(f"figure -> {out}")


def train_config_from_args(a: argparse.Namespace) -> TrainConfig:
    """The run's TrainConfig: ``--config`` (or the default recipe), then every flag on top.

    ``--supervised-sigma`` with ``--config`` sets that config's objective and sigma; without
    ``--config`` it starts from the supervised recipe (:func:`tinyddpm.harness.train.supervised_config`).
    """
    from .harness.train import TrainConfig, supervised_config
    from .schedules import ScheduleConfig

    if a.config:
        try:
            cfg = TrainConfig.from_dict(json.loads(Path(a.config).read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise CLIError(f"{a.config}: not a valid training config ({e})") from None
    elif a.supervised_sigma is not None:
        cfg = supervised_config(a.supervised_sigma)
    else:
        cfg = TrainConfig()
    overrides: dict = {
        k: v
        for k, v in {
            "steps": a.steps,
            "batch_size": a.batch_size,
            "lr": a.lr,
            "seed": a.seed,
            "checkpoint_every": a.checkpoint_every,
            "supervised_sigma": a.supervised_sigma,
            "train_limit": a.limit,
        }.items()
        if v is not None
    }
    if a.supervised_sigma is not None:
        overrides["objective"] = "supervised"
    if a.schedule or a.T:
        kind, T = a.schedule or cfg.schedule.kind, a.T or cfg.schedule.T
        overrides["schedule"] = (
            replace(cfg.schedule, kind=kind, T=T) if kind == cfg.schedule.kind else ScheduleConfig(kind, T)
        )
    return replace(cfg, **overrides)


def cmd_train(a: argparse.Namespace) -> None:
    from .harness.runs import RunBusyError
    from .harness.train import train

    cfg = train_config_from_args(a)
    try:
        path = train(cfg, a.out, data_root=a.data_root, progress=not a.quiet, max_minutes=a.max_minutes)
    except RunBusyError as e:
        raise CLIError(str(e)) from None
    from .checkpoint import load_model

    info = load_model(path)[2]
    if info.get("complete", True):
        print(f"EMA weights -> {path} ({info['steps']} steps)")
    else:
        print(
            f"stopped early at step {info['steps']} of {cfg.steps}: state saved in {a.out} (run the same "
            f"command to resume); EMA weights of that step -> {path} (usable with --model)"
        )


def cmd_train_aux(a: argparse.Namespace) -> None:
    from .checkpoint import save_model
    from .data import load_mnist

    out = Path(a.output)
    _check_output(out, a.overwrite)
    images, labels = load_mnist(train=True, root=a.data_root)
    kw = {"seed": a.seed, "progress": not a.quiet, **({"epochs": a.epochs} if a.epochs else {})}
    if a.kind == "classifier":
        from .harness.classifier import train_classifier

        model, info = train_classifier(images, labels, **kw)
    elif a.kind == "vae":
        from .harness.vae import train_vae

        model, info = train_vae(images, **kw)
    else:
        from .harness.sigma_trainer import train_sigma_net

        model, info = train_sigma_net(images, **kw)
    info.update(
        {"torch": torch.__version__, "command": "tinyddpm " + " ".join(sys.argv[1:]) if sys.argv else ""}
    )
    save_model(out, model, info=info)
    print(f"{a.kind} -> {out} ({info['wall_time_s']} s)")


# ---- parser -----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tinyddpm", description="Denoise MNIST digits with a small diffusion model."
    )
    sub = p.add_subparsers(dest="command", required=True)

    def sampler_opts(q: argparse.ArgumentParser, default_method: str, methods: Sequence[str]) -> None:
        q.add_argument("--method", choices=methods, default=default_method)
        q.add_argument(
            "--steps", type=_positive_int, default=None, help="sampler steps (ddim; strided ancestral)"
        )
        q.add_argument("--eta", type=float, default=0.0, help="DDIM stochasticity in [0, 1]")
        q.add_argument("--label", type=_label_arg, default=None, help="class label 0-9 for guidance")
        q.add_argument("--guidance", type=float, default=1.0, help="classifier-free guidance scale")
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--model", default=None, help="weights file (default: the shipped model)")
        q.add_argument("--overwrite", action="store_true", help="replace existing output files")
        q.add_argument(
            "--precision",
            choices=get_args(Precision),
            default="auto",
            help="network precision: auto = bfloat16 where the CPU/GPU has it natively",
        )

    d = sub.add_parser(
        "denoise",
        help="denoise pictures of one digit each (photos, scans, MNIST-style files) into a folder",
        description="Each picture is normalised as MNIST was made (polarity, background, 20 px box, "
        "centre of mass), denoised, and written back in its own size, place and polarity "
        "(--mnist: the 28x28 digit). A 28x28 picture is taken to be in MNIST form already.",
    )
    d.add_argument("inputs", nargs="+", help="noisy images (PNG, JPEG, ..., or .npy), one digit each")
    d.add_argument("-o", "--output", required=True, help="output folder (created if missing)")
    d.add_argument(
        "--sigma",
        type=_sigma_arg,
        default="auto",
        help="noise std of the input pictures in pixel units ([0, 1] scale), or 'auto'",
    )
    d.add_argument(
        "--samples", type=_positive_int, default=SAMPLES_DEFAULT, help="samples for --method average"
    )
    d.add_argument("--npy", action="store_true", help="write unclipped .npy arrays instead of PNGs")
    d.add_argument(
        "--mnist",
        action="store_true",
        help="write the 28x28 MNIST-form digit (light on black, centred) instead of the input's own frame",
    )
    sampler_opts(d, "posterior_mean", get_args(Method))
    d.set_defaults(func=cmd_denoise)

    n = sub.add_parser("add-noise", help="add Gaussian noise to an image (kept at its own size)")
    n.add_argument("input")
    n.add_argument("-o", "--output", required=True)
    n.add_argument("--sigma", type=_sigma_arg, required=True)
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("--overwrite", action="store_true")
    n.set_defaults(func=cmd_add_noise)

    s = sub.add_parser("sample", help="generate digits into a PNG grid")
    s.add_argument("-n", type=_positive_int, default=64)
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--scale", type=_positive_int, default=2)
    s.add_argument("--quiet", action="store_true")
    sampler_opts(s, "ddim", get_args(SampleMethod))
    s.set_defaults(func=cmd_sample, steps=50)

    m = sub.add_parser(
        "demo",
        help="denoise the 1,000 bundled test digits, print their mean PSNR per method and write a "
        "comparison figure of ten of them",
    )
    m.add_argument("-o", "--output", default="tinyddpm-demo.png")
    m.add_argument("--sigma", type=_sigma_arg, default=0.3)
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--model", default=None)
    m.add_argument("--overwrite", action="store_true")
    m.add_argument("--precision", choices=get_args(Precision), default="auto")
    m.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a diffusion model on MNIST (resumable)")
    t.add_argument("--out", required=True, help="run folder: state, log and final EMA weights")
    t.add_argument("--config", help="JSON file with TrainConfig fields")
    t.add_argument("--steps", type=_positive_int)
    t.add_argument("--batch-size", type=_positive_int)
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--schedule", choices=get_args(ScheduleKind))
    t.add_argument("--T", type=_positive_int)
    t.add_argument("--checkpoint-every", type=_positive_int)
    t.add_argument(
        "--max-minutes",
        type=float,
        help="stop after this much wall time in this sitting, writing the state (resumable) and the "
        "EMA weights of the last step",
    )
    t.add_argument("--limit", type=_positive_int, help="train on the first N training digits only")
    t.add_argument("--data-root", help="MNIST root (default: $TINYDDPM_DATA or the user cache)")
    t.add_argument(
        "--supervised-sigma", type=_sigma_arg, help="train a supervised reference denoiser at this sigma"
    )
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    x = sub.add_parser("train-aux", help="train the classifier, the chapter-1 VAE or the sigma estimator")
    x.add_argument("kind", choices=("classifier", "vae", "sigma_net"))
    x.add_argument("-o", "--output", required=True, help="weights file (.safetensors)")
    x.add_argument("--epochs", type=_positive_int)
    x.add_argument("--seed", type=int, default=0)
    x.add_argument("--data-root")
    x.add_argument("--overwrite", action="store_true")
    x.add_argument("--quiet", action="store_true")
    x.set_defaults(func=cmd_train_aux)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("denoise", "sample"):  # the API's validator: the same bounds and messages
        from .denoise import check_options

        try:
            check_options(
                steps=args.steps, samples=getattr(args, "samples", 1), guidance=args.guidance, eta=args.eta
            )
        except (TypeError, ValueError) as e:
            parser.error(str(e))
    from .checkpoint import CheckpointError

    try:
        args.func(args)
    except FileErrors as e:  # each message escaped already, one per line
        print(f"tinyddpm: error: {e}", file=sys.stderr)
        return 2
    except (CLIError, ImageError, CheckpointError) as e:
        print(f"tinyddpm: error: {_printable(e)}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError, KeyError) as e:
        print(f"tinyddpm: error: {_printable(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tinyddpm: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
