"""A small MNIST classifier: the judge of identity (is the denoised 8 still an 8?) and the
feature extractor for a classifier-feature FID (the 128-d penultimate layer).

A LeNet-style CNN (LeCun et al. 1998) with two 3x3 conv pairs, max pooling, dropout, trained on
clean digits with small random shifts. Inputs are pixels in [0, 1], shape (N, 1, 28, 28).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Config
from ..data import pixels
from ..seeding import seeded, seeded_init
from .optim import adamw_one_cycle, fit

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass(frozen=True)
class ClassifierConfig(Config):
    channels: tuple[int, int] = (32, 64)
    hidden: int = 128
    dropout: float = 0.3
    num_classes: int = 10


class Classifier(nn.Module):
    """logits = f(x) for pixel-unit digits; ``features`` gives the 128-d embedding."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        c1, c2 = config.channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.Conv2d(c1, c1, 3, padding=1),
            nn.BatchNorm2d(c1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c1, 14, 14)
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.Conv2d(c2, c2, 3, padding=1),
            nn.BatchNorm2d(c2),
            nn.ReLU(),
            nn.MaxPool2d(2),  # (B, c2, 7, 7)
        )
        self.fc = nn.Sequential(
            nn.Flatten(), nn.Dropout(config.dropout), nn.Linear(c2 * 49, config.hidden), nn.ReLU()
        )
        self.head = nn.Sequential(nn.Dropout(config.dropout), nn.Linear(config.hidden, config.num_classes))

    def features(self, x: Tensor) -> Tensor:
        """(N, 1, 28, 28) pixels -> (N, hidden) penultimate activations."""
        return self.fc(self.conv((x - MNIST_MEAN) / MNIST_STD))

    def forward(self, x: Tensor) -> Tensor:
        """(N, 1, 28, 28) pixels -> (N, num_classes) logits."""
        return self.head(self.features(x))  # (N, num_classes) logits


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Translate each image by up to ``max_shift`` pixels (zero fill): (N, 1, H, W)."""
    n = x.shape[0]
    padded = F.pad(x, (max_shift,) * 4)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    h, w = x.shape[-2:]
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])  # (N, 1, H, W)


def train_classifier(
    images: Tensor,
    labels: Tensor,
    *,
    config: ClassifierConfig = ClassifierConfig(),
    epochs: int = 6,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[Classifier, dict]:
    """Train on uint8 (N, 28, 28) digits with AdamW and a one-cycle learning rate; returns (model, info).

    Batches are shifted by up to 2 pixels at random. All randomness comes from ``seed``: the
    batches and shifts from a generator, the initial weights and dropout masks from torch's
    default generator, forked and seeded (:func:`tinyddpm.seeding.seeded_init`).
    """
    g = seeded(seed)
    x_all = pixels(images)  # (N, 1, 28, 28)
    with seeded_init(seed):
        model = Classifier(config)
        opt, sched = adamw_one_cycle(
            model, lr=lr, steps=epochs * (len(images) // batch_size), weight_decay=1e-4
        )

        def batch_loss(idx: Tensor) -> Tensor:
            return F.cross_entropy(model(random_shift(x_all[idx], 2, g)), labels[idx])

        info = fit(
            model,
            batch_loss,
            len(images),
            opt=opt,
            sched=sched,
            epochs=epochs,
            batch_size=batch_size,
            generator=g,
            desc="classifier",
            progress=progress,
        )
    return model, {**info, "lr": lr, "seed": seed}
