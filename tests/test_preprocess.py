"""Photos to MNIST form and back (tinyddpm.preprocess): LeCun et al.'s normalisation, the record,
the noise through the resampling, and each kind of refusal."""

import numpy as np
import pytest
import torch

from tinyddpm.data import load_sample
from tinyddpm.preprocess import (
    BOX,
    CENTRE,
    SIZE,
    DigitError,
    normalize,
    synthetic_photo,
)
from tinyddpm.resample import resample_weights


@pytest.fixture(scope="module")
def digits():
    x, labels = load_sample()
    return x[:, 0].numpy().astype(np.float64), labels.numpy()


def psnr(a, b) -> float:
    return float(10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def centre_of_mass(d: np.ndarray) -> tuple[float, float]:
    pos = np.arange(SIZE) + 0.5
    w = np.clip(d, 0, None)
    return float(w.sum(1) @ pos / w.sum()), float(w.sum(0) @ pos / w.sum())


def box_side(d: np.ndarray, level: float = 0.3) -> int:
    rows, cols = np.flatnonzero((d > level).any(1)), np.flatnonzero((d > level).any(0))
    return int(max(np.ptp(rows), np.ptp(cols)) + 1)


def test_clean_photos_normalise_back_to_their_mnist_digit(digits):
    """MNIST digits are already normalised, so a photo made from one must normalise back to it."""
    x, _ = digits
    rng = np.random.default_rng(0)
    scores, ratios = [], []
    for i in range(0, 1000, 50):  # 20 digits, all classes, both polarities, 60-400 px pictures
        photo = synthetic_photo(x[i], rng)
        d, rec = normalize(photo.clean)
        assert d.shape == (SIZE, SIZE) and d.dtype == np.float32
        assert rec.inverted == photo.dark_ink and not rec.mnist_form
        assert abs(box_side(d) - BOX) <= 1  # LeCun: the longer side fills the 20 px box
        assert np.allclose(centre_of_mass(d), (CENTRE, CENTRE), atol=0.35)  # centre of mass at the centre
        ratios.append(np.median(d[d > 0.5]) / np.median(x[i][x[i] > 0.5]))  # stroke cores
        scores.append(psnr(d, x[i]))
    # contrast: faint digits come out as dark as an average MNIST digit, so only on average 1
    assert 0.95 < np.mean(ratios) < 1.05 and 0.8 < min(ratios) and max(ratios) < 1.25, ratios
    # MNIST itself centres to whole pixels (its centres of mass scatter +-0.5 px), hence not more
    assert min(scores) > 14 and np.mean(scores) > 19, scores


def test_back_into_the_picture_frame(digits):
    x, _ = digits
    rng = np.random.default_rng(1)
    for i in (0, 150, 420):
        photo = synthetic_photo(x[i], rng)
        d, rec = normalize(photo.clean)
        back = rec.to_image(d)
        assert back.shape == photo.clean.shape and back.dtype == np.float32
        assert psnr(back, photo.clean) > 30  # geometry, contrast, polarity and background restored
        assert rec.background_image().shape == photo.clean.shape


def test_mnist_form_input_is_kept_as_it_is(digits):
    x, _ = digits
    d, rec = normalize(x[5])
    assert rec.mnist_form and not rec.inverted and rec.noise_gain == 1.0 and rec.sigma is None
    assert np.array_equal(d, x[5].astype(np.float32))
    assert np.allclose(rec.to_image(d), x[5], atol=1e-6)
    assert np.allclose(rec.apply(x[5]), x[5], atol=1e-6)
    d, rec = normalize(1 - x[5])  # dark on light: inverted, and inverted back
    assert rec.inverted and np.allclose(d, x[5], atol=1e-6)
    assert np.allclose(rec.to_image(d), 1 - x[5], atol=1e-6)


def test_resamplingresample_weights():
    """Area averaging when reducing (weights of each output sum to 1, a whole factor f gives
    sum w^2 = 1 / f), Keys' cubic when enlarging (reproduces a linear ramp exactly)."""
    w = resample_weights(SIZE, 84, 1 / 3, 0.0)  # 84 input pixels -> 28, factor 3
    assert np.allclose(w.sum(1), 1) and np.allclose((w**2).sum(1), 1 / 3)
    assert np.array_equal(np.flatnonzero(w[0]), [0, 1, 2])
    up = resample_weights(100, SIZE, 100 / SIZE, 0.0)  # enlarging
    ramp = np.arange(SIZE) + 0.5
    inside = slice(8, 92)  # away from the ends, where the kernel runs off the input
    y = (np.arange(100) + 0.5) * SIZE / 100
    assert np.allclose((up @ ramp)[inside], y[inside], atol=1e-9)


def test_noise_gain_predicts_the_noise_after_resampling(digits):
    """White noise of std sigma in the picture comes out with std noise_gain * sigma in 28x28."""
    x, _ = digits
    rng = np.random.default_rng(2)
    for i, sigma in ((3, 0.1), (77, 0.2), (640, 0.15)):
        photo = synthetic_photo(x[i], rng)
        noise = sigma * rng.standard_normal(photo.clean.shape)
        noisy = photo.clean + noise  # float, not clipped: the plain Gaussian case
        _, rec = normalize(noisy)
        noise_28 = rec.apply(noisy) - rec.apply(photo.clean)
        inside = noise_28 != 0  # the 28x28 field may reach past the picture's edge: no noise there
        measured = np.std(noise_28[inside])
        assert measured == pytest.approx(rec.noise_gain * sigma, rel=0.06), (photo.clean.shape, rec.scale)
        assert rec.sigma_picture == pytest.approx(sigma, rel=0.05)
        assert rec.sigma == pytest.approx(rec.noise_gain * rec.sigma_picture)
        assert rec.noise_gain < 1  # reducing averages the noise away


def test_picture_sigma_accounts_for_clipping(digits):
    """Light paper near 1 with noise 0.2: a third of its pixels are clipped at 1, yet sigma is right."""
    x, _ = digits
    rng = np.random.default_rng(3)
    for i in (10, 500):
        photo = synthetic_photo(x[i], rng, noise=(0.2, 0.2), dark_ink=True)
        assert (photo.noisy == 1).mean() > 0.1
        _, rec = normalize(photo.noisy)
        assert rec.clipped and rec.quantized
        assert rec.sigma_picture == pytest.approx(photo.sigma, rel=0.05)


def test_synthetic_photos():
    x = load_sample()[0][0, 0].numpy()
    rng = np.random.default_rng(4)
    photos = [synthetic_photo(x, rng) for _ in range(10)]
    for p in photos:
        assert 60 <= min(p.noisy.shape) and max(p.noisy.shape) <= 400
        assert np.allclose(p.noisy * 255, np.round(p.noisy * 255), atol=1e-3)  # 8-bit values
        assert 0.05 <= p.sigma <= 0.2
    assert {p.dark_ink for p in photos} == {True, False}
    a = synthetic_photo(x, np.random.default_rng(9))
    b = synthetic_photo(x, np.random.default_rng(9))
    assert np.array_equal(a.noisy, b.noisy)  # seeded


# ---- refusals ---------------------------------------------------------------------------------
def paper(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Light paper with a gradient and noise, no ink: (h, w)."""
    rng = np.random.default_rng(seed)
    light = 0.85 + 0.1 * np.linspace(-1, 1, w)[None]
    return np.clip(light + 0.08 * rng.standard_normal((h, w)), 0, 1)


def test_blank_page_is_refused():
    with pytest.raises(DigitError, match=r"^page\.png: no ink found \(a blank page\?\)$"):
        normalize(paper(200, 300), source="page.png")
    with pytest.raises(DigitError, match="no ink"):
        normalize(np.full((50, 80), 0.5), source="grey")


def test_two_digits_are_refused_with_the_count(digits):
    x, labels = digits
    pic = paper(120, 260)
    for k, left in enumerate((20, 150)):  # two digits side by side, a gap of about 60 px
        d = x[k]
        big = np.kron(d, np.ones((3, 3)))  # (84, 84)
        pic[18:102, left : left + 84] -= 0.7 * big[:, :84]
    with pytest.raises(DigitError, match=r"two\.png: found 2 separate ink components; one digit per image"):
        normalize(np.clip(pic, 0, 1), source="two.png")


def test_too_small_is_refused():
    with pytest.raises(DigitError, match=r"tiny\.png: too small to hold a digit \(6x5 pixels"):
        normalize(np.zeros((5, 6)), source="tiny.png")
    pic = paper(200, 200)
    pic[100:104, 100:104] = 0.0  # a 4x4 dot of ink
    with pytest.raises(DigitError, match=r"dot\.png: the ink spans only 8x8 pixels, too small"):  # blurred
        normalize(pic, source="dot.png")


def test_ink_on_several_borders_is_refused():
    pic = paper(150, 150)
    pic[70:80, :] = 0.1  # a cross through the whole picture: ink on all four sides
    pic[:, 70:80] = 0.1
    with pytest.raises(DigitError, match=r"grid\.png: ink touches the border on 4 sides \(top, bottom, left"):
        normalize(pic, source="grid.png")
    pic = paper(150, 150)
    pic[70:80, 40:150] = 0.1  # one side only: fine (a note, not a refusal)
    pic[30:120, 40:50] = 0.1
    _, rec = normalize(pic, source="edge.png")
    assert rec.inverted


def test_noisy_photos_are_not_refused(digits):
    """The refusals must not hit real digits: broken strokes are parts of one digit."""
    x, _ = digits
    rng = np.random.default_rng(5)
    for i in range(1, 1000, 80):  # 13 digits, noisy and clipped
        normalize(synthetic_photo(x[i], rng).noisy)


def test_normalise_is_deterministic(digits):
    photo = synthetic_photo(digits[0][8], np.random.default_rng(6))
    a, ra = normalize(photo.noisy)
    b, rb = normalize(photo.noisy.copy())
    assert np.array_equal(a, b) and ra == rb
    assert torch.from_numpy(a).isfinite().all()
