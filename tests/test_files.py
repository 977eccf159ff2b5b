"""What the refactor promised about files, image decoding, shared models and randomness.

- every file tinyddpm writes (``io.save_image``, ``checkpoint.save_tensors``/``save_model``) is
  atomic and gets the mode ``open()`` would give, ``0o666 & ~umask``;
- ``io.load_image(max_pixels=...)`` is a per-call limit; Pillow's global limit is left alone;
- ``io.as_batch`` (what ``denoise`` accepts) decodes PIL modes as ``load_image`` decodes files;
- ``checkpoint.pretrained`` builds each shipped model once per process;
- training an auxiliary model is reproducible and leaves torch's global RNG as it was.
"""

import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from tinyddpm.checkpoint import pretrained, save_model, save_tensors
from tinyddpm.data import load_sample
from tinyddpm.files import atomic_write
from tinyddpm.harness.classifier import ClassifierConfig, train_classifier
from tinyddpm.harness.sigma_trainer import train_sigma_net
from tinyddpm.harness.vae import VAEConfig, train_vae
from tinyddpm.io import ImageError, as_batch, load_image, save_image
from tinyddpm.sigma_net import SigmaNet, SigmaNetConfig


@pytest.fixture(params=[0o022, 0o077])
def umask(request):
    """Run the test under this umask, then restore the process's own."""
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def mode_of(path) -> int:
    return os.stat(path).st_mode & 0o777


def test_outputs_get_the_mode_open_would_give(tmp_path, umask):
    expected = 0o666 & ~umask
    with open(tmp_path / "reference.txt", "w"):
        pass
    assert mode_of(tmp_path / "reference.txt") == expected  # what open() gives: the target
    save_image(torch.rand(28, 28), tmp_path / "a.png")
    save_image(torch.rand(1, 1, 28, 28), tmp_path / "a.npy")
    save_image(Image.new("L", (28, 28), 7), tmp_path / "a.jpg")
    save_tensors(tmp_path / "t.safetensors", {"w": torch.zeros(3)}, {"format": 1})
    torch.manual_seed(0)
    save_model(tmp_path / "m.safetensors", SigmaNet(SigmaNetConfig(channels=8, depth=2)))
    for name in ("a.png", "a.npy", "a.jpg", "t.safetensors", "m.safetensors"):
        assert mode_of(tmp_path / name) == expected, (name, oct(mode_of(tmp_path / name)), oct(expected))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary files


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    def half_then_fail(tmp: str) -> None:
        with open(tmp, "wb") as f:
            f.write(b"half a file")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(tmp_path / "x.bin", half_then_fail)
    with pytest.raises(ImageError, match=re.escape(str(tmp_path / "f.jpg"))):
        save_image(Image.new("F", (28, 28)), tmp_path / "f.jpg")  # JPEG cannot store 32-bit float pixels
    shared = torch.zeros(4)
    with pytest.raises(RuntimeError):  # safetensors refuses tensors that share memory, mid-write
        save_tensors(tmp_path / "s.safetensors", {"a": shared, "b": shared}, {"format": 1})
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "keep.png").write_bytes(b"old")  # a failed overwrite keeps the old file
    with pytest.raises(ImageError):
        save_image(Image.new("F", (28, 28)), tmp_path / "keep.jpg")
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]
    assert (tmp_path / "keep.png").read_bytes() == b"old"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds no pixel data (decoding it would fail)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_max_pixels_is_a_per_call_limit(tmp_path):
    p = tmp_path / "wide.png"
    Image.new("L", (100, 80), 200).save(p)
    too_large = f"{p}: image too large (100x80 pixels, the limit is 7,999)"
    with pytest.raises(ImageError, match=re.escape(too_large)):
        load_image(p, max_pixels=7999)
    x, _ = load_image(p, max_pixels=8000)
    assert x.shape == (1, 1, 28, 28)
    # the default limit (64 M pixels) refuses a 9000 x 9000 image before decoding it: a file with
    # no pixel data at all gets "too large", not "corrupt"
    q = tmp_path / "bomb.png"
    q.write_bytes(png_header_only(9000, 9000))
    with pytest.raises(ImageError, match=re.escape(f"{q}: image too large (9000x9000")):
        load_image(q)


def test_pillow_global_pixel_limit_is_untouched(tmp_path):
    Image.new("L", (40, 40)).save(tmp_path / "x.png")
    code = f"""
import PIL.Image
before = PIL.Image.MAX_IMAGE_PIXELS
import tinyddpm, tinyddpm.cli, tinyddpm.denoise, tinyddpm.io
tinyddpm.io.load_image({str(tmp_path / "x.png")!r}, max_pixels=10**12)
assert PIL.Image.MAX_IMAGE_PIXELS == before, (before, PIL.Image.MAX_IMAGE_PIXELS)
print(before)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert int(r.stdout) == 89_478_485  # Pillow's own default, so nothing set it before the import either


def pil_cases() -> dict[str, tuple[Image.Image, str, np.ndarray]]:
    """name -> (28x28 PIL image, file suffix that stores its mode, the expected [0, 1] pixels)."""
    ramp = np.arange(784).reshape(28, 28)
    i32 = ramp * 80  # 0..62,640: a 16-bit image held in mode "I"
    u16 = (ramp * 83).astype(np.uint16)
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = 255  # white ink everywhere ...
    rgba[..., 3] = (ramp % 256).astype(np.uint8)  # ... with varying opacity, fully transparent at 0
    rgba[:, :14, 3] = 0  # left half transparent: composited on black, it is background
    return {
        "I": (Image.fromarray(i32.astype(np.int32)), ".tiff", i32 / 65535),  # Pillow cannot write "I" as PNG
        "I;16": (Image.fromarray(u16), ".png", u16 / 65535),
        "RGBA": (Image.fromarray(rgba, "RGBA"), ".png", rgba[..., 3] / 255),
    }


@pytest.mark.parametrize("mode", ["I", "I;16", "RGBA"])
def test_as_batch_decodes_pil_modes_as_load_image_does(tmp_path, mode):
    img, suffix, expected = pil_cases()[mode]
    assert img.mode == mode
    path = tmp_path / f"x{suffix}"
    img.save(path)
    assert Image.open(path).mode == mode  # the file holds the same mode
    batch, _ = as_batch(img)
    loaded, _ = load_image(path)
    assert batch.shape == loaded.shape == (1, 1, 28, 28)
    assert torch.equal(batch, loaded)
    assert np.allclose(batch[0, 0].numpy(), expected, atol=1 / 255)
    if mode == "RGBA":
        assert float(batch[0, 0, :, :14].abs().max()) == 0.0  # transparent pixels are black, not white


def test_pretrained_models_are_read_once_and_built_fresh_per_call():
    from tinyddpm.checkpoint import _load_verified
    from tinyddpm.denoise import default_model

    model, schedule = pretrained("ddpm")
    hits = _load_verified.cache_info().hits
    again, _ = pretrained("ddpm")
    assert _load_verified.cache_info().hits == hits + 1  # read and hashed once
    assert again is not model and not model.training and not any(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        again.conv_out.bias += 1  # changing one caller's model changes no one else's
    assert not torch.equal(again.conv_out.bias, pretrained("ddpm")[0].conv_out.bias)
    assert torch.equal(model.conv_out.bias, pretrained("ddpm")[0].conv_out.bias)
    assert default_model()[0] is default_model()[0] is pretrained("ddpm", shared=True)[0]  # the library's
    assert pretrained("sigma_net")[0] is not pretrained("sigma_net")[0]


@pytest.fixture(scope="module")
def digits():
    x, y = load_sample()
    return (x[:256, 0] * 255).round().byte(), y[:256]


TINY = {"epochs": 1, "batch_size": 64, "progress": False}
TRAINERS = {
    "classifier": lambda d, seed: train_classifier(
        d[0], d[1], config=ClassifierConfig(channels=(8, 8), hidden=16), seed=seed, **TINY
    ),
    "vae": lambda d, seed: train_vae(d[0], config=VAEConfig(hidden=32, latent=4), seed=seed, **TINY),
    "sigma_net": lambda d, seed: train_sigma_net(
        d[0], config=SigmaNetConfig(channels=8, depth=2), seed=seed, **TINY
    ),
}


@pytest.mark.parametrize("name", list(TRAINERS))
def test_training_is_reproducible_and_leaves_the_global_rng_alone(digits, name):
    train = TRAINERS[name]
    before = torch.get_rng_state()
    a = train(digits, 0)[0].state_dict()
    assert torch.equal(torch.get_rng_state(), before)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(12345)  # a different global state must not matter
        b = train(digits, 0)[0].state_dict()
    c = train(digits, 1)[0].state_dict()
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)  # the seed is what decides
    assert torch.equal(torch.get_rng_state(), before)
