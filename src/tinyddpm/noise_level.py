"""How noisy is it? Estimating the noise standard deviation sigma from a single image.

The classical estimator filters the image with the 3x3 mask
M = [[1, -2, 1], [-2, 4, -2], [1, -2, 1]] (the difference of two Laplacians, Immerkaer 1996,
"Fast noise variance estimation"), which annihilates locally linear image content. For white
noise of standard deviation sigma the response is N(0, 36 sigma^2) (||M||_2 = 6). Instead of
Immerkaer's mean absolute response we take the *median* absolute response (Donoho & Johnstone
1994's robust MAD scale, median|N(0, 1)| = 0.6745), so the few pixels on a digit's strokes do
not bias the estimate on MNIST's flat background::

    sigma_hat = median |(y * M)| / (6 * 0.6745).

The learned estimator (:class:`SigmaNet`) regresses log sigma directly with a small CNN (the
original project's 300-way timestep classifier was too coarse; a regression on log sigma has no
bins and a relative error that is the same at every scale).

All units are pixel units ([0, 1] scale).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .config import JSONConfig
from .data import epoch_batches, optimizer_step

MAD_TO_SIGMA = 0.6744897501960817  # median of |N(0, 1)|
_MASK = torch.tensor([[1.0, -2.0, 1.0], [-2.0, 4.0, -2.0], [1.0, -2.0, 1.0]])


def estimate_sigma_mad(images: Tensor) -> Tensor:
    """Robust classical sigma estimate per image: ``median |y * M| / (6 * 0.6745)``.

    ``images``: (N, 1, H, W) in pixel units, H, W >= 3. Returns (N,) float32.
    """
    if images.ndim != 4 or images.shape[1] != 1 or min(images.shape[-2:]) < 3:
        raise ValueError(f"expected (N, 1, H, W) images with H, W >= 3, got {tuple(images.shape)}")
    r = F.conv2d(images.float(), _MASK.to(images.device)[None, None])  # (N, 1, H-2, W-2)
    return r.abs().flatten(1).median(dim=1).values / (6 * MAD_TO_SIGMA)


@dataclass(frozen=True)
class SigmaNetConfig(JSONConfig):
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


@torch.no_grad()
def estimate_sigma_learned(images: Tensor, model: SigmaNet | None = None, *, batch_size: int = 64) -> Tensor:
    """Learned sigma estimate per image with ``model`` (default: the shipped ``sigma_net``).

    ``batch_size`` only bounds memory: each image's estimate does not depend on the others.
    Small batches are also faster on CPU (the full-resolution activations stay in cache).
    """
    if model is None:
        from .checkpoint import pretrained

        model = pretrained("sigma_net")[0]
    out = [model(images[i : i + batch_size].float()).exp() for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def estimate_sigma(images: Tensor, *, method: str = "auto") -> Tensor:
    """The estimator ``denoise(sigma="auto")`` uses: (N, 1, 28, 28) pixels -> (N,) sigmas.

    ``method="auto"`` uses the shipped learned estimator when the package has it (it is the
    more accurate one, see MODELS.md), else the classical MAD estimator; ``"mad"`` and
    ``"learned"`` pick one.
    """
    if method == "mad":
        return estimate_sigma_mad(images)
    if method == "learned":
        return estimate_sigma_learned(images)
    if method != "auto":
        raise ValueError(f"unknown sigma estimator {method!r} (expected 'auto', 'mad' or 'learned')")
    from .checkpoint import registry

    return estimate_sigma_learned(images) if "sigma_net" in registry() else estimate_sigma_mad(images)


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
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = SigmaNet(config)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    steps = epochs * (len(images) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    lo, hi = (math.log(s) for s in config.sigma_range)
    x_all = images.float().div(255).unsqueeze(1)
    t0 = time.time()
    bar = tqdm(total=steps, disable=not progress, desc="sigma_net")
    for idx in epoch_batches(len(images), batch_size, epochs, g):
        x = x_all[idx]
        log_sigma = lo + (hi - lo) * torch.rand(len(x), generator=g)
        y = x + log_sigma.exp().reshape(-1, 1, 1, 1) * torch.randn(x.shape, generator=g)
        loss = optimizer_step(F.mse_loss(model(y), log_sigma), opt, sched)
        bar.update(1)
        bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
    bar.close()
    model.eval()
    return model, {"epochs": epochs, "steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed,
                   "wall_time_s": round(time.time() - t0, 1)}
