"""Explicit randomness: every random draw in tinyddpm comes from a ``torch.Generator`` built here.

A stream of generators is named by ``(seed, stream, index)``: the data order of epoch e, the
noise of training step k, the sampler noise of image i. Each is a pure function of its name, so
a resumed run or a single image taken out of a batch gets the same numbers.

>>> derived_seed(0, "step", 0)
1448036938950931792
>>> float(torch.rand(1, generator=generator(0, "step", 0)))  # doctest: +ELLIPSIS
0.447068...
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

import torch


def derived_seed(seed: int, stream: str, index: int) -> int:
    """A 63-bit seed that depends only on (seed, stream, index): sha256 of ``"seed:stream:index"``."""
    digest = hashlib.sha256(f"{seed}:{stream}:{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generator(seed: int, stream: str, index: int) -> torch.Generator:
    """A CPU generator for one (stream, index)."""
    return torch.Generator().manual_seed(derived_seed(seed, stream, index))


def seeded(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed`` (all randomness in tinyddpm is explicit).

    >>> import torch, tinyddpm
    >>> a = torch.rand(3, generator=tinyddpm.seeded(7))
    >>> bool((a == torch.rand(3, generator=tinyddpm.seeded(7))).all())
    True
    """
    return torch.Generator().manual_seed(seed)


@contextlib.contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Run a block (a model's construction) with torch's default CPU RNG seeded by ``seed``.

    Module constructors draw their initial weights from the default RNG; here that RNG is forked
    first and restored afterwards, so the caller's random state is left as it was.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
