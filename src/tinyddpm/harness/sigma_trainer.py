"""Training the learned noise-level estimator (:class:`tinyddpm.sigma_net.SigmaNet`).

Clean MNIST digits plus Gaussian noise at sigma log-uniform in the network's training range
(pixel units, not clipped); the loss is (log sigma_hat - log sigma)^2, so the relative error
weighs the same at every scale. The network lives in the library (the denoiser's sigma
estimate applies it); only its trainer is harness.

    tinyddpm train-aux sigma_net --out sigma_net
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..data import pixels
from ..seeding import seeded, seeded_init
from ..sigma_net import SigmaNet, SigmaNetConfig
from .optim import adamw_one_cycle, fit


def train_sigma_net(
    images: Tensor,
    *,
    config: SigmaNetConfig = SigmaNetConfig(),
    epochs: int = 4,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[SigmaNet, dict]:
    """Train on clean uint8 (N, 28, 28) digits plus Gaussian noise, sigma log-uniform in
    ``config.sigma_range``, not clipped; loss (log sigma_hat - log sigma)^2."""
    g = seeded(seed)
    lo, hi = (math.log(s) for s in config.sigma_range)
    x_all = pixels(images)  # (N, 1, 28, 28)
    with seeded_init(seed):
        model = SigmaNet(config)
        opt, sched = adamw_one_cycle(model, lr=lr, steps=epochs * (len(images) // batch_size))

        def batch_loss(idx: Tensor) -> Tensor:
            x = x_all[idx]
            log_sigma = lo + (hi - lo) * torch.rand(len(x), generator=g)
            y = x + log_sigma.exp().reshape(-1, 1, 1, 1) * torch.randn(x.shape, generator=g)
            return F.mse_loss(model(y), log_sigma)

        info = fit(
            model,
            batch_loss,
            len(images),
            opt=opt,
            sched=sched,
            epochs=epochs,
            batch_size=batch_size,
            generator=g,
            desc="sigma_net",
            progress=progress,
        )
    return model, {**info, "lr": lr, "seed": seed}
