"""The command line: happy paths, and each kind of bad input gets one line and exit status 2."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tinyddpm.cli import main
from tinyddpm.data import load_sample

from .test_io import read_only_dir, run_unprivileged  # noqa: F401 (fixture)


@pytest.fixture()
def digit_png(tmp_path):
    x, _ = load_sample()
    p = tmp_path / "digit.png"
    Image.fromarray((x[0, 0].numpy() * 255).astype(np.uint8), "L").save(p)
    return p


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_noise_then_denoise(tmp_path, digit_png, tiny_model_path, capsys):
    noisy = tmp_path / "noisy.png"
    code, out, err = run(["add-noise", digit_png, "-o", noisy, "--sigma", "0.3", "--seed", "0"], capsys)
    assert code == 0 and noisy.exists() and "clip" in err
    a = np.asarray(Image.open(noisy))
    run(["add-noise", digit_png, "-o", tmp_path / "again.png", "--sigma", "0.3", "--seed", "0"], capsys)
    assert np.array_equal(a, np.asarray(Image.open(tmp_path / "again.png")))  # seeded
    outdir = tmp_path / "out"
    for method in ("posterior_mean", "ddim", "ancestral", "average"):
        code, out, err = run(
            [
                "denoise",
                noisy,
                "-o",
                outdir,
                "--sigma",
                "0.3",
                "--method",
                method,
                *(["--steps", "3"] if method != "posterior_mean" else []),
                *(["--samples", "2"] if method == "average" else []),
                "--model",
                tiny_model_path,
                "--overwrite",
            ],
            capsys,
        )
        assert code == 0, err
        img = Image.open(outdir / "noisy.png")
        assert img.size == (28, 28) and img.mode == "L"
    code, out, err = run(
        ["denoise", noisy, "-o", outdir, "--sigma", "auto", "--model", tiny_model_path, "--overwrite"], capsys
    )
    assert code == 0 and "estimated sigma" in out


def save_photo(path, pixels):
    Image.fromarray(np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8), "L").save(path)


@pytest.fixture()
def photo(tmp_path):
    """A photo-like 8-bit PNG of a dark 7 on light paper: (path, SyntheticPhoto)."""
    from tinyddpm.preprocess import synthetic_photo

    x, labels = load_sample()
    p = synthetic_photo(
        x[int((labels == 7).nonzero()[0, 0]), 0].numpy(), np.random.default_rng(3), dark_ink=True
    )
    path = tmp_path / "photo7.png"
    save_photo(path, p.noisy)
    return path, p


def test_photo_comes_back_in_its_own_frame(tmp_path, photo, tiny_model_path, capsys):
    path, p = photo
    m = ["--model", tiny_model_path]
    code, out, err = run(["denoise", path, "-o", tmp_path / "frame", *m], capsys)
    assert code == 0, err
    back = np.asarray(Image.open(tmp_path / "frame" / "photo7.png"), dtype=np.float64) / 255
    assert back.shape == p.noisy.shape  # same size ...
    paper = np.abs(p.clean - np.median(p.clean)) < 0.05
    assert abs(np.mean(back[paper]) - np.mean(p.clean[paper])) < 0.03  # ... light paper restored
    assert "inverted" in out and "estimated sigma" in out
    code, out, err = run(["denoise", path, "-o", tmp_path / "mnist", "--mnist", "--npy", *m], capsys)
    assert code == 0, err
    digit = np.load(tmp_path / "mnist" / "photo7.npy")
    assert digit.shape == (28, 28) and np.median(digit) < 0.1  # MNIST form: light ink on black


def test_rgb_jpeg_and_npy_output(tmp_path, photo, tiny_model_path, capsys):
    path, p = photo
    rgb = tmp_path / "colour.jpg"
    Image.open(path).convert("RGB").save(rgb, quality=95)
    code, out, err = run(
        ["denoise", rgb, "-o", tmp_path / "o", "--sigma", "0.1", "--model", tiny_model_path, "--npy"], capsys
    )
    assert code == 0 and "converted RGB to grayscale" in err
    assert np.load(tmp_path / "o" / "colour.npy").shape == p.noisy.shape
    assert "sigma 0.1" not in out and "at 28x28" in out  # the picture's 0.1, rescaled for 28x28


def test_add_noise_keeps_the_size(tmp_path, photo, capsys):
    path, p = photo
    code, out, err = run(["add-noise", path, "-o", tmp_path / "n.npy", "--sigma", "0.1"], capsys)
    assert code == 0 and np.load(tmp_path / "n.npy").shape == p.noisy.shape


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height pixels but holds no pixel data."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_refusals_one_line_each_and_the_other_files_still_done(tmp_path, photo, tiny_model_path, capsys):
    """Blank page, two digits, too small, huge, ink on every border: each one error line naming
    the file, nothing written for it, exit status 2; the good file among them is denoised."""
    good, _ = photo
    rng = np.random.default_rng(0)
    paper = np.clip(0.85 + 0.05 * rng.standard_normal((150, 240)), 0, 1)
    save_photo(tmp_path / "blank.png", paper)
    two = paper.copy()
    two[40:110, 40:52], two[40:110, 180:192] = 0.1, 0.1
    save_photo(tmp_path / "two.png", two)
    save_photo(tmp_path / "small.png", paper[:6, :6])
    (tmp_path / "huge.png").write_bytes(png_header_only(9000, 9000))
    cross = paper.copy()
    cross[70:80, :], cross[:, 110:120] = 0.1, 0.1
    save_photo(tmp_path / "cross.png", cross)
    bad = {
        "blank": "no ink found",
        "two": "found 2 separate ink components; one digit per image is expected",
        "small": "too small to hold a digit",
        "huge": "image too large (9000x9000 pixels",
        "cross": "ink touches the border on 4 sides",
    }
    files = [tmp_path / f"{name}.png" for name in bad] + [good]
    code, out, err = run(["denoise", *files, "-o", tmp_path / "out", "--model", tiny_model_path], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == len(bad), err
    for (name, reason), line in zip(bad.items(), lines):
        assert line.startswith(f"tinyddpm: error: {tmp_path / name}.png: ") and reason in line, line
    assert sorted(q.name for q in (tmp_path / "out").iterdir()) == [good.name]
    assert f"{good} -> " in out and "Traceback" not in err


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_outputs_get_the_mode_open_gives(tmp_path, digit_png, umask, capsys):
    import os

    old = os.umask(umask)
    try:
        code, _, err = run(["add-noise", digit_png, "-o", tmp_path / "n.png", "--sigma", "0.2"], capsys)
        assert code == 0, err
        code, _, err = run(["denoise", tmp_path / "n.png", "-o", tmp_path / "out", "--sigma", "0.2"], capsys)
        assert code == 0, err
    finally:
        os.umask(old)
    for f in (tmp_path / "n.png", tmp_path / "out" / "n.png"):
        assert os.stat(f).st_mode & 0o777 == 0o666 & ~umask, (f, oct(os.stat(f).st_mode))


def test_sample_and_demo(tmp_path, tiny_model_path, capsys):
    code, out, err = run(
        [
            "sample",
            "-n",
            "4",
            "-o",
            tmp_path / "g.png",
            "--steps",
            "3",
            "--model",
            tiny_model_path,
            "--quiet",
        ],
        capsys,
    )
    assert code == 0 and Image.open(tmp_path / "g.png").size[0] > 28
    code, out, err = run(
        [
            "sample",
            "-n",
            "2",
            "-o",
            tmp_path / "h.png",
            "--steps",
            "2",
            "--label",
            "3",
            "--guidance",
            "2",
            "--model",
            tiny_model_path,
            "--quiet",
        ],
        capsys,
    )
    assert code == 0
    code, out, err = run(["demo", "-o", tmp_path / "demo.png", "--model", tiny_model_path], capsys)
    assert code == 0 and "posterior mean" in out and (tmp_path / "demo.png").exists()


def one_line_error(code, err):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 or (len(lines) == 2 and lines[0].startswith("usage:")), err
    assert "Traceback" not in err


@pytest.mark.parametrize("sigma", ["0", "-0.1", "1.6", "nan", "inf", "abc"])
def test_bad_sigma(tmp_path, digit_png, sigma, capsys):
    with pytest.raises(SystemExit) as e:
        main(["denoise", str(digit_png), "-o", str(tmp_path / "o"), "--sigma", sigma])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "sigma" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_bad_files(tmp_path, digit_png, tiny_model_path, capsys):
    m = ["--model", tiny_model_path]
    code, _, err = run(
        ["denoise", tmp_path / "missing.png", "-o", tmp_path / "o", "--sigma", "0.2", *m], capsys
    )
    one_line_error(code, err)
    assert "no such file" in err
    txt = tmp_path / "notes.png"
    txt.write_text("hello")
    code, _, err = run(["denoise", txt, "-o", tmp_path / "o", "--sigma", "0.2", *m], capsys)
    one_line_error(code, err)
    assert "not an image" in err
    nan = tmp_path / "nan.npy"
    a = np.zeros((28, 28), np.float32)
    a[0, 0] = np.nan
    np.save(nan, a)
    code, _, err = run(["denoise", nan, "-o", tmp_path / "o", "--sigma", "0.2", *m], capsys)
    one_line_error(code, err)
    assert "NaN" in err
    # a bad file among good ones: its error line, exit status 2, the good one still written
    code, out, err = run(["denoise", digit_png, txt, "-o", tmp_path / "o", "--sigma", "0.2", *m], capsys)
    one_line_error(code, err)
    assert str(txt) in err and [q.name for q in (tmp_path / "o").iterdir()] == ["digit.png"]
    bad_model = tmp_path / "w.safetensors"
    bad_model.write_bytes(b"\x80\x04junk")
    code, _, err = run(
        ["denoise", digit_png, "-o", tmp_path / "o2", "--sigma", "0.2", "--model", bad_model], capsys
    )
    one_line_error(code, err)
    assert str(bad_model) in err


def test_existing_output_is_not_replaced(tmp_path, digit_png, tiny_model_path, capsys):
    out = tmp_path / "noisy.png"
    out.write_bytes(b"precious")
    code, _, err = run(["add-noise", digit_png, "-o", out, "--sigma", "0.3"], capsys)
    one_line_error(code, err)
    assert "--overwrite" in err and out.read_bytes() == b"precious"
    outdir = tmp_path / "od"
    outdir.mkdir()
    (outdir / "digit.png").write_bytes(b"precious")
    code, _, err = run(
        ["denoise", digit_png, "-o", outdir, "--sigma", "0.2", "--model", tiny_model_path], capsys
    )
    one_line_error(code, err)
    assert (outdir / "digit.png").read_bytes() == b"precious"
    code, _, err = run(
        [
            "denoise",
            digit_png,
            "-o",
            digit_png.parent,
            "--sigma",
            "0.2",
            "--model",
            tiny_model_path,
            "--overwrite",
        ],
        capsys,
    )
    one_line_error(code, err)
    assert "own input" in err


def test_read_only_output_folder(read_only_dir, digit_png):  # noqa: F811 (the imported fixture)
    # in a child that cannot write into the folder even as root (see tests/test_io.py)
    code = f"""
import contextlib, io, json
from tinyddpm.cli import main
out = []
for argv in (["add-noise", {str(digit_png)!r}, "-o", {str(read_only_dir / "n.png")!r}, "--sigma", "0.3"],
             ["denoise", {str(digit_png)!r}, "-o", {str(read_only_dir)!r}, "--sigma", "0.2"],
             ["denoise", {str(digit_png)!r}, "-o", {str(read_only_dir / "new")!r}, "--sigma", "0.2"]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        out.append((main(argv), err.getvalue()))
print(json.dumps(out))
"""
    r = run_unprivileged(["-c", code])
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    (code1, err1), (code2, err2), (code3, err3) = json.loads(r.stdout.splitlines()[-1])
    for c, e in ((code1, err1), (code2, err2), (code3, err3)):
        one_line_error(c, e)
        assert str(read_only_dir) in e
    assert f"{read_only_dir}: output folder is not writable" in err1
    assert f"{read_only_dir}: output folder is not writable" in err2
    assert (
        f"{read_only_dir / 'new'}: cannot create the output folder ({read_only_dir} is not writable)" in err3
    )
    assert list(read_only_dir.iterdir()) == []  # nothing written, no temporary file left


def test_python_dash_m_entry_point(tmp_path, digit_png):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyddpm",
            "add-noise",
            str(digit_png),
            "-o",
            str(tmp_path / "n.png"),
            "--sigma",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "tinyddpm",
            "denoise",
            str(tmp_path / "none.png"),
            "-o",
            str(tmp_path),
            "--sigma",
            "0.2",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1
