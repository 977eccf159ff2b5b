"""MNIST for tinyddpm: the full set through torchvision, a bundled sample, pixel conventions.

Users speak in pixels in [0, 1]; models work in [-1, 1] (``to_model`` / ``to_pixels``). A noise
standard deviation ``sigma`` in pixel units is ``2 * sigma`` in model units.

The data root is, in order: the ``root`` argument, the ``TINYDDPM_DATA`` environment variable,
``$XDG_CACHE_HOME/tinyddpm/data`` (default ``~/.cache/tinyddpm/data``). Under it torchvision's
layout ``MNIST/raw/*-ubyte`` is used; it downloads only when those files are missing.

The bundled sample (``load_sample``) holds the first 100 test digits of each class, 1,000 in all,
from MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0 (see
``assets/MNIST_SAMPLE_LICENSE.txt``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .seeding import generator

SAMPLE_FILE = "mnist_sample.npz"


def default_data_root(root: str | os.PathLike | None = None) -> Path:
    """Resolve the MNIST data root: argument, else ``$TINYDDPM_DATA``, else the user cache."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get("TINYDDPM_DATA")
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "tinyddpm" / "data"


def load_mnist(*, train: bool = True, root: str | os.PathLike | None = None) -> tuple[Tensor, Tensor]:
    """All MNIST digits of one split as ``(images uint8 (N, 28, 28), labels int64 (N,))``.

    Uses ``torchvision.datasets.MNIST(root, download=True)``, which downloads only when the raw
    files are missing under ``root/MNIST/raw``.

    >>> import tinyddpm
    >>> images, labels = tinyddpm.load_mnist(train=False)  # doctest: +SKIP
    >>> images.shape, images.dtype                         # doctest: +SKIP
    (torch.Size([10000, 28, 28]), torch.uint8)

    (Skipped by the doctests: it needs the full set; the tests load it in ``tests/test_data.py``.)
    """
    from torchvision.datasets import MNIST

    path = default_data_root(root)
    try:
        ds = MNIST(str(path), train=train, download=True)
    except Exception as e:  # no network, unwritable root, corrupt files
        raise RuntimeError(
            f"could not load MNIST from {path} ({e}); set TINYDDPM_DATA or pass root= to a folder "
            "holding MNIST/raw/*-ubyte"
        ) from e
    return ds.data.clone(), ds.targets.clone().long()


def pixels(images: Tensor) -> Tensor:
    """8-bit digits (N, 28, 28) uint8, as MNIST stores them -> float32 pixels (N, 1, 28, 28) in [0, 1]:
    grey level / 255, with a channel axis. The package's one copy of this conversion.

    >>> pixels(torch.tensor([[[0, 51, 255]]], dtype=torch.uint8)).flatten().tolist()
    [0.0, 0.20000000298023224, 1.0]
    """
    return images.float().div(255).unsqueeze(1)


def load_sample() -> tuple[Tensor, Tensor]:
    """The bundled 1,000 test digits as ``(images float32 (1000, 1, 28, 28) in [0, 1], labels (1000,))``.

    >>> import tinyddpm
    >>> x, labels = tinyddpm.load_sample()
    >>> x.shape, float(x.min()), float(x.max()), labels.bincount().tolist() == [100] * 10
    (torch.Size([1000, 1, 28, 28]), 0.0, 1.0, True)
    """
    with resources.files("tinyddpm").joinpath("assets", SAMPLE_FILE).open("rb") as f:
        d = np.load(f)
        images, labels = d["images"], d["labels"]
    return pixels(torch.from_numpy(images)), torch.from_numpy(labels).long()


def to_model(x: Tensor) -> Tensor:
    """Pixels in [0, 1] -> model space [-1, 1]: 2 x - 1.

    >>> import torch, tinyddpm
    >>> tinyddpm.to_model(torch.tensor([0.0, 0.5, 1.0]))
    tensor([-1.,  0.,  1.])
    """
    return 2 * x - 1


def to_pixels(x: Tensor) -> Tensor:
    """Model space [-1, 1] -> pixels in [0, 1]: (x + 1) / 2 (no clipping).

    >>> import torch, tinyddpm
    >>> tinyddpm.to_pixels(torch.tensor([-1.0, 0.0, 1.0, 1.4]))
    tensor([0.0000, 0.5000, 1.0000, 1.2000])
    """
    return (x + 1) / 2


class Batcher:
    """Global batch k = positions [k B, (k+1) B) of epoch-wise permutations of ``n`` items, epoch e
    permuted by ``generator(seed, stream, e)``: a pure function of the step, so a resumed run
    draws the same batches. The diffusion trainer (stream "epoch") and the student's recipe
    ("seed-epoch") use it; the last partial batch of an epoch is dropped.

    >>> b = Batcher(10, 4, seed=0)
    >>> b.per_epoch, bool((b.indices(1) == Batcher(10, 4, seed=0).indices(1)).all())
    (2, True)
    """

    def __init__(self, n: int, batch_size: int, seed: int, stream: str = "epoch") -> None:
        if n < batch_size:
            raise ValueError(f"batch size {batch_size} is larger than the data ({n} digits)")
        self.n, self.b, self.seed, self.stream = n, batch_size, seed, stream
        self.per_epoch = n // batch_size
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> Tensor:
        epoch, j = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch = epoch
            self._perm = torch.randperm(self.n, generator=generator(self.seed, self.stream, epoch))
        return self._perm[j * self.b : (j + 1) * self.b]


def epoch_batches(n: int, batch_size: int, epochs: int, generator: torch.Generator) -> Iterator[Tensor]:
    """Index batches for ``epochs`` passes over ``n`` items, a fresh permutation per epoch drawn
    from ``generator`` when the epoch starts; the last partial batch is dropped. The auxiliary
    models' trainer (:func:`tinyddpm.harness.optim.fit`) uses this running-generator scheme; it is kept
    beside :class:`Batcher` because their shipped weights were trained with it and its command
    reproduces them bit for bit."""
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for j in range(n // batch_size):
            yield perm[j * batch_size : (j + 1) * batch_size]


def add_noise(images: Tensor, sigma: float | Tensor, *, generator: torch.Generator | None = None) -> Tensor:
    """y = x + sigma * n, n ~ N(0, I), in pixel units; not clipped (clipping breaks y = x_t / sqrt(ab)).

    >>> import tinyddpm
    >>> x = tinyddpm.load_sample()[0][:100]
    >>> y = tinyddpm.add_noise(x, 0.3, generator=tinyddpm.seeded(0))
    >>> round(float((y - x).std()), 2), float(y.min()) < 0      # not clipped
    (0.3, True)
    """
    sigma = torch.as_tensor(sigma, dtype=images.dtype)
    if sigma.ndim == 1:
        sigma = sigma.reshape(-1, *([1] * (images.ndim - 1)))
    n = torch.randn(images.shape, generator=generator, dtype=images.dtype)
    return images + sigma * n
