"""The learned noise-level estimator: a small CNN that regresses log sigma from one image.

The original project's 300-way timestep classifier asked the wrong question (neighbouring steps
are nearly indistinguishable, and exact-match accuracy ignores how far off a guess is); a
regression of log sigma has no bins and a relative error that is the same at every scale.
Loss: (log sigma_hat - log sigma)^2 over sigma log-uniform in the training range (pixel units).
:func:`tinyddpm.noise_level.estimate_sigma_learned` applies it; the harness trains it
(:func:`tinyddpm.harness.sigma_trainer.train_sigma_net`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .config import Config


@dataclass(frozen=True)
class SigmaNetConfig(Config):
    channels: int = 32
    depth: int = 4
    sigma_range: tuple[float, float] = (0.01, 1.2)  # training range, pixel units


class SigmaNet(nn.Module):
    """log sigma_hat = f(y): 3x3 convs, global average and max pooling, a linear head."""

    def __init__(self, config: SigmaNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        layers: list[nn.Module] = [nn.Conv2d(1, c, 3, padding=1), nn.GELU()]
        for _ in range(config.depth - 1):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.GroupNorm(4, c), nn.GELU()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(2 * c, c), nn.GELU(), nn.Linear(c, 1))

    def forward(self, y: Tensor) -> Tensor:
        """(N, 1, H, W) noisy pixels -> (N,) predicted log sigma."""
        h = self.body(y)  # (N, c, H, W)
        pooled = torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)  # (N, 2c)
        return self.head(pooled).squeeze(1)
