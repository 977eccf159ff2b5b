"""tinyddpm: remove Gaussian noise from MNIST digits with a small denoising diffusion model.

>>> import tinyddpm
>>> x, labels = tinyddpm.load_sample()          # 1,000 bundled MNIST test digits in [0, 1]
>>> y = tinyddpm.add_noise(x[:8], 0.3, generator=tinyddpm.seeded(0))
>>> clean = tinyddpm.denoise(y, sigma=0.3)      # one network call: E[x0 | y]
>>> clean.shape, float(clean.min()) >= 0
(torch.Size([8, 1, 28, 28]), True)
"""

from __future__ import annotations

import importlib
from typing import Any

from .checkpoint import CheckpointError, load_model, pretrained, save_model
from .data import add_noise, load_mnist, load_sample, to_model, to_pixels
from .denoise import DenoisedImage, denoise, denoise_image, start_step
from .generate import generate, save_grid
from .noise_level import estimate_sigma
from .preprocess import DigitError, Normalization, normalize
from .samplers import ancestral_step, ddim_step, sample, sample_loop
from .schedules import NoiseSchedule
from .seeding import seeded
from .unet import UNet, UNetConfig

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The trainer on first use (``tinyddpm.train``, the module :mod:`tinyddpm.harness.train`;
    ``tinyddpm.TrainConfig``), so that importing the denoiser does not import the harness."""
    if name in ("train", "TrainConfig"):
        module = importlib.import_module(".harness.train", __name__)
        return module if name == "train" else module.TrainConfig
    raise AttributeError(f"module 'tinyddpm' has no attribute {name!r}")


__all__ = [
    "CheckpointError",
    "DenoisedImage",
    "DigitError",
    "Normalization",
    "NoiseSchedule",
    "TrainConfig",
    "UNet",
    "UNetConfig",
    "add_noise",
    "ancestral_step",
    "ddim_step",
    "denoise",
    "denoise_image",
    "estimate_sigma",
    "generate",
    "load_mnist",
    "load_model",
    "load_sample",
    "normalize",
    "pretrained",
    "sample",
    "sample_loop",
    "save_grid",
    "save_model",
    "seeded",
    "start_step",
    "to_model",
    "to_pixels",
]
