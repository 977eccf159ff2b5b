"""Training the noise predictor on MNIST: AdamW, warm-up and cosine decay, EMA, resumable.

The loss is L_simple (Ho et al. 2020, Eq. 14) at continuous timesteps; labels are dropped to the
null class with probability ``p_uncond`` so one network also serves classifier-free guidance
(Ho & Salimans 2022). Timesteps are drawn uniformly on [0, T] and, for a share ``sigma_share``
of each batch (half by default), at noise levels log-uniform in ``sigma_range`` (pixel units): a
loss weighting that spends more of the budget on the noise levels at which the model is used as
a denoiser. ``weighting="min_snr"`` weights each image's loss by Min-SNR-gamma.

No hidden state: the data order of epoch e and the noise, timesteps and label drops of step k
are functions of (seed, e) and (seed, k) alone. A checkpoint therefore needs only the weights,
the EMA weights, the optimizer moments and the step; a resumed run continues bit for bit.

Runs unchanged under ``torchrun`` (DistributedDataParallel, gloo on CPU, nccl on GPU): every
rank draws the same global batch and trains on its slice, so the result matches one process
with the same global batch.

The pieces, each small enough to read on its own: ``TrainConfig`` (the whole recipe),
``training_batch`` (what step k sees), ``train_step`` (loss under autocast, backward, clip,
optimizer, EMA), :class:`~tinyddpm.harness.runs.RunFolder` (the run's lock, log and checkpoints)
and ``train`` (the loop that strings them together).

    tinyddpm train --out runs/ddpm --steps 6000
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor, nn

from .. import diffusion
from ..checkpoint import (
    load_model,
    pretrained_path,
    save_model,
    sha256_file,
)
from ..config import Config
from ..data import Batcher, load_mnist, pixels, to_model
from ..options import Norm, check_choice
from ..schedules import NoiseSchedule, ScheduleConfig
from ..seeding import generator, seeded_init
from ..unet import UNet, UNetConfig, num_parameters
from .augment import AugmentConfig, augment
from .runs import (
    RunFolder,
    StopFlag,
    all_reduce_mean,
    dist_info,
    maybe_init_distributed,
    parallel,
    run_device,
)

TSampling = Literal["uniform", "mixture", "lognormal"]  # how training draws t: see sample_timesteps
Weighting = Literal["none", "min_snr"]  # L_simple as it is, or Min-SNR-gamma (Hang et al. 2023)
Objective = Literal["eps", "supervised"]  # diffusion (L_simple), or noisy -> clean at one sigma


@dataclass(frozen=True)
class TrainConfig(Config):
    """Everything that determines a training run (stored in its checkpoints).

    >>> from tinyddpm.harness.train import TrainConfig
    >>> cfg = TrainConfig(steps=200, batch_size=64, t_sampling="lognormal")
    >>> cfg.steps, TrainConfig.from_dict(cfg.to_dict()) == cfg
    (200, True)
    """

    steps: int = 6000  # optimiser steps in all; a resumed run may be given more or fewer
    batch_size: int = 128  # images per step (the global batch, split across DDP workers)
    lr: float = 1e-3  # AdamW peak learning rate, reached after warmup_steps
    min_lr_ratio: float = 0.05  # cosine decay from lr to lr * min_lr_ratio
    warmup_steps: int = 200  # linear warm-up from lr / warmup_steps to lr
    weight_decay: float = 0.01  # AdamW decoupled weight decay
    grad_clip: float = 1.0  # clip the gradient norm to this; 0: no clipping
    ema_decay: float = 0.999  # EMA of the weights, decay min(ema_decay, (1 + k) / (10 + k)) at step k
    p_uncond: float = 0.1  # share of labels replaced by the null class (classifier-free guidance)
    t_sampling: TSampling = "mixture"  # "uniform", "mixture" or "lognormal"
    sigma_range: tuple[float, float] = (0.02, 1.0)  # pixel units, for "mixture"
    sigma_share: float = 0.5  # share of a "mixture" batch drawn log-uniform in sigma
    lognormal: tuple[float, float] = (-1.2, 1.2)  # (P_mean, P_std) of ln sigma, model units, "lognormal"
    weighting: Weighting = "none"  # "none": L_simple as it is; "min_snr": Min-SNR-gamma (Hang et al. 2023)
    snr_gamma: float = 5.0  # gamma of "min_snr"
    amp: bool = True  # bfloat16 autocast for the forward pass
    seed: int = 0  # initial weights, data order, noise and labels drops: all from this
    checkpoint_every: int = 250  # steps between resumable states (also written on any stop)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)  # the noise schedule (cosine, T = 1000)
    unet: UNetConfig = field(default_factory=UNetConfig)  # the network (1.5 M parameters by default)
    train_limit: int | None = None  # only the first N training digits (CLI --limit); None: all 60,000
    objective: Objective = "eps"  # "eps": diffusion (L_simple); "supervised": noisy -> clean at one sigma
    supervised_sigma: float = 0.2  # pixel units, for objective="supervised"
    loss: Norm = "l2"  # "l2": L_simple (Ho et al.); "l1": mean |eps - eps_theta| (the student's choice)
    augment: AugmentConfig = field(default_factory=AugmentConfig)  # off unless augment.p > 0
    init: str | None = None  # start from these weights (a shipped model's name or a file): fine-tuning

    def __post_init__(self) -> None:
        self.check()

    def check(self) -> None:
        """Raise ``ValueError`` for a value no run can use (also called by :func:`train`)."""
        check_choice(self.objective, Objective, "objective")
        check_choice(self.loss, Norm, "loss")
        check_choice(self.t_sampling, TSampling, "t_sampling")
        check_choice(self.weighting, Weighting, "weighting")
        if not 0.0 <= self.sigma_share <= 1.0:
            raise ValueError(f"sigma_share must lie in [0, 1], got {self.sigma_share}")
        if self.snr_gamma <= 0:
            raise ValueError(f"snr_gamma must be positive, got {self.snr_gamma}")


def learning_rate(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``lr * min_lr_ratio`` at ``steps``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))


def sample_timesteps(cfg: TrainConfig, schedule: NoiseSchedule, n: int, gen: torch.Generator) -> Tensor:
    """Continuous training timesteps, shape (n,): uniform on [0, T]; ``"mixture"``: a share
    ``sigma_share`` log-uniform in pixel sigma over ``sigma_range``, the rest uniform;
    ``"lognormal"``: ln s ~ N(P_mean, P_std^2) for the model-unit noise level s = sqrt((1 - abar) /
    abar) (Karras et al. 2022, Table 1, with their defaults -1.2 and 1.2 for data in [-1, 1]),
    clamped to the schedule's range."""
    u = torch.rand(n, generator=gen, dtype=torch.float64)
    t = u * schedule.T
    if cfg.t_sampling == "lognormal":
        p_mean, p_std = cfg.lognormal
        sig = torch.exp(p_mean + p_std * torch.randn(n, generator=gen, dtype=torch.float64))
        t = schedule.t_from_sigma(sig.clamp(max=schedule.max_sigma))
    if cfg.t_sampling == "mixture":
        lo, hi = (math.log(2 * s) for s in cfg.sigma_range)  # model units: 2 * pixel sigma
        sig = torch.exp(lo + (hi - lo) * torch.rand(n, generator=gen, dtype=torch.float64))
        t_sig = schedule.t_from_sigma(sig.clamp(max=schedule.max_sigma))
        pick = torch.rand(n, generator=gen) < cfg.sigma_share
        t = torch.where(pick, t_sig, t)
    return t.clamp(min=1e-3)


class Batch(NamedTuple):
    x0: Tensor  # (B, 1, 28, 28) model units
    t: Tensor  # (B,) continuous timesteps, float64
    noise: Tensor  # (B, 1, 28, 28) standard normal
    y: Tensor | None  # (B,) labels, the null class num_classes where dropped; None: unconditional


def training_batch(
    cfg: TrainConfig, step: int, images: Tensor, labels: Tensor, batcher: Batcher, schedule: NoiseSchedule
) -> Batch:
    """The global batch of step ``step``: a function of (cfg.seed, step) alone."""
    gen = generator(cfg.seed, "step", step)
    idx = batcher.indices(step)
    t = sample_timesteps(cfg, schedule, cfg.batch_size, gen)
    noise = torch.randn(cfg.batch_size, 1, 28, 28, generator=gen)
    y = None
    if cfg.unet.num_classes:
        y = labels[idx].clone()
        y[torch.rand(cfg.batch_size, generator=gen) < cfg.p_uncond] = cfg.unet.num_classes
    x0 = pixels(images[idx])  # (B, 1, 28, 28) pixels
    x0 = augment(x0, cfg.augment, generator(cfg.seed, "augment", step))  # no draws when off
    return Batch(to_model(x0), t, noise, y)


def train_step(
    net: nn.Module,
    ema: nn.Module,
    opt: torch.optim.Optimizer,
    batch: Batch,
    schedule: NoiseSchedule,
    cfg: TrainConfig,
    step: int,
) -> Tensor:
    """One optimisation step; returns the (detached) loss of this worker's batch.

    The loss is :func:`tinyddpm.diffusion.loss` (or ``supervised_loss``) with the network under
    bfloat16 autocast when ``cfg.amp``; then backward, gradient clipping, AdamW at the step's
    learning rate, and the EMA update with decay min(ema_decay, (1 + k) / (10 + k)).
    """
    model = net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net
    for g in opt.param_groups:
        g["lr"] = learning_rate(cfg, step)
    with torch.autocast(batch.x0.device.type, dtype=torch.bfloat16, enabled=cfg.amp):
        if cfg.objective == "supervised":  # the reference denoiser: y = x0 + s n -> x0
            loss = diffusion.supervised_loss(net, batch.x0, 2 * cfg.supervised_sigma, batch.noise)
        else:
            w = (
                diffusion.min_snr_weight(batch.t, schedule, cfg.snr_gamma)
                if cfg.weighting == "min_snr"
                else None
            )
            loss = diffusion.loss(
                net, batch.x0, batch.t, batch.noise, schedule, batch.y, norm=cfg.loss, weight=w
            )
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
    return loss.detach()


def _build(cfg: TrainConfig, dev: torch.device) -> tuple[UNet, UNet, torch.optim.Optimizer]:
    """The network, its EMA copy and AdamW; the initial weights are the only draws from torch's
    default RNG, forked and seeded with ``cfg.seed`` (the same on every worker)."""
    with seeded_init(cfg.seed):
        model, ema = UNet(cfg.unet).to(dev), UNet(cfg.unet).to(dev).requires_grad_(False)
    if cfg.init is not None:
        model.load_state_dict(_init_weights(cfg))
    ema.load_state_dict(model.state_dict())
    return model, ema, torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def _init_path(cfg: TrainConfig) -> Path:
    """The weights file ``cfg.init`` names: a file, else a shipped model's name."""
    path = Path(cfg.init)
    return path if path.exists() else pretrained_path(cfg.init)


def _init_weights(cfg: TrainConfig) -> dict[str, Tensor]:
    """The state dict ``cfg.init`` names (a shipped model or a weights file), which must have the
    run's architecture."""
    start, _, _ = load_model(_init_path(cfg))
    if start.config != cfg.unet:
        raise ValueError(f"init weights {cfg.init!r} have another architecture ({start.config}) than the run")
    return start.state_dict()


def _run_info(cfg: TrainConfig, step: int, wall_s: float, model: nn.Module, world: int) -> dict[str, Any]:
    """What ``ema.safetensors`` records about the run that made it: ``complete`` is False for a
    run stopped before ``cfg.steps`` (time limit or signal), whose weights are those of ``steps``.
    A fine-tune (``cfg.init``) also records the run it continued (``init_run``: its own record,
    sha256 of its file) and the wall time of both together (``total_wall_time_s``)."""
    info: dict[str, Any] = {
        "train_config": cfg.to_dict(),
        "steps": step,
        "complete": step >= cfg.steps,
        "wall_time_s": round(wall_s, 1),
        "images_seen": step * cfg.batch_size,
        "parameters": num_parameters(model),
        "torch": torch.__version__,
        "workers": world,
    }
    if cfg.init is not None:
        path = _init_path(cfg)
        before = load_model(path)[2]
        info["init_run"] = {**before, "sha256": sha256_file(path)}
        info["total_wall_time_s"] = round(
            before.get("total_wall_time_s", before.get("wall_time_s", 0.0)) + wall_s, 1
        )
    return info


def _halt(stop: StopFlag, t_start: float, max_minutes: float | None, world: int, dev: torch.device) -> bool:
    """Whether to stop after this step: a signal arrived, or ``max_minutes`` of wall time passed in
    this sitting (on any worker: the decision is all-reduced, so every worker stops together)."""
    out_of_time = max_minutes is not None and time.time() - t_start > 60 * max_minutes
    return all_reduce_mean(float(bool(stop.signal) or out_of_time), world, dev) > 0


def _checked(data: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    images, labels = data
    if images.dtype != torch.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(
            f"data images must be uint8 of shape (N, 28, 28), got {images.dtype} {tuple(images.shape)}"
        )
    if labels.shape != (images.shape[0],):
        raise ValueError(f"got {labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images")
    return images, labels.long()


def train(
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    data: tuple[Tensor, Tensor] | None = None,
    progress: bool = True,
    max_minutes: float | None = None,
    device: str | torch.device | None = None,
) -> Path:
    """Train (or resume) a diffusion model into ``out_dir``; return the path of the EMA weights.

    ``out_dir`` receives ``state.safetensors`` (resumable state, every ``checkpoint_every``
    steps, written atomically), ``log.csv`` and, whenever the run returns, ``ema.safetensors``
    (the EMA model with its schedule, loadable by :func:`tinyddpm.checkpoint.load_model` and by
    ``--model``). Rerunning the same command resumes from the last state, with the same or
    another number of steps. SIGINT and SIGTERM save the state and return early, and so does
    ``max_minutes`` of wall time in this sitting: the EMA weights of the last step are written
    then too, with ``info["complete"] = False``. ``data`` = (uint8 images (N, 28, 28),
    labels (N,)) trains on those digits instead of the MNIST training set under ``data_root``
    (the book's live demo uses the bundled sample). A second run on the same folder while
    this one lives raises :class:`~tinyddpm.harness.runs.RunBusyError`.
    """
    from tqdm.auto import tqdm

    cfg.check()
    joined = maybe_init_distributed()
    rank, world = dist_info()
    if cfg.batch_size % world:
        raise ValueError(f"batch size {cfg.batch_size} is not divisible by {world} workers")
    dev = run_device(device, rank, world)
    run = RunFolder(out_dir, cfg)
    if rank == 0:
        run.acquire()
    schedule = NoiseSchedule.from_config(cfg.schedule)
    images, labels = load_mnist(train=True, root=data_root) if data is None else _checked(data)
    images, labels = images[: cfg.train_limit], labels[: cfg.train_limit]
    batcher = Batcher(len(images), cfg.batch_size, cfg.seed)
    model, ema, opt = _build(cfg, dev)
    step, elapsed = run.restore(model, ema, opt)
    net = parallel(model, dev, world)
    mine = slice(rank * cfg.batch_size // world, (rank + 1) * cfg.batch_size // world)
    if rank == 0:
        run.truncate_log(step)
    t_start, pending = time.time(), []
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress or rank != 0, desc="train", mininterval=2)
    halt = False
    try:
        with StopFlag() as stop:
            while step < cfg.steps and not halt:
                # the batch of this step: a function of (seed, step); this worker's slice of it
                b = training_batch(cfg, step, images, labels, batcher, schedule)
                b = Batch(*(None if v is None else v[mine].to(dev) for v in b))
                # forward backward update (and the EMA)
                loss = all_reduce_mean(float(train_step(net, ema, opt, b, schedule, cfg, step)), world, dev)
                step += 1
                # timing and logging
                now = elapsed + time.time() - t_start
                pending.append([step, f"{loss:.6f}", f"{learning_rate(cfg, step - 1):.6g}", f"{now:.1f}"])
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
                # termination conditions, then the checkpoint (always on the way out)
                halt = _halt(stop, t_start, max_minutes, world, dev)
                if step % cfg.checkpoint_every == 0 or step == cfg.steps or halt:
                    if rank == 0:
                        run.append_log(pending)
                        run.save(model, ema, opt, step, now)
                    pending = []
                    if world > 1:
                        dist.barrier()
    finally:
        bar.close()
        run.release()
    if rank == 0 and step > 0:  # the EMA weights of the last step, finished or not
        info = _run_info(cfg, step, elapsed + time.time() - t_start, model, world)
        save_model(run.ema, ema.cpu(), schedule=schedule if cfg.objective == "eps" else None, info=info)
    if joined:
        dist.barrier()
        dist.destroy_process_group()
    return run.ema


def quick_config(**overrides: Any) -> TrainConfig:
    """A tiny configuration for tests and the book's live demo (seconds, not hours)."""
    small = UNetConfig(base_channels=16, channel_mults=(1, 2), num_res_blocks=1, groups=4)
    base = TrainConfig(
        steps=20, batch_size=32, warmup_steps=5, checkpoint_every=5, unet=small, train_limit=2048
    )
    return replace(base, **overrides)


def supervised_config(sigma: float, **overrides: Any) -> TrainConfig:
    """The recipe of a reference denoiser at ``sigma`` (pixel units): unconditional U-Net, MSE."""
    unet = UNetConfig(num_classes=None)
    base = TrainConfig(
        objective="supervised",
        supervised_sigma=sigma,
        unet=unet,
        steps=1500,
        warmup_steps=100,
        p_uncond=0.0,
        t_sampling="uniform",
    )
    return replace(base, **overrides)
