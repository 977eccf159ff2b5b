"""A training run's folder and process plumbing: the lock, the log, the resumable state, signals
and the distributed helpers, apart from the recipe in :mod:`tinyddpm.harness.train`.

- :class:`RunFolder`: one process at a time (``fcntl.flock``), ``log.csv``, ``state.safetensors``
  (weights, EMA weights, optimizer moments, step, the run's config) and ``ema.safetensors``;
- :class:`StopFlag`: SIGINT / SIGTERM set a flag so that the loop saves and returns;
- ``dist_info``, ``maybe_init_distributed``, ``run_device``, ``all_reduce_mean``, ``parallel``:
  the same loop under ``torchrun`` (DistributedDataParallel, gloo on CPU, nccl on GPU).
"""

from __future__ import annotations

import csv
import fcntl
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ..checkpoint import CheckpointError, load_tensors, save_tensors
from ..config import Config
from ..files import atomic_write, open_no_follow

STATE_FILE = "state.safetensors"
EMA_FILE = "ema.safetensors"
LOG_FILE = "log.csv"
LOCK_FILE = ".lock"


class RunBusyError(RuntimeError):
    """Another live process holds the run folder's lock."""


class RunFolder:
    """A training run's folder, owned by one process at a time: lock, log, resumable state.

    ``acquire()`` takes an exclusive ``fcntl.flock`` on ``.lock`` (the OS releases it when the
    holder dies, so a SIGKILLed run never blocks its own resume) and raises
    :class:`RunBusyError` naming the holder's pid when another process has it.
    """

    def __init__(self, path: str | os.PathLike, cfg: Config) -> None:
        self.path, self.cfg = Path(path), cfg
        self.state, self.ema, self.log = self.path / STATE_FILE, self.path / EMA_FILE, self.path / LOG_FILE
        self._lock: Any = None

    def acquire(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        f = open_no_follow(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT, "r+")  # held while the run lives
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise RunBusyError(f"{self.path}: in use by another training run (pid {holder})") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._lock = f
        for name in (STATE_FILE, EMA_FILE):
            for stale in self.path.glob(f".{name}.*.tmp"):  # left by a write that was killed
                stale.unlink(missing_ok=True)

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None

    def restore(self, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, float]:
        """Load the last state into the modules; returns (step, elapsed seconds); (0, 0) if none.

        The saved run's config must equal this run's except for ``steps``: a resumed run may be
        given more or fewer steps. The learning rate's cosine decay is then aimed at the new total
        from the step reached on (:func:`tinyddpm.harness.train.learning_rate`); a total at or below that
        step trains no further and only writes the EMA weights.
        """
        if not self.state.exists():
            return 0, 0.0
        tensors, header = load_tensors(self.state)
        if header.get("kind") != "train_state":
            raise CheckpointError(self.state, "not a training state file")
        try:
            saved = type(self.cfg).from_dict(header.get("train_config") or {})
            same = replace(saved, steps=self.cfg.steps) == self.cfg
        except (TypeError, ValueError):
            same = False
        if not same:
            raise CheckpointError(
                self.state,
                "was written by a run with a different TrainConfig (only steps may change on resume); "
                "use another --out folder",
            )
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        state: dict[int, dict[str, Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith("opt."):
                _, idx, name = k.split(".", 2)
                state.setdefault(int(idx), {})[name] = v
        opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
        return int(header["step"]), float(header.get("elapsed_s", 0.0))

    def save(
        self, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, step: int, elapsed: float
    ) -> None:
        """Atomically write the resumable state: weights, EMA weights, optimizer moments, step."""
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
        tensors.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
        for idx, st in opt.state_dict()["state"].items():
            for k, v in st.items():
                tensors[f"opt.{idx}.{k}"] = torch.as_tensor(v)
        header = {
            "format": 1,
            "kind": "train_state",
            "train_config": self.cfg.to_dict(),
            "step": step,
            "elapsed_s": elapsed,
        }
        save_tensors(self.state, tensors, header)

    def truncate_log(self, step: int) -> None:
        """Drop log rows past ``step`` (written after the checkpoint a resumed run restarts from)."""
        rows = [["step", "loss", "lr", "elapsed_s"]]
        if self.log.exists():
            with open_no_follow(self.log, os.O_RDONLY, "r") as f:
                rows = [r for i, r in enumerate(csv.reader(f)) if i == 0 or int(r[0]) <= step]

        def write(tmp: str) -> None:
            with open(tmp, "w", newline="") as f:
                csv.writer(f).writerows(rows)

        atomic_write(self.log, write)  # replaces the entry: a link named log.csv is not followed

    def append_log(self, rows: list[list[Any]]) -> None:
        with open_no_follow(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, "a") as f:
            csv.writer(f).writerows(rows)


def dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def maybe_init_distributed() -> bool:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1). Returns True if joined."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        return True
    return False


def run_device(device: str | torch.device | None, rank: int, world: int) -> torch.device:
    dev = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dev.type == "cuda" and world > 1:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
        dev = torch.device("cuda", torch.cuda.current_device())
    return dev


def all_reduce_mean(v: float, world: int, device: torch.device) -> float:
    if world == 1:
        return v
    x = torch.tensor([v], device=device)
    dist.all_reduce(x)
    return float(x) / world


class StopFlag:
    """SIGINT / SIGTERM set a flag (the loop saves and returns) instead of killing the run."""

    def __enter__(self) -> StopFlag:
        self.signal, self._old = None, {}
        try:  # every rank: torchrun forwards SIGTERM to all workers; the flag is all-reduced
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._set)
        except ValueError:  # not the main thread: no handlers
            self._old = {}
        return self

    def _set(self, signum: int, _frame: Any) -> None:
        self.signal = signum

    def __exit__(self, *exc: object) -> None:
        for sig, h in self._old.items():
            signal.signal(sig, h)


def parallel(model: nn.Module, dev: torch.device, world: int) -> nn.Module:
    if world == 1:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
