"""The loop of the small trainers (classifier, VAE, sigma estimator): one ``fit``, one step.

Each trainer builds its model and optimiser and says what the loss of a batch is; ``fit`` runs
the epochs of shuffled batches, the optimiser steps and the progress bar. The diffusion
model's step, with autocast, clipping and EMA, is :func:`tinyddpm.train.train_step`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from .data import epoch_batches


def optimizer_step(loss: Tensor, opt: torch.optim.Optimizer, sched: Any = None) -> float:
    """Backpropagate ``loss``, step ``opt`` (and ``sched``); returns the loss as a float."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    return float(loss.detach())


def adamw_one_cycle(
    model: nn.Module, *, lr: float, steps: int, weight_decay: float = 0.01
) -> tuple[torch.optim.Optimizer, Any]:
    """AdamW with a one-cycle learning rate peaking at ``lr`` over ``steps`` (Smith & Topin 2019)."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    return opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)


def fit(
    model: nn.Module,
    batch_loss: Callable[[Tensor], Tensor],
    n: int,
    *,
    opt: torch.optim.Optimizer,
    sched: Any = None,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    desc: str,
    progress: bool,
) -> dict[str, Any]:
    """Train ``model`` for ``epochs`` passes over ``n`` items in shuffled batches of indices.

    ``batch_loss(idx)`` returns the loss of the batch ``idx`` (a (batch_size,) index tensor);
    the permutations come from ``generator``, drawn as each epoch starts. The model is in
    training mode during the loop and in eval mode after it. Returns what the run did:
    epochs, steps, batch size and wall time in seconds.
    """
    from tqdm.auto import tqdm

    steps = epochs * (n // batch_size)
    t0 = time.time()
    bar = tqdm(total=steps, disable=not progress, desc=desc)
    model.train()
    for idx in epoch_batches(n, batch_size, epochs, generator):
        loss = optimizer_step(batch_loss(idx), opt, sched)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
    bar.close()
    model.eval()
    return {
        "epochs": epochs,
        "steps": steps,
        "batch_size": batch_size,
        "wall_time_s": round(time.time() - t0, 1),
    }
