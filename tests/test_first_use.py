"""A newcomer's first hour: eight everyday tasks, each in a few lines of the public API.

Each test is what a user who learned only from the README, the API page and ``--help`` would
write (issue 25): a phone photo from Python and from the command line, the noise level of a
NumPy image, an 8-bit batch, sixteen 3s in a grid, a short training used by ``--model``, the
network under a diffusers scheduler, a device argument, and a chapter re-executed with
``jupyter execute``. If one of them needs a workaround, that is a defect of the API.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tinyddpm
from tinyddpm.metrics import psnr

from .conftest import needs_mnist

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    r = subprocess.run(
        [sys.executable, "-m", "tinyddpm", *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A phone-like JPEG of a bundled test digit: dark ink on uneven paper, noisy, 8-bit."""
    from tinyddpm.preprocess import synthetic_photo

    folder = tmp_path_factory.mktemp("photo")
    shot = synthetic_photo(tinyddpm.load_sample()[0][5, 0].numpy(), np.random.default_rng(3))
    path = folder / "photo.jpg"
    Image.fromarray(np.round(np.clip(shot.noisy, 0, 1) * 255).astype(np.uint8)).save(path, quality=95)
    return path, shot.noisy


def test_1_a_photo_from_python(photo, tmp_path):
    path, picture = photo
    out = tinyddpm.denoise_image(path)  # the README's two lines
    tinyddpm.save_grid(out.image[None, None], tmp_path / "photo_denoised.png")
    assert out.image.shape == picture.shape and out.digit.shape == (28, 28)
    assert Image.open(tmp_path / "photo_denoised.png").size == (picture.shape[1] + 4, picture.shape[0] + 4)
    assert repr(out).startswith("DenoisedImage(image=") and len(repr(out)) < 120
    assert out.sigma_picture > 0 and out.sigma == pytest.approx(
        out.sigma_picture * out.normalization.noise_gain
    )


def test_1_a_photo_from_the_command_line_both_outputs(photo, tmp_path):
    path, picture = photo
    r = cli("denoise", str(path), "-o", str(tmp_path / "out"), cwd=tmp_path)
    cli("denoise", str(path), "-o", str(tmp_path / "mnist"), "--mnist", cwd=tmp_path)
    (frame,) = (tmp_path / "out").iterdir()
    (digit,) = (tmp_path / "mnist").iterdir()
    assert Image.open(frame).size == (picture.shape[1], picture.shape[0])
    assert Image.open(digit).size == (28, 28)
    assert "photo.jpg" in r.stdout


def test_2_the_noise_level_of_a_numpy_image():
    x = tinyddpm.load_sample()[0][:8]
    y = tinyddpm.add_noise(x, 0.2, generator=tinyddpm.seeded(0)).numpy()
    one = tinyddpm.estimate_sigma(y[0, 0])  # (28, 28) array -> float
    many = tinyddpm.estimate_sigma(y)  # (8, 1, 28, 28) array -> (8,) array
    assert isinstance(one, float) and abs(one - 0.2) < 0.03
    assert isinstance(many, np.ndarray) and many.shape == (8,) and abs(float(many.mean()) - 0.2) < 0.02


def test_3_an_8bit_batch():
    x = tinyddpm.load_sample()[0][:16]
    y = tinyddpm.add_noise(x, 0.1, generator=tinyddpm.seeded(1)).clamp(0, 1)
    y8 = np.round(y.numpy() * 255).astype(np.uint8)  # what 8-bit files hold
    out = tinyddpm.denoise(y8, sigma=0.1)  # integers are 8-bit grey levels: divided by 255
    assert out.shape == y8.shape and out.dtype == np.float32
    assert float(psnr(torch.from_numpy(out), x).mean()) > float(psnr(y, x).mean()) + 3
    with pytest.raises(ValueError, match="0..255"):
        tinyddpm.denoise(y, sigma=26)  # a sigma in 0..255 units


def test_4_sixteen_threes_in_a_grid(tmp_path):
    threes = tinyddpm.generate(16, label=3, guidance=2.0, steps=20, seed=0)
    tinyddpm.save_grid(threes, tmp_path / "threes.png")
    assert Image.open(tmp_path / "threes.png").size == (4 * 30 + 2, 4 * 30 + 2)
    judge, _ = tinyddpm.pretrained("classifier")
    from tinyddpm.metrics import predict_labels

    assert int((predict_labels(judge.eval(), threes) == 3).sum()) >= 14


@needs_mnist
def test_5_train_briefly_then_use_it(tmp_path):
    r = cli("train", "--out", "run", "--max-minutes", "0.01", "--limit", "2048", "--quiet", cwd=tmp_path)
    assert "stopped early" in r.stdout and "--model" in r.stdout
    weights = tmp_path / "run" / "ema.safetensors"
    info = tinyddpm.load_model(weights)[2]
    assert info["complete"] is False and info["steps"] >= 1
    x = tinyddpm.load_sample()[0][:1]
    tinyddpm.io.save_image(tinyddpm.add_noise(x, 0.3, generator=tinyddpm.seeded(0))[0], tmp_path / "n.npy")
    cli("denoise", "n.npy", "-o", "out", "--sigma", "0.3", "--model", str(weights), cwd=tmp_path)
    (written,) = (tmp_path / "out").iterdir()
    assert written.name.startswith("n") and Image.open(written).size == (28, 28)


def test_6_the_network_under_a_diffusers_scheduler():
    pytest.importorskip("diffusers")
    from tinyddpm.harness.interop import grid_sigma, run_chain, scheduler

    model, schedule = tinyddpm.pretrained("ddpm")
    y = tinyddpm.add_noise(
        tinyddpm.load_sample()[0][:2], grid_sigma(schedule, 100), generator=tinyddpm.seeded(2)
    )
    theirs = run_chain(model, schedule, scheduler(schedule, "ddim"), y, start=100, steps=5)
    ours = tinyddpm.denoise(
        y, grid_sigma(schedule, 100), model=model, schedule=schedule, method="ddim", steps=5, precision="fp32"
    )
    assert float((theirs - ours).abs().max()) < 1e-5


def test_7_a_device_argument():
    """The meta device stands in for a GPU: the chain runs there, nothing falls back to the CPU."""
    from tinyddpm.unet import UNet, UNetConfig

    with torch.device("meta"):
        model = UNet(UNetConfig()).eval()
    schedule = tinyddpm.NoiseSchedule.cosine(1000)
    x = tinyddpm.generate(4, label=3, guidance=2.0, steps=3, model=model, schedule=schedule, device="meta")
    assert x.device.type == "meta"
    shipped, _ = tinyddpm.pretrained("ddpm")
    assert next(shipped.parameters()).device.type == "cpu" and tinyddpm.pretrained("ddpm")[0] is not shipped
    y = tinyddpm.load_sample()[0][:2]
    assert tinyddpm.denoise(y, 0.2, device="cpu").device.type == "cpu"


def test_8_a_chapter_executed_locally(tmp_path):
    """The README's `jupyter execute` on a copy of chapter 9 (the shortest): it runs top to bottom."""
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or shutil.which("jupyter")
    if jupyter is None:
        pytest.fail("jupyter is not installed (the book extra brings it)")
    nb = tmp_path / "09_playground.ipynb"
    shutil.copy(ROOT / "book" / "09_playground.ipynb", nb)
    r = subprocess.run(
        [jupyter, "execute", "--inplace", str(nb)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert r.returncode == 0, r.stderr[-3000:]
    cells = json.loads(nb.read_text())["cells"]
    assert all(
        not any(o.get("output_type") == "error" for o in c.get("outputs", []))
        for c in cells
        if c["cell_type"] == "code"
    )


def test_every_public_name_has_an_example():
    """Each name in tinyddpm.__all__ shows a runnable example in its docstring (run by
    --doctest-modules), so the API page teaches by example."""
    import inspect

    missing = [n for n in tinyddpm.__all__ if ">>>" not in (inspect.getdoc(getattr(tinyddpm, n)) or "")]
    assert not missing, f"public names without an example: {missing}"


def test_a_large_picture_given_to_denoise_points_to_denoise_image(photo):
    path, picture = photo
    with pytest.raises(ValueError, match=r"tinyddpm\.denoise_image"):
        tinyddpm.denoise(Image.open(path))
    with pytest.raises(ValueError, match=r"tinyddpm\.denoise_image"):
        tinyddpm.denoise(picture)
