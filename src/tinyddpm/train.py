"""Training the noise predictor on MNIST: AdamW, warm-up and cosine decay, EMA, resumable.

The loss is L_simple (Ho et al. 2020, Eq. 14) at continuous timesteps; labels are dropped to the
null class with probability ``p_uncond`` so one network also serves classifier-free guidance
(Ho & Salimans 2022). Timesteps are drawn half uniformly on [0, T] and half at noise levels
log-uniform in ``sigma_range`` (pixel units): a loss weighting that spends more of the budget
on the noise levels at which the model is used as a denoiser.

No hidden state: the data order of epoch e and the noise, timesteps and label drops of step k
are functions of (seed, e) and (seed, k) alone. A checkpoint therefore needs only the weights,
the EMA weights, the optimizer moments and the step; a resumed run continues bit for bit.

Runs unchanged under ``torchrun`` (DistributedDataParallel, gloo on CPU, nccl on GPU): every
rank draws the same global batch and trains on its slice, so the result matches one process
with the same global batch.

    tinyddpm train --out runs/ddpm --steps 6000
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from . import diffusion
from .checkpoint import CheckpointError, load_tensors, save_model, save_tensors
from .data import load_mnist, to_model
from .schedules import NoiseSchedule
from .unet import UNet, UNetConfig, num_parameters

STATE_FILE = "state.safetensors"
EMA_FILE = "ema.safetensors"
LOG_FILE = "log.csv"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (stored in its checkpoints)."""

    steps: int = 6000
    batch_size: int = 128
    lr: float = 1e-3
    min_lr_ratio: float = 0.05  # cosine decay from lr to lr * min_lr_ratio
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    p_uncond: float = 0.1
    t_sampling: str = "mixture"  # "uniform" or "mixture"
    sigma_range: tuple[float, float] = (0.02, 1.0)  # pixel units, for "mixture"
    amp: bool = True  # bfloat16 autocast for the forward pass
    seed: int = 0
    checkpoint_every: int = 250
    schedule: dict = field(default_factory=lambda: {"kind": "cosine", "T": 1000})
    unet: dict = field(default_factory=lambda: UNetConfig().to_dict())
    train_limit: int | None = None  # use only the first N training digits (tests)
    objective: str = "eps"  # "eps": diffusion (L_simple); "supervised": noisy -> clean at one sigma
    supervised_sigma: float = 0.2  # pixel units, for objective="supervised"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sigma_range"] = list(self.sigma_range)
        d["unet"] = {k: list(v) if isinstance(v, tuple) else v for k, v in d["unet"].items()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        if "sigma_range" in d:
            d["sigma_range"] = tuple(d["sigma_range"])
        return cls(**d)


def derived_seed(seed: int, stream: str, index: int) -> int:
    """A 63-bit seed that depends only on (seed, stream, index)."""
    digest = hashlib.sha256(f"{seed}:{stream}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, stream: str, index: int) -> torch.Generator:
    """A CPU generator for one (stream, index): the only source of randomness in training."""
    return torch.Generator().manual_seed(derived_seed(seed, stream, index))


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def sample_timesteps(cfg: TrainConfig, schedule: NoiseSchedule, n: int, gen: torch.Generator) -> Tensor:
    """Continuous training timesteps, shape (n,): uniform, or half uniform / half log-uniform sigma."""
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    t = u * schedule.T
    if cfg.t_sampling == "mixture":
        lo, hi = (math.log(2 * s) for s in cfg.sigma_range)  # model units: 2 * pixel sigma
        sig = torch.exp(lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64))
        t_sig = schedule.t_from_sigma(sig.clamp(max=schedule.max_sigma))
        pick = torch.rand(n, generator=gen) < 0.5
        t = torch.where(pick, t_sig, t)
    elif cfg.t_sampling != "uniform":
        raise ValueError(f"unknown t_sampling {cfg.t_sampling!r}")
    return t.clamp(min=1e-3)


class _Batcher:
    """Global batch k = positions [k B, (k+1) B) of epoch-wise permutations of the data."""

    def __init__(self, n: int, batch_size: int, seed: int) -> None:
        if n < batch_size:
            raise ValueError(f"batch size {batch_size} is larger than the data ({n} digits)")
        self.n, self.b, self.seed = n, batch_size, seed
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> Tensor:
        epoch, j = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=generator(self.seed, "epoch", epoch))
        return self._perm[j * self.b : (j + 1) * self.b]


def _dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _maybe_init_distributed() -> bool:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1). Returns True if joined."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
        return True
    return False


def _state_tensors(model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer) -> dict[str, Tensor]:
    out = {f"model.{k}": v for k, v in model.state_dict().items()}
    out.update({f"ema.{k}": v for k, v in ema.state_dict().items()})
    for idx, st in opt.state_dict()["state"].items():
        for k, v in st.items():
            out[f"opt.{idx}.{k}"] = torch.as_tensor(v)
    return out


def _restore(path: Path, cfg: TrainConfig, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer) -> tuple[int, float]:
    tensors, header = load_tensors(path)
    if header.get("kind") != "train_state":
        raise CheckpointError(path, "not a training state file")
    try:  # fields added to TrainConfig later take their defaults
        stored = TrainConfig.from_dict(header.get("train_config") or {}).to_dict()
    except TypeError:
        stored = None
    if stored != cfg.to_dict():
        raise CheckpointError(path, "was written by a run with a different TrainConfig; use another --out folder")
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    state: dict[int, dict[str, Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    opt.load_state_dict({"state": state, "param_groups": opt.state_dict()["param_groups"]})
    return int(header["step"]), float(header.get("elapsed_s", 0.0))


def _save_state(path: Path, cfg: TrainConfig, model: nn.Module, ema: nn.Module, opt: torch.optim.Optimizer, step: int, elapsed: float) -> None:
    header = {"format": 1, "kind": "train_state", "train_config": cfg.to_dict(), "step": step, "elapsed_s": elapsed}
    save_tensors(path, _state_tensors(model, ema, opt), header)


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
    max_minutes: float | None = None,
    device: str | torch.device | None = None,
) -> Path:
    """Train (or resume) a diffusion model into ``out_dir``; return the path of the EMA weights.

    ``out_dir`` receives ``state.safetensors`` (resumable state, every ``checkpoint_every``
    steps, written atomically), ``log.csv`` and finally ``ema.safetensors`` (the EMA model
    with its schedule, loadable by :func:`tinyddpm.checkpoint.load_model`). Rerunning the same
    command resumes from the last state. SIGINT and SIGTERM save the state and return early;
    so does ``max_minutes`` of wall time in this sitting.
    """
    from tqdm.auto import tqdm

    joined = _maybe_init_distributed()
    rank, world = _dist_info()
    if cfg.batch_size % world:
        raise ValueError(f"batch size {cfg.batch_size} is not divisible by {world} workers")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cuda" and world > 1:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", rank)))
        device = torch.device("cuda", torch.cuda.current_device())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    if cfg.objective not in ("eps", "supervised"):
        raise ValueError(f"unknown objective {cfg.objective!r} (expected 'eps' or 'supervised')")
    schedule = NoiseSchedule.from_config(cfg.schedule)
    images, labels = load_mnist(train=True, root=data_root)
    if cfg.train_limit is not None:
        images, labels = images[: cfg.train_limit], labels[: cfg.train_limit]
    batcher = _Batcher(len(images), cfg.batch_size, cfg.seed)
    unet_cfg = UNetConfig.from_dict(cfg.unet)

    torch.manual_seed(cfg.seed)  # only the initial weights use the global RNG
    model = UNet(unet_cfg).to(device)
    ema = UNet(unet_cfg).to(device)
    ema.load_state_dict(model.state_dict())
    ema.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    state_path = out / STATE_FILE
    if rank == 0:
        for name in (STATE_FILE, EMA_FILE):
            for stale in out.glob(f".{name}.*.tmp"):  # left by a write that was killed
                stale.unlink(missing_ok=True)
    step, elapsed = 0, 0.0
    if state_path.exists():
        step, elapsed = _restore(state_path, cfg, model, ema, opt)
    net: nn.Module = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    stop = {"signal": None}
    handlers = {}

    def _handler(signum, _frame):  # noqa: ANN001
        stop["signal"] = signum

    try:  # every rank: torchrun forwards SIGTERM to all workers; the flag is all-reduced below
        for sig in (signal.SIGINT, signal.SIGTERM):
            handlers[sig] = signal.signal(sig, _handler)
    except ValueError:  # not the main thread: no handlers
        handlers = {}

    log_path = out / LOG_FILE
    if rank == 0:
        _truncate_log(log_path, step)
    sl = slice(rank * cfg.batch_size // world, (rank + 1) * cfg.batch_size // world)
    t_start = time.time()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0, desc="train", mininterval=2)
    pending: list[list[Any]] = []
    amp = cfg.amp  # bfloat16 autocast on CPU (AMX/AVX-512 make it about 2x faster) and on GPU
    try:
        while step < cfg.steps:
            gen = generator(cfg.seed, "step", step)
            idx = batcher.indices(step)
            t = sample_timesteps(cfg, schedule, cfg.batch_size, gen)
            noise = torch.randn(cfg.batch_size, 1, 28, 28, generator=gen)
            y = labels[idx].clone()
            if unet_cfg.num_classes:
                y[torch.rand(cfg.batch_size, generator=gen) < cfg.p_uncond] = unet_cfg.num_classes
            x0 = to_model(images[idx].float().div(255).unsqueeze(1))
            x0, t, noise, y = (v[sl].to(device) for v in (x0, t, noise, y))

            lr = learning_rate(cfg, step)
            for g in opt.param_groups:
                g["lr"] = lr
            if cfg.objective == "supervised":  # the reference denoiser: y = x0 + s n -> x0
                s_m = 2 * cfg.supervised_sigma
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    x0_hat = net(x0 + s_m * noise, torch.full_like(t, s_m).float())
                loss = torch.mean((x0_hat.float() - x0) ** 2)
            else:
                x_t = diffusion.q_sample(x0, t, noise, schedule)
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
                    eps = net(x_t, t.float(), y if unet_cfg.num_classes else None)
                loss = torch.mean((eps.float() - noise) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
            with torch.no_grad():
                d = min(cfg.ema_decay, (1 + step) / (10 + step))
                for pe, pm in zip(ema.parameters(), model.parameters()):
                    pe.lerp_(pm, 1 - d)
                for be, bm in zip(ema.buffers(), model.buffers()):
                    be.copy_(bm)
            step += 1
            loss_value = float(loss.detach())
            if world > 1:
                lt = torch.tensor([loss_value], device=device)
                dist.all_reduce(lt)
                loss_value = float(lt) / world
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", refresh=False)
            pending.append([step, f"{loss_value:.6f}", f"{lr:.6g}", f"{elapsed + time.time() - t_start:.1f}"])

            out_of_time = max_minutes is not None and time.time() - t_start > 60 * max_minutes
            flag = torch.tensor([1.0 if (stop["signal"] or out_of_time) else 0.0], device=device)
            if world > 1:
                dist.all_reduce(flag)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or float(flag) > 0:
                if rank == 0:
                    _append_log(log_path, pending)
                    _save_state(state_path, cfg, model, ema, opt, step, elapsed + time.time() - t_start)
                pending = []
                if world > 1:
                    dist.barrier()
            if float(flag) > 0:
                break
    finally:
        bar.close()
        for sig, h in handlers.items():
            signal.signal(sig, h)
    total = elapsed + time.time() - t_start
    ema_path = out / EMA_FILE
    if step >= cfg.steps and rank == 0:
        info = {
            "train_config": cfg.to_dict(),
            "steps": step,
            "wall_time_s": round(total, 1),
            "images_seen": step * cfg.batch_size,
            "parameters": num_parameters(model),
            "torch": torch.__version__,
            "workers": world,
        }
        save_model(ema_path, ema.cpu(), schedule=schedule if cfg.objective == "eps" else None, info=info)
    if joined:
        dist.barrier()
        dist.destroy_process_group()
    return ema_path


def _truncate_log(path: Path, step: int) -> None:
    """Drop log rows past ``step`` (written after the checkpoint a resumed run restarts from)."""
    if not path.exists():
        with open(path, "w", newline="") as f:
            csv.writer(f).writerow(["step", "loss", "lr", "elapsed_s"])
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= step]
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(keep)


def _append_log(path: Path, rows: list[list[Any]]) -> None:
    with open(path, "a", newline="") as f:
        csv.writer(f).writerows(rows)


def quick_config(**overrides: Any) -> TrainConfig:
    """A tiny configuration for tests and the book's live demo (seconds, not hours)."""
    small = UNetConfig(base_channels=16, channel_mults=(1, 2), num_res_blocks=1, groups=4).to_dict()
    base = TrainConfig(steps=20, batch_size=32, warmup_steps=5, checkpoint_every=5, unet=small, train_limit=2048)
    return replace(base, **overrides)


def config_json(cfg: TrainConfig) -> str:
    return json.dumps(cfg.to_dict(), indent=2, sort_keys=True)
