"""Hostile and careless inputs (issue 23): bounded work for every file and number, no silent wrong
result, no symbolic link followed. One test (or group) per finding of the issue, in its order."""

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from tinyddpm.checkpoint import CheckpointError, load_model, pretrained_path, save_tensors
from tinyddpm.cli import main
from tinyddpm.data import load_sample
from tinyddpm.denoise import default_model, denoise
from tinyddpm.files import atomic_write
from tinyddpm.io import ImageError, read_pixels, save_image
from tinyddpm.preprocess import DigitError, _label, normalize


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def weights_with(tmp_path, config=None, schedule=None, architecture="unet", name="evil.safetensors"):
    """A small weights file whose header says what a hostile file would say."""
    header = {
        "format": 1,
        "architecture": architecture,
        "config": config or {},
        "schedule": schedule,
        "info": {},
    }
    path = tmp_path / name
    save_tensors(path, {"w": torch.zeros(1)}, header)
    return path


# ---- 1 (High): a small weights file cannot force a large allocation ------------------------------
BOUNDED = """
import sys, time
from tinyddpm.checkpoint import CheckpointError, load_model
t = time.perf_counter()
try:
    load_model(sys.argv[1])
    print("LOADED")
except CheckpointError as e:
    print("REFUSED", e)
# the peak resident memory of this process image: VmHWM starts anew at exec (ru_maxrss does not: it
# keeps the forking parent's peak, so a large pytest process would be counted here)
hwm = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(time.perf_counter() - t, hwm * 1024)
"""


@pytest.mark.parametrize(
    "config",
    [
        {"num_classes": 10**9},
        {"base_channels": 4096},
        {"num_res_blocks": 10**6},
        {"channel_mults": [1] * 10**5},
    ],
    ids=["1e9-classes", "4096-channels", "1e6-res-blocks", "long-channel-mults"],
)
def test_a_huge_config_is_refused_fast_and_small(tmp_path, config):
    path = weights_with(tmp_path, config)
    # a 4 GiB address-space cap: the code before this issue died of MemoryError or took minutes
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))\n"
    r = subprocess.run(
        [sys.executable, "-c", limit + BOUNDED, str(path)], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    verdict, numbers = r.stdout.strip().rsplit("\n", 1)
    seconds, peak = (float(v) for v in numbers.split())
    assert verdict.startswith("REFUSED") and str(path) in verdict
    assert seconds < 1.0, seconds
    assert peak < 1 << 30, peak  # the whole process, torch included


@pytest.mark.parametrize(
    "config, schedule, words",
    [
        ({"time_scale": float("nan")}, None, "not a finite number"),
        ({"time_scale": 1e999}, None, "not a finite number"),  # JSON 1e999 parses to inf
        ({}, {"kind": "cosine", "T": 1000, "s": float("nan")}, "not a finite number"),
        ({}, {"kind": "cosine", "T": 10**9}, "out of bounds"),
        ({"groups": 0}, None, "ZeroDivisionError"),
        ({"base_channels": 30}, None, "invalid unet config"),  # not divisible by groups
        ({"channel_mults": [[[[[[[[[[1]]]]]]]]]]}, None, "nested"),
        ({"dropout": "x"}, None, "invalid unet config"),
    ],
)
def test_every_bad_config_is_a_checkpoint_error_naming_the_file(tmp_path, config, schedule, words):
    path = weights_with(tmp_path, config, schedule)
    with pytest.raises(CheckpointError, match=words) as e:
        load_model(path)
    assert e.value.path == str(path)


def test_a_deeply_nested_header_is_a_checkpoint_error(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "deep.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"tinyddpm": "[" * 100_000 + "]" * 100_000})
    with pytest.raises(CheckpointError, match=str(path)):
        load_model(path)


def test_the_shipped_model_loads_as_before_through_the_meta_device():
    model, schedule, _ = load_model(pretrained_path("ddpm"))
    shared, _ = default_model()
    assert not any(p.is_meta for p in model.parameters())
    for (k, a), b in zip(model.state_dict().items(), shared.state_dict().values()):
        assert torch.equal(a, b), k


# ---- 2 (High): every picture costs bounded time -------------------------------------------------
def serpentine(h: int, w: int) -> np.ndarray:
    """One 8-connected path through every other row: as long as a path in an h x w mask gets."""
    m = np.zeros((h, w), dtype=bool)
    m[::2] = True
    m[1::4, -1] = True
    m[3::4, 0] = True
    return m


def test_labelling_is_linear_in_the_pixels():
    m = serpentine(161, 160)  # a path of 13,000 pixels: 13,000 rounds of 3x3 max-pooling before
    t = time.perf_counter()
    labels, n = _label(m)
    assert time.perf_counter() - t < 1.0
    assert n == 1 and labels[m].min() == 1 and labels[~m].max() == 0


def test_labelling_counts_components_8_connected():
    m = np.zeros((6, 6), dtype=bool)
    m[0, 0] = m[1, 1] = True  # diagonal neighbours: one component
    m[4, 4] = True
    labels, n = _label(m)
    assert n == 2 and labels[0, 0] == labels[1, 1] != labels[4, 4]


def test_a_long_thin_picture_is_refused_at_once(tmp_path):
    strip = np.full((16, 40_000), 255, dtype=np.uint8)
    strip[6:10, 100:-100] = 0  # a 754-byte PNG: hours of max-pooling before
    path = tmp_path / "strip.png"
    Image.fromarray(strip).save(path)
    code = "import sys; from tinyddpm.denoise import denoise_image; denoise_image(sys.argv[1])"
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - t < 30
    assert "DigitError" in r.stderr and "too long and thin" in r.stderr


def picture(kind: str, h: int, w: int) -> np.ndarray:
    a = np.full((h, w), 0.9)
    t = max(2, min(h, w) // 40)
    if kind == "strip":
        a[h // 2 - t : h // 2 + t, w // 10 : -w // 10] = 0.1
    elif kind == "zigzag":
        for i, c in enumerate(range(w // 10, w - w // 10 - 4 * t, 4 * t)):
            a[h // 4 : h - h // 4, c : c + t] = 0.1
            r = h // 4 if i % 2 else h - h // 4 - t
            a[r : r + t, c : c + 5 * t] = 0.1
    else:  # a square spiral
        r0, c0, r1, c1, g = h // 20, w // 20, h - h // 20, w - w // 20, 3 * t
        while r1 - r0 > 2 * g and c1 - c0 > 2 * g:
            a[r0 : r0 + t, c0:c1] = a[r0:r1, c1 - t : c1] = a[r1 - t : r1, c0:c1] = 0.1
            a[r0 + g : r1, c0 : c0 + t] = 0.1
            r0, c0, r1, c1 = r0 + g, c0 + g, r1 - g, c1 - g
    return a


@pytest.mark.parametrize(
    "kind, h, w", [("strip", 1000, 16_000), ("zigzag", 1000, 16_000), ("spiral", 4000, 4000)]
)
def test_a_16_megapixel_picture_of_any_shape_takes_bounded_time(kind, h, w):
    a = picture(kind, h, w)
    t = time.perf_counter()
    try:
        normalize(a)
    except DigitError:
        pass  # refused is fine; hanging is not
    assert time.perf_counter() - t < 30


# ---- 3 (Medium): no silent wrong result ----------------------------------------------------------
@pytest.fixture(scope="module")
def noisy():
    x = load_sample()[0][:4]
    return x, (x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)


def test_integer_pixels_are_scaled_by_255_as_the_cli_does(noisy):
    _, y = noisy
    y8 = (y * 255).round()
    as_float = denoise(y8 / 255, 0.2)
    assert torch.allclose(denoise(y8.to(torch.uint8), 0.2), as_float, atol=1e-6)
    assert np.allclose(denoise(y8.numpy().astype(np.uint8), 0.2), as_float.numpy(), atol=1e-6)


@pytest.mark.parametrize("scale", [255.0, 1e20])
def test_pixels_far_outside_the_unit_range_are_refused(noisy, scale):
    _, y = noisy
    with pytest.raises(ValueError, match="far outside"):
        denoise(y * scale, 0.2)
    with pytest.raises(ValueError, match="far outside"):
        denoise(y * scale)  # sigma="auto" too


def test_a_non_finite_result_is_never_returned(noisy):
    _, y = noisy
    _, schedule = default_model()

    def broken(x, t, y=None):
        return torch.full_like(x, float("nan"))

    with pytest.raises(ValueError, match="NaN"):
        denoise(y, 0.2, model=broken, schedule=schedule, clip=False)
    with pytest.raises(ValueError, match="NaN"):
        denoise(y, 0.2, model=broken, schedule=schedule)  # clamp keeps NaN: refused all the same


def test_an_output_with_nan_is_never_written(tmp_path):
    for name in ("x.png", "x.npy"):
        with pytest.raises(ImageError, match="NaN"):
            save_image(torch.full((28, 28), float("nan")), tmp_path / name)
        assert not (tmp_path / name).exists()


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        ({"guidance": float("nan"), "label": 3}, ValueError, "guidance"),
        ({"label": 11}, ValueError, "0..9"),
        ({"label": -5}, ValueError, "0..9"),
        ({"label": 3.7}, TypeError, "integer"),
        ({"label": True}, TypeError, "integer"),
        ({"steps": 2.5, "method": "ddim"}, TypeError, "steps must be an integer"),
        ({"steps": 10**9, "method": "ddim"}, ValueError, "steps"),
        ({"samples": 10**9, "method": "average"}, ValueError, "samples"),
        ({"sigma": True}, TypeError, "sigma"),
        ({"eta": 2.0, "method": "ddim"}, ValueError, "eta"),
    ],
)
def test_the_api_validates_its_options(noisy, kwargs, error, words):
    _, y = noisy
    kwargs = {"sigma": 0.2, **kwargs}
    with pytest.raises(error, match=words):
        denoise(y, kwargs.pop("sigma"), **kwargs)


def test_the_cli_shares_the_api_validator(tmp_path, capsys):
    for argv in (["--guidance", "nan"], ["--steps", "1000000000"], ["--samples", "10000000"], ["--eta", "3"]):
        with pytest.raises(SystemExit) as e:
            main(["denoise", str(tmp_path / "x.png"), "-o", str(tmp_path), *argv])
        assert e.value.code == 2
    assert "must" in capsys.readouterr().err


# ---- 4 (Medium): one bad file never costs the others --------------------------------------------
def test_one_overflowing_npy_does_not_abort_the_batch(tmp_path, capsys):
    x, _ = load_sample()
    np.save(tmp_path / "good.npy", x[0, 0].numpy())
    np.save(tmp_path / "bad.npy", np.full((28, 28), 1e20, dtype=np.float32))
    np.save(tmp_path / "also_good.npy", x[1, 0].numpy())
    out = tmp_path / "out"
    code, stdout, err = run(
        [
            "denoise",
            tmp_path / "good.npy",
            tmp_path / "bad.npy",
            tmp_path / "also_good.npy",
            "-o",
            out,
            "--sigma",
            "0.1",
        ],
        capsys,
    )
    assert code == 2
    assert "bad.npy" in err and "good.npy" not in err
    assert (out / "good.png").exists() and (out / "also_good.png").exists() and not (out / "bad.png").exists()


# ---- 5 (Medium): no symbolic link followed in a run folder ---------------------------------------
@pytest.fixture()
def run_folder(tmp_path):
    from tinyddpm.harness.runs import RunFolder
    from tinyddpm.harness.train import quick_config

    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    folder = tmp_path / "run"
    folder.mkdir()
    return RunFolder(folder, quick_config()), victim


def test_the_lock_is_never_opened_through_a_link(run_folder):
    run, victim = run_folder
    (run.path / ".lock").symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        run.acquire()
    assert victim.read_text() == "precious\n"


def test_the_log_is_never_written_through_a_link(run_folder):
    run, victim = run_folder
    run.log.symlink_to(victim)
    with pytest.raises(OSError, match="symbolic link"):
        run.append_log([[1, 0.5, 1e-3, 1.0]])
    with pytest.raises(OSError, match="symbolic link"):
        run.truncate_log(0)  # what a resumed run does first: read, then rewrite atomically
    assert victim.read_text() == "precious\n"
    run.log.unlink()
    run.truncate_log(0)  # a new log: its header
    run.append_log([[1, 0.5, 1e-3, 1.0]])
    run.truncate_log(0)  # through the atomic writer: a new file, never a link's target
    assert run.log.read_text().startswith("step,") and "0.5" not in run.log.read_text()


# ---- 6 (Medium): upper bounds on every number ---------------------------------------------------
@pytest.mark.parametrize(
    "argv",
    [["-n", "20000"], ["--scale", "100000"], ["-n", "10000", "--scale", "16"], ["--steps", "1000000"]],
)
def test_sample_refuses_unbounded_numbers_at_once(tmp_path, capsys, argv):
    t = time.perf_counter()
    try:
        code = main(["sample", "-o", str(tmp_path / "grid.png"), "--quiet", *argv])
    except SystemExit as e:
        code = e.code
    assert code == 2 and time.perf_counter() - t < 5
    assert not (tmp_path / "grid.png").exists()


# ---- 7 (Medium): two runs into one folder never silently replace each other's outputs -------------
def test_an_output_that_appears_meanwhile_is_not_replaced(tmp_path):
    target = tmp_path / "x.png"

    def write(tmp):
        target.write_text("the other run's output")  # appears while this one is being written
        Image.new("L", (28, 28)).save(tmp, format="PNG")

    with pytest.raises(FileExistsError):
        atomic_write(target, write, overwrite=False)
    assert target.read_text() == "the other run's output"
    assert os.listdir(tmp_path) == ["x.png"]  # no temporary file left
    with pytest.raises(ImageError, match="already exists"):
        save_image(torch.zeros(28, 28), target, overwrite=False)
    assert target.read_text() == "the other run's output"


def test_a_dangling_link_named_like_an_output_is_an_existing_output(tmp_path, capsys):
    x, _ = load_sample()
    np.save(tmp_path / "d.npy", x[0, 0].numpy())
    out = tmp_path / "out"
    out.mkdir()
    (out / "d.png").symlink_to(tmp_path / "nowhere.png")
    code, _, err = run(["denoise", tmp_path / "d.npy", "-o", out, "--sigma", "0.1"], capsys)
    assert code == 2 and "already exists" in err
    assert (out / "d.png").is_symlink() and not (tmp_path / "nowhere.png").exists()


def test_temporary_files_of_a_killed_run_are_removed(tmp_path, capsys):
    x, _ = load_sample()
    np.save(tmp_path / "d.npy", x[0, 0].numpy())
    out = tmp_path / "out"
    out.mkdir()
    (out / ".d.png.k1ll3d.tmp").write_bytes(b"")  # what kill -9 during a write leaves
    code, _, err = run(["denoise", tmp_path / "d.npy", "-o", out, "--sigma", "0.1"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(out)) == ["d.png"]


def test_add_noise_never_overwrites_its_own_input(tmp_path, capsys):
    x, _ = load_sample()
    p = tmp_path / "d.png"
    Image.fromarray((x[0, 0].numpy() * 255).astype(np.uint8)).save(p)
    before = p.read_bytes()
    code, _, err = run(["add-noise", p, "-o", p, "--sigma", "0.3", "--overwrite"], capsys)
    assert code == 2 and "is the input" in err and p.read_bytes() == before


# ---- 8 (Medium): pictures as people make them ----------------------------------------------------
def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((40, 60), dtype=np.uint8)
    a[:10, :] = 255  # a bright band along the stored top edge
    img = Image.fromarray(a)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to view"
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif.tobytes(), quality=95)
    pixels, notes = read_pixels(path)
    assert pixels.shape == (60, 40)  # as the viewer shows it: turned upright
    assert pixels[:, -10:].mean() > 0.9 and pixels[:, :20].mean() < 0.1  # the band is now on the right
    assert any("orientation" in n for n in notes)


def test_dark_ink_on_transparency_is_composited_onto_white(tmp_path):
    x, _ = load_sample()
    rgba = np.zeros((200, 200, 4), dtype=np.uint8)  # black ink, transparent elsewhere: a drawing app's export
    digit = np.asarray(Image.fromarray((x[0, 0].numpy() * 255).astype(np.uint8)).resize((140, 140)))
    rgba[30:170, 30:170, 3] = digit
    path = tmp_path / "drawn.png"
    Image.fromarray(rgba, "RGBA").save(path)
    pixels, _ = read_pixels(path)
    assert (
        pixels[0, 0] == 1.0 and pixels[rgba[..., 3] == rgba[..., 3].max()].max() < 0.1
    )  # white paper, dark ink
    digit28, record = normalize(pixels)  # before: composited on black, "no ink found"
    assert record.inverted and digit28.max() > 0.5


def test_control_characters_in_file_names_are_escaped(tmp_path, capsys):
    name = tmp_path / "a\x1b[31mred\nline.png"
    code, _, err = run(["denoise", name, "-o", tmp_path / "out"], capsys)
    assert code == 2
    assert "\x1b" not in err and "\\x1b" in err and "\\n" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_not_read(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="not a regular file"):
        read_pixels(fifo)  # before: blocked forever opening it


def test_a_blank_28x28_picture_is_refused_like_a_blank_page():
    """Low: a blank 200x200 page was refused ("no ink found") while a blank 28x28 picture was
    "denoised"; a picture of one grey level holds neither ink nor noise, at any size."""
    import numpy as np

    from tinyddpm.denoise import denoise_image
    from tinyddpm.preprocess import DigitError

    for size in (28, 200):
        for level in (0.0, 1.0):
            with pytest.raises(DigitError, match="no ink"):
                denoise_image(np.full((size, size), level, dtype=np.float32), sigma=0.1)
