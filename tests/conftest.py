"""Shared fixtures. Tests find MNIST through TINYDDPM_DATA, defaulting to ../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# OpenMP threads that spin while they wait for work take the cores from everything else on a
# busy 2-core machine (nbval's kernels, the benchmark subprocesses): let them sleep instead. Set
# before torch starts its thread pool; subprocesses inherit it. Results do not change.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
if "TINYDDPM_DATA" not in os.environ and SHARED_DATA.exists():
    os.environ["TINYDDPM_DATA"] = str(SHARED_DATA)

torch.set_num_threads(min(2, torch.get_num_threads()))

# nbval's kernels inherit this environment; a non-interactive MPLBACKEND (e.g. Agg) would stop
# ipykernel's inline backend, so plt.show() would store no figure and every plot cell would fail
os.environ.pop("MPLBACKEND", None)


def has_mnist() -> bool:
    root = Path(os.environ.get("TINYDDPM_DATA", ""))
    return (root / "MNIST" / "raw" / "train-images-idx3-ubyte").exists()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny diffusion model trained for 20 steps on 2,048 digits (seconds): real weights file."""
    from tinyddpm.train import quick_config, train

    if not has_mnist():
        pytest.skip("MNIST not available (set TINYDDPM_DATA)")
    return train(quick_config(), tmp_path_factory.mktemp("tiny"), progress=False)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path: Path):
    from tinyddpm.checkpoint import load_model

    model, schedule, _ = load_model(tiny_model_path)
    return model, schedule
