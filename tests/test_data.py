import os

import pytest
import torch

from tinyddpm.data import add_noise, default_data_root, load_mnist, load_sample, to_model, to_pixels

from .conftest import needs_mnist


def test_data_root_resolution(monkeypatch, tmp_path):
    assert default_data_root(tmp_path) == tmp_path
    monkeypatch.setenv("TINYDDPM_DATA", str(tmp_path / "env"))
    assert default_data_root() == tmp_path / "env"
    monkeypatch.delenv("TINYDDPM_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_data_root() == tmp_path / "cache" / "tinyddpm" / "data"


def test_bundled_sample():
    x, y = load_sample()
    assert x.shape == (1000, 1, 28, 28) and x.dtype == torch.float32
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert torch.equal(torch.bincount(y), torch.full((10,), 100))


@needs_mnist
def test_full_mnist_and_the_sample_is_part_of_the_test_set():
    x, y = load_mnist(train=False)
    assert x.shape == (10000, 28, 28) and x.dtype == torch.uint8
    assert torch.equal(
        torch.bincount(y), torch.tensor([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    )
    xs, ys = load_sample()
    from importlib import resources

    import numpy as np

    with resources.files("tinyddpm").joinpath("assets", "mnist_sample.npz").open("rb") as f:
        idx = torch.from_numpy(np.load(f)["test_indices"]).long()
    assert torch.equal((xs[:, 0] * 255).round().byte(), x[idx]) and torch.equal(ys, y[idx])
    xt, _ = load_mnist(train=True)
    assert xt.shape == (60000, 28, 28)
    assert float(xt.float().div(255).mean()) == pytest.approx(0.1307, abs=1e-4)


def test_missing_data_gives_a_clear_error(tmp_path, monkeypatch):
    root = tmp_path / "ro"
    root.mkdir()
    os.chmod(root, 0o500)
    # no network route here; either the download fails or the folder is not writable
    monkeypatch.setenv("TINYDDPM_DATA", str(root))
    if os.access(root, os.W_OK):  # running as root: make the download fail fast instead
        monkeypatch.setattr("torchvision.datasets.MNIST.mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(RuntimeError, match="TINYDDPM_DATA"):
        load_mnist(train=False)


def test_pixel_conventions():
    x = torch.tensor([0.0, 0.5, 1.0])
    assert torch.equal(to_model(x), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.equal(to_pixels(to_model(x)), x)
    # a pixel sigma of 0.1 is a model sigma of 0.2
    g = torch.Generator().manual_seed(0)
    y = add_noise(torch.full((10000,), 0.5), 0.1, generator=g)
    assert float(to_model(y).std()) == pytest.approx(0.2, rel=0.03)
    y2 = add_noise(torch.zeros(2, 1, 28, 28), torch.tensor([0.1, 0.5]), generator=g)
    assert float(y2[1].std()) > 3 * float(y2[0].std())
