"""Weights on disk: safetensors plus a JSON config, never pickle; the shipped pretrained models.

A tinyddpm weights file is a safetensors file whose string metadata holds one key,
``"tinyddpm"``, a JSON object ``{"format": 1, "architecture": ..., "config": {...},
"schedule": {...} | null, "info": {...}}``. Loading parses that header with the safetensors
library (which never executes code), rebuilds the architecture from the config and loads the
tensors strictly. Anything else (a pickle, an empty or truncated file, a folder, unknown
architecture, wrong shapes, a checksum mismatch) raises :class:`CheckpointError` naming the file.

A file is checked before anything is built from it, so a small file cannot ask for a large
allocation: every number in its config and schedule must be finite (JSON ``NaN`` and
``Infinity`` are refused) and every integer at most :data:`MAX_CONFIG_INT`, every list at most
:data:`MAX_CONFIG_LIST` long; the network is then built on the ``meta`` device (no memory), its
size bounded by :data:`MAX_PARAMETERS`, every tensor's name, shape and dtype compared with the
file's, and only then given the file's tensors. Any failure on the way (including a
``ZeroDivisionError`` or ``RecursionError`` from a config no model accepts) is a
:class:`CheckpointError` naming the file. The architectures are a lazy registry: a model's module
is imported when a file of that architecture is loaded, not when this module is.

Files are written atomically (:func:`tinyddpm.files.atomic_write`), with the mode ``open()`` gives.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

from .config import Config
from .files import atomic_write
from .schedules import NoiseSchedule

FORMAT_VERSION = 1
REGISTRY_FILE = "registry.json"
# Bounds on what a file may ask for. The largest shipped model ("student") has 2.2 M parameters,
# its largest config number is StepCNN's hidden width 1024 and the largest schedule T = 1000.
MAX_PARAMETERS = 100_000_000  # about 45x the largest shipped model (400 MB in float32)
MAX_CONFIG_INT = 16_384  # any integer in a config or schedule (widths, classes, T): 16x the largest
MAX_CONFIG_LIST = 64  # any list in a config (channel multipliers, widths per level)
MAX_CONFIG_DEPTH = 8  # nesting of objects and lists in a config


class CheckpointError(ValueError):
    """A weights file that is missing, corrupt, or not what it claims to be.

    >>> import pathlib, tempfile, tinyddpm
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
    >>> _ = bad.write_bytes(b"<html>not weights</html>")
    >>> try:
    ...     tinyddpm.load_model(bad)
    ... except tinyddpm.CheckpointError as e:
    ...     print(e.problem)
    not a safetensors file, or truncated (header length does not fit the file)
    """

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


#: Architecture name (as stored in a weights file) -> "module:ConfigClass:ModelClass", imported
#: only when a file of that architecture is loaded (importing this module imports none of them).
ARCHITECTURES: dict[str, str] = {
    "unet": "tinyddpm.unet:UNetConfig:UNet",
    "classifier": "tinyddpm.harness.classifier:ClassifierConfig:Classifier",
    "vae": "tinyddpm.harness.vae:VAEConfig:VAE",
    "sigma_net": "tinyddpm.sigma_net:SigmaNetConfig:SigmaNet",
    # the student's recipe (tinyddpm.harness.student); "seed_unet" is the name its checkpoints store (the
    # module was called tinyddpm.seed), kept so that they load
    "seed_unet": "tinyddpm.harness.student:StudentUNetConfig:StudentUNet",
    "step_cnn": "tinyddpm.harness.student:StepCNNConfig:StepCNN",  # the student's noise-level classifier
}


def architecture(name: str) -> tuple[type[Config], type[nn.Module]]:
    """The (config class, model class) of a registered architecture, importing its module now."""
    module, config_cls, model_cls = ARCHITECTURES[name].split(":")
    mod = importlib.import_module(module)
    return getattr(mod, config_cls), getattr(mod, model_cls)


def architecture_name(model: nn.Module) -> str:
    """The registry name of ``model``'s class (compared by module and qualified name, no import)."""
    cls = type(model)
    for name, spec in ARCHITECTURES.items():
        module, _, model_cls = spec.split(":")
        if cls.__module__ == module and cls.__qualname__ == model_cls:
            return name
    raise TypeError(f"{cls.__name__} is not a tinyddpm architecture")


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_tensors(path: str | os.PathLike, tensors: dict[str, Tensor], header: dict[str, Any]) -> None:
    """Atomically write ``tensors`` with ``header`` stored as JSON under metadata key "tinyddpm"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(
        path,
        lambda tmp: save_file(tensors, tmp, metadata={"tinyddpm": json.dumps(header, sort_keys=True)}),
        fsync=True,
    )


def load_tensors(
    path: str | os.PathLike, *, expected_sha256: str | None = None
) -> tuple[dict[str, Tensor], dict]:
    """Read a tinyddpm safetensors file into ``(tensors, header)`` without unpickling anything."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(p, "no such file")
    if p.is_dir():
        raise CheckpointError(p, "is a directory, not a weights file")
    size = p.stat().st_size
    if size == 0:
        raise CheckpointError(p, "file is empty")
    with open(p, "rb") as f:
        head = f.read(8)
    if len(head) < 8:
        raise CheckpointError(p, "file is too short to be a safetensors file")
    if head[:2] in (b"PK", b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05"):
        raise CheckpointError(
            p, "looks like a pickle/zip (torch.save) file, which tinyddpm never loads; expected safetensors"
        )
    header_len = int.from_bytes(head, "little")
    if header_len <= 0 or header_len + 8 > size:
        raise CheckpointError(p, "not a safetensors file, or truncated (header length does not fit the file)")
    if expected_sha256 is not None:
        digest = sha256_file(p)
        if digest != expected_sha256:
            raise CheckpointError(p, f"sha256 mismatch: expected {expected_sha256}, got {digest}")
    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for corrupt files
        raise CheckpointError(p, f"corrupt or truncated safetensors file ({e})") from None
    if "tinyddpm" not in meta:
        raise CheckpointError(p, "safetensors file without tinyddpm metadata (no model config)")
    try:
        header = json.loads(meta["tinyddpm"])
    except (json.JSONDecodeError, RecursionError) as e:
        raise CheckpointError(p, f"tinyddpm metadata is not valid JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            p, f"unsupported tinyddpm format {header.get('format') if isinstance(header, dict) else header!r}"
        )
    return tensors, header


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    schedule: NoiseSchedule | None = None,
    info: dict[str, Any] | None = None,
) -> None:
    """Save ``model``'s weights and config (and the diffusion schedule, if any) to ``path``.

    >>> import pathlib, tempfile, tinyddpm
    >>> model, schedule = tinyddpm.pretrained("ddpm")
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "copy.safetensors"
    >>> tinyddpm.save_model(path, model, schedule=schedule, info={"note": "my copy"})
    >>> tinyddpm.load_model(path)[2]["note"]
    'my copy'
    """
    header = {
        "format": FORMAT_VERSION,
        "architecture": architecture_name(model),
        "config": model.config.to_dict(),
        "schedule": schedule.config() if schedule is not None else None,
        "info": info or {},
    }
    save_tensors(path, model.state_dict(), header)


class _ShapesOnly(TorchFunctionMode):
    """Random initialisation skipped on meta tensors (shapes only; the file's weights come later).

    ``normal_`` on the meta device has no kernel of its own and falls back to a Python reference
    that imports torch's compiler (seconds, once per process); skipping it keeps a refusal fast.
    """

    RANDOM_FILLS = frozenset(
        [getattr(Tensor, n) for n in ("normal_", "uniform_", "bernoulli_", "exponential_", "random_")]
        + [getattr(nn.init, n) for n in ("normal_", "uniform_", "trunc_normal_", "kaiming_uniform_")]
        + [
            getattr(nn.init, n)
            for n in ("kaiming_normal_", "xavier_uniform_", "xavier_normal_", "orthogonal_")
        ]
    )

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        target = args[0] if args else kwargs.get("tensor")  # nn.init passes it by keyword
        if func in self.RANDOM_FILLS and isinstance(target, Tensor) and target.is_meta:
            return target
        return func(*args, **kwargs)


def _check_numbers(path: str | os.PathLike, where: str, value: Any, depth: int = 0) -> None:
    """Refuse non-finite floats, integers above MAX_CONFIG_INT, long lists and deep nesting."""
    if depth > MAX_CONFIG_DEPTH:
        raise CheckpointError(path, f"{where} is nested more than {MAX_CONFIG_DEPTH} levels deep")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        if abs(value) > MAX_CONFIG_INT:
            raise CheckpointError(path, f"{where} = {value} is out of bounds (at most {MAX_CONFIG_INT:,})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise CheckpointError(path, f"{where} = {value} is not a finite number")
    elif isinstance(value, list):
        if len(value) > MAX_CONFIG_LIST:
            raise CheckpointError(path, f"{where} has {len(value)} entries (at most {MAX_CONFIG_LIST})")
        for i, v in enumerate(value):
            _check_numbers(path, f"{where}[{i}]", v, depth + 1)
    elif isinstance(value, dict):
        for k, v in value.items():
            _check_numbers(path, f"{where}.{k}", v, depth + 1)
    else:
        raise CheckpointError(path, f"{where} holds a {type(value).__name__}")


def _build(
    path: str | os.PathLike, tensors: dict[str, Tensor], header: dict
) -> tuple[nn.Module, NoiseSchedule | None, dict]:
    """The model of ``header`` built on the meta device, checked against ``tensors``, then given them."""
    arch = header.get("architecture")
    if not isinstance(arch, str) or arch not in ARCHITECTURES:
        raise CheckpointError(path, f"unknown architecture {arch!r} (known: {sorted(ARCHITECTURES)})")
    config_dict, schedule_dict = header.get("config") or {}, header.get("schedule")
    _check_numbers(path, "config", config_dict)
    _check_numbers(path, "schedule", schedule_dict)
    config_cls, model_cls = architecture(arch)
    try:
        config = config_cls.from_dict(config_dict)
        with torch.device("meta"), _ShapesOnly():  # shapes only: no memory, whatever the config asks for
            model = model_cls(config)
    except CheckpointError:
        raise
    except Exception as e:  # TypeError, ValueError, ZeroDivisionError, RecursionError, RuntimeError, ...
        raise CheckpointError(path, f"invalid {arch} config ({type(e).__name__}: {e})") from None
    n_params = sum(t.numel() for t in model.state_dict().values())
    if n_params > MAX_PARAMETERS:
        raise CheckpointError(
            path, f"its {arch} config asks for {n_params:,} parameters (at most {MAX_PARAMETERS:,})"
        )
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(
            path, f"tensors do not match the {arch} config (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for k, v in expected.items():
        if tensors[k].shape != v.shape:
            raise CheckpointError(
                path, f"tensor {k!r} has shape {tuple(tensors[k].shape)}, the config needs {tuple(v.shape)}"
            )
        if tensors[k].dtype != v.dtype:
            raise CheckpointError(path, f"tensor {k!r} has dtype {tensors[k].dtype}, expected {v.dtype}")
        if v.is_floating_point() and not bool(torch.isfinite(tensors[k]).all()):
            raise CheckpointError(path, f"tensor {k!r} holds NaN or infinite values")
    try:
        model.load_state_dict(tensors, strict=True, assign=True)  # the file's tensors become the weights
        leftover = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
        if leftover:
            raise CheckpointError(path, f"{arch} has tensors the file cannot hold ({leftover[:3]})")
        model.eval()
        schedule = None if schedule_dict is None else NoiseSchedule.from_config(schedule_dict)
    except CheckpointError:
        raise
    except Exception as e:
        raise CheckpointError(path, f"invalid {arch} file ({type(e).__name__}: {e})") from None
    info = header.get("info") or {}
    return model, schedule, info if isinstance(info, dict) else {}


def load_model(
    path: str | os.PathLike, *, expected_sha256: str | None = None
) -> tuple[nn.Module, NoiseSchedule | None, dict]:
    """Load ``(model in eval mode, schedule or None, info)`` from a tinyddpm weights file.

    Checked before it is built (see the module docstring): a config out of bounds, a tensor that
    does not match, anything that fails while loading raises :class:`CheckpointError` naming ``path``.

    >>> import tinyddpm
    >>> from tinyddpm.checkpoint import pretrained_path
    >>> model, schedule, info = tinyddpm.load_model(pretrained_path("ddpm"))
    >>> type(model).__name__, schedule.kind, schedule.T, model.training
    ('UNet', 'cosine', 1000, False)
    """
    tensors, header = load_tensors(path, expected_sha256=expected_sha256)
    return _build(path, tensors, header)


# ---- shipped models --------------------------------------------------------------------
@functools.cache
def registry() -> dict[str, dict]:
    """The shipped models: name -> {"file", "sha256", ...recorded facts} (from weights/registry.json).

    Read once per process (it is package data); treat the result as read-only.
    """
    ref = resources.files("tinyddpm").joinpath("weights", REGISTRY_FILE)
    if not ref.is_file():
        return {}
    return json.loads(ref.read_text())


def pretrained_path(name: str) -> Path:
    """Path of a shipped model's weights file inside the installed package."""
    reg = registry()
    if name not in reg:
        raise KeyError(f"no shipped model named {name!r} (available: {sorted(reg)})")
    return Path(str(resources.files("tinyddpm").joinpath("weights", reg[name]["file"])))


@functools.lru_cache(maxsize=16)
def _load_verified(path: Path, sha256: str, size: int, mtime_ns: int) -> tuple[dict[str, Tensor], dict]:
    tensors, header = load_tensors(path, expected_sha256=sha256)
    _build(path, tensors, header)  # checked once; pretrained() builds its own module per call
    return tensors, header


def pretrained(name: str = "ddpm", *, shared: bool = False) -> tuple[nn.Module, NoiseSchedule | None]:
    """Load a shipped model by name, verifying its recorded sha256: ``(model, schedule or None)``.

    Each file is read, hashed and checked once per process (keyed by path, recorded sha256, size
    and modification time); every call builds a fresh module from those tensors (a copy, in eval
    mode, parameters frozen), so changing one caller's model never changes another's.
    ``shared=True`` returns instead one module per file and process, built once, for read-only use
    (what :func:`tinyddpm.denoise` runs by default: no building per call).

    >>> model, schedule = pretrained("ddpm")
    >>> pretrained("ddpm")[0] is not model
    True
    """
    path = pretrained_path(name)
    try:
        st = path.stat()
    except OSError:
        raise CheckpointError(path, "no such file") from None
    key = (path, registry()[name]["sha256"], st.st_size, st.st_mtime_ns)
    return _shared_model(*key) if shared else _fresh_model(*key)


def _fresh_model(path: Path, sha256: str, size: int, mtime_ns: int) -> tuple[nn.Module, NoiseSchedule | None]:
    tensors, header = _load_verified(path, sha256, size, mtime_ns)
    model, schedule, _ = _build(path, {k: v.clone() for k, v in tensors.items()}, header)
    return model.requires_grad_(False), schedule


@functools.lru_cache(maxsize=16)
def _shared_model(
    path: Path, sha256: str, size: int, mtime_ns: int
) -> tuple[nn.Module, NoiseSchedule | None]:
    return _fresh_model(path, sha256, size, mtime_ns)
