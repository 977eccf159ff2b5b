"""Weights on disk: safetensors plus a JSON config, never pickle; the shipped pretrained models.

A tinyddpm weights file is a safetensors file whose string metadata holds one key,
``"tinyddpm"``, a JSON object ``{"format": 1, "architecture": ..., "config": {...},
"schedule": {...} | null, "info": {...}}``. Loading parses that header with the safetensors
library (which never executes code), rebuilds the architecture from the config and loads the
tensors strictly. Anything else (a pickle, an empty or truncated file, a folder, unknown
architecture, wrong shapes, a checksum mismatch) raises :class:`CheckpointError` naming the file.

Files are written atomically (:func:`tinyddpm.files.atomic_write`), with the mode ``open()`` gives.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import Tensor, nn

from .classifier import Classifier, ClassifierConfig
from .config import Config
from .files import atomic_write
from .schedules import NoiseSchedule
from .seed import SeedUNet, SeedUNetConfig, StepCNN, StepCNNConfig
from .sigma_net import SigmaNet, SigmaNetConfig
from .unet import UNet, UNetConfig
from .vae import VAE, VAEConfig

FORMAT_VERSION = 1
REGISTRY_FILE = "registry.json"


class CheckpointError(ValueError):
    """A weights file that is missing, corrupt, or not what it claims to be."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


#: Architecture name (as stored in a weights file) -> (config class, model class).
ARCHITECTURES: dict[str, tuple[type[Config], type[nn.Module]]] = {
    "unet": (UNetConfig, UNet),
    "classifier": (ClassifierConfig, Classifier),
    "vae": (VAEConfig, VAE),
    "sigma_net": (SigmaNetConfig, SigmaNet),
    "seed_unet": (SeedUNetConfig, SeedUNet),  # the student's recipe (tinyddpm.seed)
    "step_cnn": (StepCNNConfig, StepCNN),  # the student's noise-level classifier
}


def architecture_name(model: nn.Module) -> str:
    """The registry name of ``model``'s class."""
    for name, (_, cls) in ARCHITECTURES.items():
        if type(model) is cls:
            return name
    raise TypeError(f"{type(model).__name__} is not a tinyddpm architecture")


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
    except json.JSONDecodeError as e:
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
    """Save ``model``'s weights and config (and the diffusion schedule, if any) to ``path``."""
    header = {
        "format": FORMAT_VERSION,
        "architecture": architecture_name(model),
        "config": model.config.to_dict(),
        "schedule": schedule.config() if schedule is not None else None,
        "info": info or {},
    }
    save_tensors(path, model.state_dict(), header)


def load_model(
    path: str | os.PathLike, *, expected_sha256: str | None = None
) -> tuple[nn.Module, NoiseSchedule | None, dict]:
    """Load ``(model in eval mode, schedule or None, info)`` from a tinyddpm weights file."""
    tensors, header = load_tensors(path, expected_sha256=expected_sha256)
    arch = header.get("architecture")
    if arch not in ARCHITECTURES:
        raise CheckpointError(path, f"unknown architecture {arch!r} (known: {sorted(ARCHITECTURES)})")
    config_cls, model_cls = ARCHITECTURES[arch]
    try:
        config = config_cls.from_dict(header.get("config") or {})
        model = model_cls(config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(path, f"invalid {arch} config ({e})") from None
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
    model.load_state_dict(tensors, strict=True)
    model.eval()
    schedule = None
    if header.get("schedule") is not None:
        try:
            schedule = NoiseSchedule.from_config(header["schedule"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(path, f"invalid schedule config ({e})") from None
    return model, schedule, header.get("info") or {}


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
def _load_verified(
    path: Path, sha256: str, size: int, mtime_ns: int
) -> tuple[nn.Module, NoiseSchedule | None]:
    model, schedule, _ = load_model(path, expected_sha256=sha256)
    return model.requires_grad_(False), schedule


def pretrained(name: str = "ddpm") -> tuple[nn.Module, NoiseSchedule | None]:
    """Load a shipped model by name, verifying its recorded sha256: ``(model, schedule or None)``.

    Each model is read, hashed and built once per process: later calls return the same module
    (in eval mode, parameters frozen) as long as its file is unchanged (keyed by path, recorded
    sha256, size and modification time). It is shared: to train or modify it, load a private
    copy with ``load_model(pretrained_path(name))``.

    >>> model, schedule = pretrained("ddpm")
    >>> pretrained("ddpm")[0] is model
    True
    """
    path = pretrained_path(name)
    try:
        st = path.stat()
    except OSError:
        raise CheckpointError(path, "no such file") from None
    return _load_verified(path, registry()[name]["sha256"], st.st_size, st.st_mtime_ns)
