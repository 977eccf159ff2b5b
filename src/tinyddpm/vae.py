"""The chapter-1 variational autoencoder (Kingma & Welling 2014, arXiv:1312.6114).

An MLP VAE as in the paper's MNIST experiments: 784 -> 400 -> (mu, log var) in a 20-d latent
space -> 400 -> 784 Bernoulli means. Trained on *clean* digits only, as in the story's original
experiment, so the book can show what its encoder does with noisy inputs that lie off the data
manifold. Inputs and outputs are pixels in [0, 1], shape (N, 1, 28, 28).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import JSONConfig
from .data import epoch_batches, optimizer_step


@dataclass(frozen=True)
class VAEConfig(JSONConfig):
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
        self.dec = nn.Sequential(nn.Linear(config.latent, config.hidden), nn.ReLU(), nn.Linear(config.hidden, 784))

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
    """Train on clean uint8 (N, 28, 28) digits with Adam; returns (model, info)."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = VAE(config)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x_all = images.float().div(255).unsqueeze(1)
    per_epoch = len(images) // batch_size
    t0 = time.time()
    bar = tqdm(total=epochs * per_epoch, disable=not progress, desc="vae")
    for idx in epoch_batches(len(images), batch_size, epochs, g):
        loss = optimizer_step(model.loss(x_all[idx], generator=g), opt)
        bar.update(1)
        bar.set_postfix(nelbo=f"{loss:.1f}", refresh=False)
    bar.close()
    model.eval()
    return model, {"epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed, "wall_time_s": round(time.time() - t0, 1)}
