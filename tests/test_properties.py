"""Bad input, tried systematically with hypothesis: every case gets a clear error or a correct
result, never a traceback from deep inside torch, a partial output file or a changed input."""

import hashlib
import io

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from tinyddpm.cli import main
from tinyddpm.denoise import MAX_PIXEL_SIGMA, denoise
from tinyddpm.harness.analytic import GaussianEps
from tinyddpm.io import ImageError, load_image
from tinyddpm.schedules import NoiseSchedule

SCHED = NoiseSchedule.cosine(100)
MODEL = GaussianEps(SCHED, 0.0, 0.5)
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LA", "I", "F", "I;16"]


@FAST
@given(
    w=st.integers(1, 300),
    h=st.integers(1, 300),
    mode=st.sampled_from(MODES),
    fmt=st.sampled_from(["PNG", "TIFF", "JPEG", "BMP"]),
)
def test_any_size_and_mode_loads_as_a_28x28_digit(tmp_path, w, h, mode, fmt):
    rng = np.random.default_rng(w * 1000 + h)
    img = Image.fromarray((rng.random((h, w)) * 255).astype(np.uint8), "L").convert(
        mode if mode != "I;16" else "I"
    )
    if mode == "I;16":
        img = Image.fromarray((rng.random((h, w)) * 65535).astype(np.uint16))
    path = tmp_path / f"x.{fmt.lower()}"
    try:
        img.save(path, format=fmt)
    except (OSError, ValueError, KeyError):
        assume(False)  # this format cannot store this mode: not a case, hypothesis draws another
    x, note = load_image(path)
    assert x.shape == (1, 1, 28, 28) and bool(torch.isfinite(x).all())
    assert (note is not None) == ((w, h) != (28, 28) or Image.open(path).mode not in ("L", "I;16", "I", "F"))


def test_huge_image_is_reduced(tmp_path):
    Image.new("L", (4096, 4096), 30).save(tmp_path / "big.png")
    x, note = load_image(tmp_path / "big.png")
    assert x.shape == (1, 1, 28, 28) and "4096x4096" in note
    assert float(x.mean()) == pytest.approx(30 / 255, abs=1e-3)


@FAST
@given(data=st.binary(min_size=0, max_size=300))
def test_random_bytes_are_refused_cleanly(tmp_path, data):
    p = tmp_path / "junk.png"
    p.write_bytes(data)
    with pytest.raises(ImageError):
        load_image(p)


@FAST
@given(cut=st.floats(0.05, 0.95))
def test_truncated_files_are_refused_cleanly(tmp_path, cut):
    buf = io.BytesIO()
    Image.fromarray((np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)).save(
        buf, format="PNG"
    )
    data = buf.getvalue()
    p = tmp_path / "cut.png"
    p.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(ImageError):
        load_image(p)


@FAST
@given(
    shape=st.lists(st.integers(0, 30), min_size=0, max_size=5).map(tuple),
    dtype=st.sampled_from(
        [torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool]
    ),
)
def test_any_tensor_shape_and_dtype(shape, dtype):
    x = torch.zeros(shape, dtype=dtype)
    ok_shape = shape in ((28, 28), (1, 28, 28)) or (len(shape) == 4 and shape[1:] == (1, 28, 28))
    if ok_shape and dtype != torch.bool:
        out = denoise(x, 0.2, model=MODEL, schedule=SCHED)
        assert out.shape == x.shape and out.dtype == (dtype if dtype.is_floating_point else torch.float32)
    else:
        with pytest.raises((ValueError, TypeError)):
            denoise(x, 0.2, model=MODEL, schedule=SCHED)


@FAST
@given(sigma=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5)))
def test_any_sigma(sigma):
    x = torch.full((2, 1, 28, 28), 0.5)
    top = min(SCHED.max_sigma / 2, MAX_PIXEL_SIGMA)
    valid = isinstance(sigma, (int, float)) and np.isfinite(sigma) and 0 < sigma <= top
    if valid:
        out = denoise(x, sigma, model=MODEL, schedule=SCHED)
        assert bool(torch.isfinite(out).all())
    else:
        with pytest.raises(ValueError):
            denoise(x, sigma, model=MODEL, schedule=SCHED)


@FAST
@given(values=st.lists(st.floats(-3.8, 4.8), min_size=1, max_size=4))
def test_noisy_values_outside_the_unit_range_are_accepted(values):
    """Gaussian noise is not clipped: at sigma 0.3 pixels reach 8 sigmas (2.4) beyond [0, 1] and
    more (denoise.PIXEL_SLACK for photos' contrast); all of these are denoised into [0, 1]."""
    x = torch.tensor(values).repeat(784)[:784].reshape(28, 28)
    out = denoise(x, 0.3, model=MODEL, schedule=SCHED)
    assert out.shape == (28, 28) and float(out.min()) >= 0 and float(out.max()) <= 1


@FAST
@given(value=st.one_of(st.floats(4.95, 1e30), st.floats(-1e30, -3.95)))
def test_values_no_noise_explains_are_refused(value):
    """Beyond 0.5 +- (0.5 + PIXEL_SLACK + 8 sigma) a pixel is not noise (p < 1e-15): 8-bit values,
    a wrong scale; refused with a message that says so."""
    x = torch.zeros(28, 28)
    x[5, 5] = value
    with pytest.raises(ValueError, match="pixel units"):
        denoise(x, 0.3, model=MODEL, schedule=SCHED)


def test_nan_and_inf_pixels_are_refused():
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.zeros(28, 28)
        x[3, 4] = bad
        with pytest.raises(ValueError, match="NaN or infinite"):
            denoise(x, 0.2, model=MODEL, schedule=SCHED)


def test_meta_device_tensor_gets_a_clear_error():
    x = torch.zeros(1, 1, 28, 28, device="meta")
    with pytest.raises(ValueError, match="meta"):
        denoise(x, 0.2, model=MODEL, schedule=SCHED)


@pytest.mark.parametrize("method", ["posterior_mean", "ancestral"])
def test_chunked_output_equals_unchunked_output(method):
    """batch_size only bounds memory: 300 digits in chunks of 128 (the last one partial) give the
    same result as one chunk of 1024, also for a sampler (each image has its own generator)."""
    x = torch.rand(300, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    kw = {"method": method, "model": MODEL, "schedule": SCHED, "seed": 3}
    if method != "posterior_mean":
        kw["steps"] = 3  # 3 strided steps: fast
    chunked = denoise(x, 0.2, batch_size=128, **kw)
    assert chunked.shape == x.shape
    assert torch.equal(chunked, denoise(x, 0.2, batch_size=1024, **kw))


@FAST
@given(sigma=st.sampled_from(["0", "-1", "1.5000001", "2", "nan", "inf", "1e400", "", "x"]))
def test_cli_rejects_bad_sigma_without_touching_files(tmp_path, sigma):
    src = tmp_path / "in.png"
    Image.new("L", (28, 28), 0).save(src)
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    with pytest.raises(SystemExit) as e:
        main(["add-noise", str(src), "-o", str(tmp_path / "out.png"), "--sigma", sigma])
    assert e.value.code == 2
    assert not (tmp_path / "out.png").exists()
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before
