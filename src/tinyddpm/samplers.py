"""Reverse-chain samplers: ancestral DDPM and DDIM, from any (also fractional) timestep.

- ``ancestral_step``: x_s ~ p(x_s | x_t) = q(x_s | x_t, x0_hat), variance beta-tilde
  (Ho et al. 2020, Algorithm 2 and Eqs. 6-7; for s = t - 1 exactly the paper's step).
- ``ddim_step``: the DDIM update with stochasticity eta (Song et al. 2021, arXiv:2010.02502, Eq. 12
  with sigma_t(eta) from Eq. 16); eta = 1 is ancestral sampling, eta = 0 deterministic.
- ``sample_loop``: runs a step function over a decreasing list of timesteps.
- ``ancestral_timesteps`` / ``ddim_timesteps``: the timestep lists, starting at any t* in (0, T].

A sampler takes a model and a schedule; it owns neither. The model is any callable
``eps_model(x_t, t, y=None)`` (see :mod:`tinyddpm.diffusion`). With ``guidance`` g and a label y,
the noise estimate is eps_null + g (eps_y - eps_null) (classifier-free guidance, Ho & Salimans 2022).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import Tensor

from .diffusion import EpsModel, bcast, eps_from_x0, per_sample, predict_x0, q_posterior
from .options import check_choice
from .precision import Precision, with_precision
from .schedules import NoiseSchedule

SampleMethod = Literal["ddim", "ancestral"]  # DDIM (Song et al. 2021) or ancestral steps (Ho et al. 2020)

StepFn = Callable[..., Tensor]
Generators = torch.Generator | Sequence[torch.Generator] | None


def model_device(eps_model: object) -> torch.device:
    """The device a network's parameters live on; the CPU for a plain callable or a network
    without parameters."""
    if isinstance(eps_model, torch.nn.Module):
        p = next(iter(eps_model.parameters()), None)
        if p is not None:
            return p.device
    return torch.device("cpu")


def noise_like(x: Tensor, generator: Generators) -> Tensor:
    """Standard normal noise of ``x``'s shape from one generator, or one generator per image.

    With a list of per-image generators an image's noise does not depend on the rest of the
    batch, so results are the same for any batch size or chunking.
    """
    if generator is None or isinstance(generator, torch.Generator):
        return torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    if len(generator) != x.shape[0]:
        raise ValueError(f"got {len(generator)} generators for {x.shape[0]} images")
    return torch.stack([torch.randn(x.shape[1:], generator=g, dtype=x.dtype) for g in generator]).to(x.device)


def guided_eps(
    eps_model: EpsModel, x_t: Tensor, t: Tensor, *, label: Tensor | None = None, guidance: float = 1.0
) -> Tensor:
    """eps_theta(x_t, t), or the classifier-free-guided eps_null + g (eps_y - eps_null).

    ``label is None`` asks the model without a label. With a label and g == 1 this is the plain
    conditional prediction (one network evaluation); otherwise the batch is doubled and the
    null class is asked for as label -1.
    """
    if label is None:
        return eps_model(x_t, t)
    if guidance == 1.0:
        return eps_model(x_t, t, label)
    eps = eps_model(torch.cat([x_t, x_t]), torch.cat([t, t]), torch.cat([label, torch.full_like(label, -1)]))
    eps_y, eps_null = eps.chunk(2)
    return eps_null + guidance * (eps_y - eps_null)


def predict_start(
    eps_model: EpsModel,
    x_t: Tensor,
    t: Tensor | float,
    schedule: NoiseSchedule,
    *,
    label: Tensor | None = None,
    guidance: float = 1.0,
    clip_x0: bool = True,
) -> tuple[Tensor, Tensor]:
    """(x0_hat, eps_hat) at x_t (Eq. 15); with ``clip_x0`` x0_hat is clipped to [-1, 1] and eps
    recomputed from it, so both stay consistent with x_t."""
    tt = per_sample(t, x_t.shape[0])
    eps = guided_eps(
        eps_model, x_t, tt.to(device=x_t.device, dtype=x_t.dtype), label=label, guidance=guidance
    )
    x0 = predict_x0(x_t, tt, eps, schedule)
    if clip_x0:
        x0 = x0.clamp(-1, 1)
        eps = eps_from_x0(x_t, tt, x0, schedule)
    return x0, eps


def ancestral_step(
    eps_model: EpsModel,
    x_t: Tensor,
    t: Tensor | float,
    s: Tensor | float,
    schedule: NoiseSchedule,
    *,
    generator: Generators = None,
    label: Tensor | None = None,
    guidance: float = 1.0,
    clip_x0: bool = True,
    add_noise: bool = True,
) -> Tensor:
    """x_s = mu_tilde(x_t, x0_hat) + sqrt(beta_tilde) z (Algorithm 2, Eq. 7), for 0 <= s < t.

    ``t`` and ``s`` are floats or per-image tensors (N,). ``add_noise=False`` returns the
    posterior mean alone (the book's "no fresh noise" experiment). At s = 0 the variance is 0
    and the step returns x0_hat.

    >>> import torch, tinyddpm
    >>> model, schedule = tinyddpm.pretrained("ddpm")
    >>> x_t = torch.randn(2, 1, 28, 28, generator=tinyddpm.seeded(0))
    >>> x_s = tinyddpm.ancestral_step(model, x_t, 500.0, 499.0, schedule, generator=tinyddpm.seeded(1))
    >>> x_s.shape, bool((x_s != x_t).any())
    (torch.Size([2, 1, 28, 28]), True)
    """
    x0, _ = predict_start(eps_model, x_t, t, schedule, label=label, guidance=guidance, clip_x0=clip_x0)
    mean, var = q_posterior(x0, x_t, per_sample(t, x_t.shape[0]), per_sample(s, x_t.shape[0]), schedule)
    if not add_noise:
        return mean
    return mean + var.sqrt() * noise_like(x_t, generator)


def ddim_step(
    eps_model: EpsModel,
    x_t: Tensor,
    t: Tensor | float,
    s: Tensor | float,
    schedule: NoiseSchedule,
    *,
    eta: float = 0.0,
    generator: Generators = None,
    label: Tensor | None = None,
    guidance: float = 1.0,
    clip_x0: bool = True,
) -> Tensor:
    """x_s = sqrt(ab_s) x0_hat + sqrt(1 - ab_s - sigma^2) eps_hat + sigma z (DDIM Eq. 12),

    sigma = eta sqrt((1 - ab_s) / (1 - ab_t)) sqrt(1 - ab_t / ab_s) (DDIM Eq. 16).

    >>> import torch, tinyddpm
    >>> model, schedule = tinyddpm.pretrained("ddpm")
    >>> x_t = torch.randn(2, 1, 28, 28, generator=tinyddpm.seeded(0))
    >>> a = tinyddpm.ddim_step(model, x_t, 500.0, 400.0, schedule)    # eta = 0: deterministic
    >>> bool((a == tinyddpm.ddim_step(model, x_t, 500.0, 400.0, schedule)).all())
    True
    """
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1], got {eta}")
    x0, eps = predict_start(eps_model, x_t, t, schedule, label=label, guidance=guidance, clip_x0=clip_x0)
    ab_t = schedule.alpha_bar_at(per_sample(t, x_t.shape[0]))
    ab_s = schedule.alpha_bar_at(per_sample(s, x_t.shape[0]))
    sigma = eta * ((1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)).clamp(min=0).sqrt()
    x_s = bcast(ab_s.sqrt(), x_t) * x0 + bcast((1 - ab_s - sigma**2).clamp(min=0).sqrt(), x_t) * eps
    if eta > 0:
        x_s = x_s + bcast(sigma, x_t) * noise_like(x_t, generator)
    return x_s


def ancestral_timesteps(t_start: float, *, steps: int | None = None) -> list[float]:
    """[t*, ceil(t*) - 1, ..., 1, 0]: unit steps after a first, possibly fractional, one.

    With ``steps`` given, ``steps + 1`` evenly spaced points from t* to 0 instead (strided
    ancestral sampling, which is DDIM with eta = 1).
    """
    if not t_start > 0:
        raise ValueError(f"the start timestep must be positive, got {t_start}")
    if steps is not None:
        return ddim_timesteps(t_start, steps)
    grid = range(math.ceil(t_start) - 1, -1, -1)  # integers strictly below t*
    return [float(t_start)] + [float(g) for g in grid]


def ddim_timesteps(t_start: float, steps: int) -> list[float]:
    """``steps + 1`` evenly spaced timesteps from t* down to 0 (fractional ones allowed)."""
    if not t_start > 0:
        raise ValueError(f"the start timestep must be positive, got {t_start}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    return torch.linspace(float(t_start), 0.0, steps + 1, dtype=torch.float64).tolist()


def stack_timesteps(per_image: Sequence[Sequence[float]]) -> Tensor:
    """Per-image timestep lists -> a (K + 1, N) table, front-padded with NaN ("not started")."""
    k = max(len(ts) for ts in per_image)
    table = torch.full((k, len(per_image)), float("nan"), dtype=torch.float64)
    for i, ts in enumerate(per_image):
        table[k - len(ts) :, i] = torch.tensor(ts, dtype=torch.float64)
    return table


@torch.no_grad()
def sample_loop(
    step_fn: StepFn,
    eps_model: EpsModel,
    x_start: Tensor,
    timesteps: Sequence[float] | Tensor,
    schedule: NoiseSchedule,
    *,
    generator: Generators = None,
    label: Tensor | None = None,
    progress: bool = False,
    **step_kwargs,
) -> Tensor:
    """Run ``step_fn(eps_model, x_t, t, s, schedule, **kw)`` over consecutive timesteps, from
    ``x_start`` = x_{timesteps[0]} down to x_0 (model units, shape of ``x_start``).

    ``timesteps`` is a strictly decreasing list ending at 0 shared by all images, or a
    (K + 1, N) table (:func:`stack_timesteps`) with one column per image, NaN before an
    image's own start: each image then starts at its own t* and only active images are stepped.

    >>> import torch, tinyddpm
    >>> from tinyddpm.samplers import ddim_timesteps
    >>> model, schedule = tinyddpm.pretrained("ddpm")
    >>> x_t = torch.randn(2, 1, 28, 28, generator=tinyddpm.seeded(0))
    >>> ddim_timesteps(300.0, 3)
    [300.0, 200.0, 100.0, 0.0]
    >>> x0 = tinyddpm.sample_loop(tinyddpm.ddim_step, model, x_t, ddim_timesteps(300.0, 3), schedule)
    >>> x0.shape, float(x0.abs().max()) <= 1.0       # model units, x0_hat clipped at every step
    (torch.Size([2, 1, 28, 28]), True)
    """
    table = torch.as_tensor(timesteps, dtype=torch.float64)
    if table.ndim == 1:
        table = table[:, None].expand(-1, x_start.shape[0])
    if table.ndim != 2 or table.shape[1] != x_start.shape[0] or table.shape[0] < 2:
        raise ValueError("timesteps must be a list of at least 2 values or a (K + 1, N) table")
    started = ~torch.isnan(table)
    if bool((started[:-1] & ~started[1:]).any()) or not bool(started[-1].all()):
        raise ValueError("NaN padding may only precede an image's timesteps")
    if not bool((table[-1] == 0).all()):
        raise ValueError("timesteps must end at 0")
    diffs = table[1:] - table[:-1]
    if bool((diffs[started[:-1]] >= 0).any()):
        raise ValueError("timesteps must be strictly decreasing")
    if float(table[started].max()) > schedule.T:
        raise ValueError(f"timesteps must not exceed T = {schedule.T}")
    rows = range(table.shape[0] - 1)
    if progress:
        from tqdm.auto import tqdm

        rows = tqdm(rows, desc=getattr(step_fn, "__name__", "sample"), leave=False)
    x = x_start
    for k in rows:
        active = started[k]
        if bool(active.all()):
            x = step_fn(
                eps_model,
                x,
                table[k],
                table[k + 1],
                schedule,
                generator=generator,
                label=label,
                **step_kwargs,
            )
            continue
        idx = active.nonzero().flatten()
        if len(idx) == 0:
            continue
        gen = (
            generator
            if generator is None or isinstance(generator, torch.Generator)
            else [generator[i] for i in idx.tolist()]
        )
        x = x.clone()
        x[idx] = step_fn(
            eps_model,
            x[idx],
            table[k, idx],
            table[k + 1, idx],
            schedule,
            generator=gen,
            label=None if label is None else label[idx],
            **step_kwargs,
        )
    return x


def sample(
    eps_model: EpsModel,
    schedule: NoiseSchedule,
    n: int,
    *,
    method: SampleMethod = "ddim",
    steps: int | None = 50,
    eta: float = 0.0,
    label: Tensor | None = None,
    guidance: float = 1.0,
    generator: Generators = None,
    progress: bool = False,
    shape: tuple[int, int, int] = (1, 28, 28),
    precision: Precision = "auto",
    device: torch.device | str | None = None,
) -> Tensor:
    """Generate ``n`` images from x_T ~ N(0, I) (model units, shape ``(n, *shape)``).

    ``method="ancestral"`` runs all T unit steps (or ``steps`` strided ones);
    ``method="ddim"`` runs ``steps`` DDIM steps with ``eta``. ``precision``: see
    :mod:`tinyddpm.precision` (only the network's forward pass is affected). The chain runs on
    ``device``, by default the model's (its parameters'; the CPU for a plain callable); the
    noise is drawn on the CPU from ``generator`` and moved there, so a seed gives the same x_T
    on every device. For a high-level call in pixel units see :func:`tinyddpm.generate`.

    >>> import tinyddpm
    >>> model, schedule = tinyddpm.pretrained("ddpm")
    >>> x0 = tinyddpm.sample(model, schedule, 2, steps=5, generator=tinyddpm.seeded(0))
    >>> x0.shape, float(x0.min()) >= -1.0, float(x0.max()) <= 1.0      # model units
    (torch.Size([2, 1, 28, 28]), True, True)
    """
    check_choice(method, SampleMethod, "sampling method")
    dev = torch.device(device) if device is not None else model_device(eps_model)
    eps_model = with_precision(eps_model, precision, dev)  # type: ignore[assignment]
    x_T = noise_like(torch.empty((n, *shape), device=dev), generator)  # (n, C, H, W) on dev
    if method == "ancestral":
        ts = ancestral_timesteps(float(schedule.T), steps=steps)
        kwargs = {}
        fn: StepFn = ancestral_step
    else:  # "ddim"
        ts = ddim_timesteps(float(schedule.T), steps or 50)
        kwargs = {"eta": eta}
        fn = ddim_step
    return sample_loop(
        fn,
        eps_model,
        x_T,
        ts,
        schedule,
        generator=generator,
        label=label,
        guidance=guidance,
        progress=progress,
        **kwargs,
    )
