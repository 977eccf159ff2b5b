"""The loop of the small trainers: one step, one loop, and epochs of shuffled batches on top.

Each trainer builds its model and optimiser and says what the loss of step k is;
``run_steps`` runs the steps (a count or a wall-clock budget) and ``fit`` feeds it epochs of
shuffled batches with a progress bar. The classifier, the VAE and the sigma estimator train
through ``fit``, the student's two networks through ``run_steps`` (their batches are functions
of the step, as the student's code drew them). The diffusion model's loop, with autocast,
clipping, EMA, checkpoints and DDP, is :func:`tinyddpm.harness.train.train`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..data import epoch_batches


def optimizer_step(loss: Tensor, opt: torch.optim.Optimizer, sched: Any = None) -> float:
    """Backpropagate ``loss``, step ``opt`` (and ``sched``); returns the loss as a float."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    return float(loss.detach())


def run_steps(
    model: nn.Module,
    step_loss: Callable[[int], Tensor],
    opt: torch.optim.Optimizer,
    *,
    sched: Any = None,
    steps: int | None = None,
    minutes: float | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> tuple[int, list[float], float]:
    """Optimise ``model`` with the loss ``step_loss(k)`` of step k = 0, 1, ... for ``steps`` steps
    or until ``minutes`` of wall time have passed (exactly one of the two).

    The model is in training mode during the loop and in eval mode after it; ``on_step(k, loss)``
    is called after each step. Returns (steps taken, the loss of each step, wall time in seconds).
    """
    if (minutes is None) == (steps is None):
        raise ValueError("give exactly one of minutes= and steps=")
    t0, k, losses = time.perf_counter(), 0, []
    model.train()
    while k < steps if steps is not None else time.perf_counter() - t0 < 60 * minutes:
        losses.append(optimizer_step(step_loss(k), opt, sched))
        if on_step is not None:
            on_step(k, losses[-1])
        k += 1
    model.eval()
    return k, losses, time.perf_counter() - t0


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
    batches = epoch_batches(n, batch_size, epochs, generator)  # each epoch's order drawn as it starts
    bar = tqdm(total=steps, disable=not progress, desc=desc)

    def tick(k: int, loss: float) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    step_loss = lambda k: batch_loss(next(batches))  # noqa: E731 (step k is the next batch)
    _, _, wall = run_steps(model, step_loss, opt, sched=sched, steps=steps, on_step=tick)
    bar.close()
    return {
        "epochs": epochs,
        "steps": steps,
        "batch_size": batch_size,
        "wall_time_s": round(wall, 1),
    }
