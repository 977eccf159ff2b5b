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


def require_mnist() -> None:
    """Skip the calling test without the full MNIST set, or fail under CI=true (CI has it beside
    the clone, so a missing set there is a broken setup, not a reason to skip: the browser test
    follows the same rule)."""
    if has_mnist():
        return
    why = "MNIST not available (set TINYDDPM_DATA to a folder holding MNIST/raw)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{why}; CI=true requires it", pytrace=False)
    pytest.skip(why)


#: Marks a test (or, as ``pytestmark``, a module) that needs the full MNIST set.
needs_mnist = pytest.mark.needs_mnist


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("needs_mnist") is not None:
        require_mnist()


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny diffusion model trained for 20 steps on 2,048 digits (seconds): real weights file."""
    from tinyddpm.harness.train import quick_config, train

    require_mnist()
    return train(quick_config(), tmp_path_factory.mktemp("tiny"), progress=False)


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path: Path):
    from tinyddpm.checkpoint import load_model

    model, schedule, _ = load_model(tiny_model_path)
    return model, schedule
