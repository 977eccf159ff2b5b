"""tinyddpm: remove Gaussian noise from MNIST digits with a small denoising diffusion model.

>>> import tinyddpm
>>> x, labels = tinyddpm.load_sample()          # 1,000 bundled MNIST test digits in [0, 1]
>>> y = tinyddpm.add_noise(x[:8], 0.3, generator=tinyddpm.seeded(0))
>>> clean = tinyddpm.denoise(y, sigma=0.3)      # doctest: +SKIP
"""

from __future__ import annotations

import torch

from .checkpoint import CheckpointError, load_model, pretrained, save_model
from .data import add_noise, load_mnist, load_sample, to_model, to_pixels
from .denoise import denoise, start_step
from .noise_level import estimate_sigma
from .samplers import ancestral_step, ddim_step, sample, sample_loop
from .schedules import NoiseSchedule
from .train import TrainConfig, train
from .unet import UNet, UNetConfig

__version__ = "0.1.0"


def seeded(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (all randomness in tinyddpm is explicit)."""
    return torch.Generator().manual_seed(seed)


__all__ = [
    "CheckpointError", "NoiseSchedule", "TrainConfig", "UNet", "UNetConfig", "add_noise", "ancestral_step",
    "ddim_step", "denoise", "estimate_sigma", "load_mnist", "load_model", "load_sample", "pretrained", "sample",
    "sample_loop", "save_model", "seeded", "start_step", "to_model", "to_pixels", "train",
]
