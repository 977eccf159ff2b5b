"""The chapter-1 variational autoencoder (Kingma & Welling 2014, arXiv:1312.6114).

An MLP VAE as in the paper's MNIST experiments: 784 -> 400 -> (mu, log var) in a 20-d latent
space -> 400 -> 784 Bernoulli means. Trained on *clean* digits only, as in the story's original
experiment, so the book can show what its encoder does with noisy inputs that lie off the data
manifold. Inputs and outputs are pixels in [0, 1], shape (N, 1, 28, 28).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..config import Config
from ..data import pixels
from ..seeding import seeded, seeded_init
from .optim import fit


@dataclass(frozen=True)
class VAEConfig(Config):
    hidden: int = 400
    latent: int = 20


class VAE(nn.Module):
    """q(z | x) = N(mu(x), diag exp(logvar(x))); p(x | z) = Bernoulli(decoder(z))."""

    def __init__(self, config: VAEConfig) -> None:
        super().__init__()
        self.config = config
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, config.hidden), nn.ReLU())
        self.mu = nn.Linear(config.hidden, config.latent)
        self.logvar = nn.Linear(config.hidden, config.latent)
        self.dec = nn.Sequential(
            nn.Linear(config.latent, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 784)
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.enc(x)  # (N, hidden)
        return self.mu(h), self.logvar(h)  # 2 x (N, latent)

    def decode(self, z: Tensor) -> Tensor:
        return torch.sigmoid(self.dec(z)).reshape(-1, 1, 28, 28)  # (N, 1, 28, 28) in [0, 1]

    def forward(self, x: Tensor) -> Tensor:
        """Deterministic reconstruction decode(mu(x)), as the book's experiment uses."""
        return self.decode(self.encode(x)[0])

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Negative ELBO per image (Kingma & Welling 2014, Eq. 10 with Appendix B's KL)."""
        mu, logvar = self.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=generator)  # reparameterisation
        logits = self.dec(z)
        rec = F.binary_cross_entropy_with_logits(logits, x.flatten(1), reduction="sum")
        return (rec + kl_to_prior(mu, logvar).sum()) / x.shape[0]


def kl_to_prior(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag exp(logvar)) || N(0, I)) in nats, one value per row: (N, latent) -> (N,).

    -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2) (Kingma & Welling 2014, Appendix B):
    how far the encoder's posterior for an input lies from the prior the decoder was trained on.
    """
    return -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)


def train_vae(
    images: Tensor,
    *,
    config: VAEConfig = VAEConfig(),
    epochs: int = 30,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = True,
) -> tuple[VAE, dict]:
    """Train on clean uint8 (N, 28, 28) digits with Adam on the negative ELBO; returns (model, info).

    Batches and the reparameterisation noise come from a generator seeded with ``seed``, the
    initial weights from torch's default generator, forked and seeded.
    """
    g = seeded(seed)
    x_all = pixels(images)  # (N, 1, 28, 28)
    with seeded_init(seed):
        model = VAE(config)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        info = fit(
            model,
            lambda idx: model.loss(x_all[idx], generator=g),
            len(images),
            opt=opt,
            epochs=epochs,
            batch_size=batch_size,
            generator=g,
            desc="vae",
            progress=progress,
        )
    return model, {**info, "lr": lr, "seed": seed}
