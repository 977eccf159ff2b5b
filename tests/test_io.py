import ctypes
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tinyddpm.io import ImageError, load_image, save_image

PR_CAPBSET_DROP = 24  # <linux/prctl.h>
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3  # <linux/capability.h>


def _drop_root_file_override() -> None:  # pragma: no cover (runs in the child, between fork and exec)
    """Remove the capabilities that let root ignore file permissions from the bounding set.

    A root process gets, at exec, the permitted capabilities of its bounding set, so the
    program it runs is still uid 0 (it can read a Python installed under /root) but a mode
    0500 folder is read-only to it as to anyone. Needs CAP_SETPCAP, which root has on a plain
    Linux host and in Docker's default set; failure is detected by the probe below.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    for cap in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


def run_unprivileged(args: list, **kw) -> subprocess.CompletedProcess:
    """``python *args`` in a child that honours file permissions even when we are root."""
    preexec = _drop_root_file_override if os.geteuid() == 0 else None
    return subprocess.run(
        [sys.executable, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=preexec,
        **kw,
    )


@pytest.fixture()
def read_only_dir(tmp_path):
    """A folder (mode 0500) that ``run_unprivileged`` children cannot write into, or a skip.

    Root ignores permission bits (CAP_DAC_OVERRIDE): running the child as ``nobody`` would not
    do where Python lives under /root (mode 0700, as here), a read-only bind mount or
    ``chattr +i`` need CAP_SYS_ADMIN / CAP_LINUX_IMMUTABLE, which containers rarely grant, so
    the child keeps uid 0 and loses the override capabilities instead.
    """
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    probe = run_unprivileged(["-c", f"open({str(ro / 'probe')!r}, 'w')"])
    if probe.returncode == 0:
        (ro / "probe").unlink()
        ro.chmod(0o700)
        pytest.skip("cannot make a folder read-only for a child process here (root without CAP_SETPCAP)")
    assert "PermissionError" in probe.stderr, probe.stderr
    yield ro
    ro.chmod(0o700)  # let pytest clean up


def test_save_image_into_read_only_folder(read_only_dir):
    code = f"""
import sys, torch
from PIL import Image
from tinyddpm.io import ImageError, save_image
folder = {str(read_only_dir)!r}
images = (("x.png", torch.rand(28, 28)), ("x.npy", torch.rand(1, 1, 28, 28)),
          ("x.jpg", Image.new("L", (28, 28))))
for name, image in images:
    try:
        save_image(image, folder + "/" + name)
    except ImageError as e:
        print(e)
    else:
        sys.exit(name + " was written")
"""
    r = run_unprivileged(["-c", code])
    assert r.returncode == 0 and r.stderr == "", r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:  # one clear message naming the folder
        assert line == f"{read_only_dir}: cannot write into this folder (Permission denied)"
    assert list(read_only_dir.iterdir()) == []  # no partial or temporary file


def test_save_image_into_missing_folder(tmp_path):
    with pytest.raises(ImageError, match=re.escape(f"{tmp_path / 'missing'}: cannot write into this folder")):
        save_image(torch.zeros(28, 28), tmp_path / "missing" / "x.png")
    assert list(tmp_path.iterdir()) == []


def test_modes_and_sizes(tmp_path):
    digit = np.zeros((28, 28), dtype=np.uint8)
    digit[8:20, 12:16] = 255
    cases = {
        "l.png": Image.fromarray(digit, "L"),
        "rgb.jpg": Image.fromarray(np.stack([digit] * 3, -1), "RGB"),
        "rgba.png": Image.fromarray(np.stack([digit] * 3 + [np.full_like(digit, 255)], -1), "RGBA"),
        "p.png": Image.fromarray(digit, "L").convert("P"),
        "one.png": Image.fromarray(digit, "L").convert("1"),
        "i16.png": Image.fromarray(digit.astype(np.uint16) * 257),
        "big.png": Image.fromarray(digit, "L").resize((280, 280), Image.NEAREST),
        "wide.png": Image.fromarray(np.zeros((10, 40), np.uint8), "L"),
        "tiny.png": Image.new("L", (1, 1), 128),
    }
    for name, img in cases.items():
        img.save(tmp_path / name)
        x, note = load_image(tmp_path / name)
        assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32, name
        assert float(x.min()) >= 0 and float(x.max()) <= 1.0 + 1e-6, name
    x16, _ = load_image(tmp_path / "i16.png")
    x8, _ = load_image(tmp_path / "l.png")
    assert torch.allclose(x16, x8, atol=1e-6)
    _, note = load_image(tmp_path / "big.png")
    assert "resized from 280x280" in note
    _, note = load_image(tmp_path / "wide.png")
    assert "padded" in note
    _, note = load_image(tmp_path / "rgb.jpg")
    assert "grayscale" in note
    assert load_image(tmp_path / "l.png")[1] is None


def test_npy_keeps_values_outside_the_unit_range(tmp_path):
    arr = np.linspace(-0.5, 1.5, 784, dtype=np.float32).reshape(28, 28)
    np.save(tmp_path / "a.npy", arr)
    x, _ = load_image(tmp_path / "a.npy")
    assert np.allclose(x[0, 0].numpy(), arr)
    save_image(x, tmp_path / "b.npy")
    assert np.allclose(np.load(tmp_path / "b.npy"), arr)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "not an image|corrupt|empty"),
        (b"not an image at all", "not an image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "corrupt|truncated|not an image"),
    ],
)
def test_bad_files(tmp_path, content, match):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(ImageError, match=match):
        load_image(p)


def test_missing_directory_nan(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)
    arr = np.zeros((28, 28), np.float32)
    arr[3, 3] = np.nan
    np.save(tmp_path / "nan.npy", arr)
    with pytest.raises(ImageError, match="NaN"):
        load_image(tmp_path / "nan.npy")
    Image.fromarray(arr, mode="F").save(tmp_path / "nan.tiff")
    with pytest.raises(ImageError, match="NaN"):
        load_image(tmp_path / "nan.tiff")
    np.save(tmp_path / "obj.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ImageError, match="2-D"):
        load_image(tmp_path / "obj.npy")


def test_truncated_png(tmp_path):
    img = Image.fromarray((np.random.default_rng(0).random((28, 28)) * 255).astype(np.uint8), "L")
    img.save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError):
        load_image(tmp_path / "cut.png")


def test_save_is_atomic_and_checks_format(tmp_path):
    with pytest.raises(ImageError, match="unknown image format"):
        save_image(torch.zeros(28, 28), tmp_path / "x.weird")
    assert list(tmp_path.iterdir()) == []
    save_image(torch.full((1, 1, 28, 28), 2.0), tmp_path / "x.png")
    assert np.asarray(Image.open(tmp_path / "x.png")).max() == 255


def test_read_pixels_keeps_the_size_and_values(tmp_path):
    from tinyddpm.io import read_pixels

    arr = (np.arange(60 * 90) % 256).astype(np.uint8).reshape(60, 90)
    Image.fromarray(arr, "L").save(tmp_path / "a.png")
    pixels, notes = read_pixels(tmp_path / "a.png")
    assert pixels.shape == (60, 90) and notes == [] and np.allclose(pixels, arr / 255)
    Image.fromarray(arr, "L").convert("RGB").save(tmp_path / "a.bmp")
    pixels, notes = read_pixels(tmp_path / "a.bmp")
    assert pixels.shape == (60, 90) and notes == ["converted RGB to grayscale"]
    noisy = np.linspace(-0.5, 1.5, 60 * 90).reshape(60, 90)
    np.save(tmp_path / "n.npy", noisy)
    assert np.array_equal(read_pixels(tmp_path / "n.npy")[0], noisy)  # float .npy: not clipped


def test_pixel_limit_is_per_call_for_every_kind_of_input(tmp_path):
    from tinyddpm.io import read_picture, read_pixels

    np.save(tmp_path / "big.npy", np.zeros((100, 100), np.float32))
    with pytest.raises(ImageError, match=re.escape(f"{tmp_path / 'big.npy'}: image too large (100x100")):
        read_pixels(tmp_path / "big.npy", max_pixels=9999)
    assert read_pixels(tmp_path / "big.npy", max_pixels=10000)[0].shape == (100, 100)
    with pytest.raises(ImageError, match="too large"):
        read_picture(Image.new("L", (100, 100)), max_pixels=9999)
    with pytest.raises(ImageError, match="too large"):
        read_picture(np.zeros((100, 100)), max_pixels=9999)
    pixels, name = read_picture(Image.new("L", (30, 20), 255))
    assert pixels.shape == (20, 30) and float(pixels.min()) == 1.0 and name == "image"
    pixels, name = read_picture(str(tmp_path / "big.npy"))
    assert name == str(tmp_path / "big.npy")
    with pytest.raises(ValueError, match="2-D"):
        read_picture(np.zeros((2, 3, 4)))
