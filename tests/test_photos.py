"""End to end with the shipped models: photo-like pictures and 8-bit files, as users bring them.

Smaller versions of benchmarks/photos.py (the issue's "done when"): 20 photo-like pictures made
from MNIST test digits must be read correctly by the shipped classifier after ``denoise_image``
and come back in their own frame closer to the clean picture than the input was; noisy bundled
digits stored as 8-bit values and denoised with sigma "auto" must come within 1 dB of the
posterior mean of the same digits unclipped, with the true sigma.
"""

import numpy as np
import pytest
import torch

from tinyddpm.checkpoint import pretrained
from tinyddpm.data import add_noise, load_sample
from tinyddpm.denoise import denoise, denoise_image, denoise_normalized
from tinyddpm.metrics import predict_labels, psnr
from tinyddpm.preprocess import normalize, synthetic_photo


def picture_psnr(a: np.ndarray, ref: np.ndarray) -> float:
    return float(10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - ref) ** 2)))


def test_photo_set():
    x, labels = load_sample()
    rng = np.random.default_rng(12)
    pick = rng.choice(len(x), 20, replace=False)
    photos = [synthetic_photo(x[i, 0].numpy(), rng) for i in pick]
    normalised = [normalize(p.noisy, source=f"photo {j}") for j, p in enumerate(photos)]
    results = denoise_normalized([d for d, _ in normalised], [r for _, r in normalised], "auto")
    digits = torch.from_numpy(np.stack([r.digit for r in results]))[:, None]  # (20, 1, 28, 28)
    read = predict_labels(pretrained("classifier")[0], digits)
    assert int((read == labels[pick]).sum()) >= 19  # the benchmark's 200: at least 97 %
    for p, r in zip(photos, results):
        assert r.image.shape == p.noisy.shape
        assert picture_psnr(r.image, p.clean) > picture_psnr(p.noisy, p.clean) + 1


def test_denoise_image_takes_paths_pil_and_arrays(tmp_path):
    from PIL import Image

    x, _ = load_sample()
    photo = synthetic_photo(x[42, 0].numpy(), np.random.default_rng(0))
    path = tmp_path / "photo.png"
    Image.fromarray(np.round(photo.noisy * 255).astype(np.uint8)).save(path)
    a = denoise_image(path, seed=0)
    b = denoise_image(Image.open(path), seed=0)
    assert np.array_equal(a.image, b.image)  # the same 8-bit values, the same result
    assert a.normalization.inverted == photo.dark_ink
    assert a.sigma == pytest.approx(a.normalization.noise_gain * a.normalization.sigma_picture)
    c = denoise_image(photo.noisy, sigma=photo.sigma)  # an array; a number is the picture's sigma
    assert c.sigma == pytest.approx(c.normalization.noise_gain * photo.sigma)
    assert np.abs(c.image - a.image).mean() < 0.01


@pytest.mark.parametrize("sigma", [0.1, 0.2, 0.3])
def test_8bit_round_trip_is_within_1db(sigma):
    x = load_sample()[0][::16]  # 63 digits, all classes
    y = add_noise(x, sigma, generator=torch.Generator().manual_seed(round(sigma * 100)))
    y8 = torch.round(y.clamp(0, 1) * 255) / 255  # what an 8-bit PNG file holds
    reference = float(psnr(denoise(y, sigma), x).mean())  # unclipped, true sigma
    normalised = [normalize(img[0].numpy()) for img in y8]
    results = denoise_normalized([d for d, _ in normalised], [r for _, r in normalised], "auto")
    out = torch.from_numpy(np.stack([r.digit for r in results]))[:, None]
    assert float(psnr(out, x).mean()) > reference - 1.0
    sigmas = torch.tensor([r.sigma for r in results])
    assert float(sigmas.median()) == pytest.approx(sigma, rel=0.05)


def test_other_writers_digits_reach_mnist_form_and_denoise(tmp_path):
    """scikit-learn's digits (other writers, 8x8 counts) through benchmarks/other_writers.py's
    conversion: the MNIST classifier reads most of the clean results, and denoising at sigma 0.2
    gains over the noisy input (the benchmark measures how much less than on MNIST)."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("sklearn")
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "other_writers.py"
    spec = importlib.util.spec_from_file_location("other_writers", path)
    other_writers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other_writers)
    x, labels = other_writers.other_set(60)
    assert x.shape == (60, 1, 28, 28) and float(x.min()) >= 0 and float(x.max()) <= 1
    mass = x[:, 0].sum((1, 2))
    rows = torch.arange(28, dtype=torch.float32)
    centre = (x[:, 0].sum(2) * rows).sum(1) / mass  # row of the centre of mass
    assert float((centre - 14.0).abs().max()) < 0.5  # MNIST's centring: row 14 (0-based)
    read = predict_labels(pretrained("classifier")[0], x)
    assert float((read == labels).double().mean()) >= 0.85
    y = add_noise(x, 0.2, generator=torch.Generator().manual_seed(0))
    assert float(psnr(denoise(y, 0.2), x).mean()) > float(psnr(y, x).mean()) + 6
