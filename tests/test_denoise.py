"""denoise() against the exact Gaussian posterior, every accepted input kind, and bad input."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from tinyddpm.data import load_sample
from tinyddpm.denoise import denoise, start_step
from tinyddpm.harness.analytic import GaussianEps, gaussian_posterior
from tinyddpm.noise_level import estimate_sigma
from tinyddpm.schedules import NoiseSchedule

MU, S = 0.0, 0.3  # model units: pixels around 0.5


@pytest.fixture(scope="module")
def gauss():
    sched = NoiseSchedule.cosine(1000)
    return GaussianEps(sched, MU, S), sched


def noisy_gaussian(n: int, sigma_pix: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    x0 = MU + S * torch.randn(n, 1, 28, 28, generator=g)
    y = x0 + 2 * sigma_pix * torch.randn(x0.shape, generator=g)
    return (y + 1) / 2  # pixel units, not clipped


@pytest.mark.parametrize("kind", ["cosine", "linear"])
@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.137, 0.3, 0.55])
def test_posterior_mean_is_the_exact_posterior_mean(kind, sigma):
    sched = NoiseSchedule.cosine(1000) if kind == "cosine" else NoiseSchedule.linear(300)
    model = GaussianEps(sched, MU, S)
    y = noisy_gaussian(8, sigma, 0)
    out = denoise(y, sigma, model=model, schedule=sched, clip=False)
    expect, _ = gaussian_posterior(2 * y - 1, 2 * sigma, MU, S)
    assert (2 * out - 1 - expect).abs().max() < 1e-3


def test_sigmas_between_grid_steps_are_matched_not_rounded(gauss):
    model, sched = gauss
    t_lo = 200.0
    sigma = float(sched.sigma_from_t(t_lo + 0.5)) / 2
    assert start_step(sigma, sched).item() == pytest.approx(t_lo + 0.5, abs=1e-6)
    y = noisy_gaussian(4, sigma, 1)
    exact = denoise(y, sigma, model=model, schedule=sched, clip=False)
    rounded = denoise(y, float(sched.sigma_from_t(t_lo)) / 2, model=model, schedule=sched, clip=False)
    expect, _ = gaussian_posterior(2 * y - 1, 2 * sigma, MU, S)
    assert (2 * exact - 1 - expect).abs().max() < 1e-3
    assert (2 * rounded - 1 - expect).abs().max() > 1e-3  # rounding t* would miss


def test_ancestral_samples_have_the_posterior_variance(gauss):
    model, sched = gauss
    sigma = 0.25
    y = noisy_gaussian(64, sigma, 2)
    out = 2 * denoise(y, sigma, method="ancestral", model=model, schedule=sched, clip=False, seed=0) - 1
    mean, var = gaussian_posterior(2 * y - 1, 2 * sigma, MU, S)
    resid = out - mean
    n = resid.numel()
    assert abs(float(resid.mean())) < 5 * math.sqrt(var / n)
    assert float(resid.var()) == pytest.approx(var, rel=0.03)  # discretisation < 1 %, sampling ~0.6 %


def test_average_of_samples_approaches_the_posterior_mean(gauss):
    model, sched = gauss
    sigma = 0.25
    y = noisy_gaussian(16, sigma, 3)
    mean, var = gaussian_posterior(2 * y - 1, 2 * sigma, MU, S)
    k = 8
    avg = (
        2 * denoise(y, sigma, method="average", samples=k, model=model, schedule=sched, clip=False, seed=0)
        - 1
    )
    # the average of k samples has variance var / k around the posterior mean
    assert float((avg - mean).var()) == pytest.approx(var / k, rel=0.1)


def test_perception_distortion_factor_two(gauss):
    """A posterior sample's MSE is twice the posterior mean's (the book's 3 dB)."""
    model, sched = gauss
    g = torch.Generator().manual_seed(4)
    sigma = 0.3
    x0 = MU + S * torch.randn(64, 1, 28, 28, generator=g)
    y = (x0 + 2 * sigma * torch.randn(x0.shape, generator=g) + 1) / 2
    pm = 2 * denoise(y, sigma, model=model, schedule=sched, clip=False) - 1
    smp = 2 * denoise(y, sigma, method="ancestral", model=model, schedule=sched, clip=False, seed=1) - 1
    ratio = float(((smp - x0) ** 2).mean() / ((pm - x0) ** 2).mean())
    assert ratio == pytest.approx(2.0, rel=0.05)


def test_per_image_sigma_equals_separate_calls(gauss):
    model, sched = gauss
    y = noisy_gaussian(3, 0.2, 5)
    sig = [0.1, 0.2, 0.4]
    for method in ("posterior_mean", "ddim", "ancestral"):
        joint = denoise(y, sig, method=method, model=model, schedule=sched, seed=7)
        for i in range(3):
            alone = denoise(y[i : i + 1], sig[i], method=method, model=model, schedule=sched, seed=7)
            # deterministic methods match for every image; a sampler's noise is tied to the
            # image's position in the batch (seed, index), so position 0 matches
            if method != "ancestral" or i == 0:
                assert torch.allclose(joint[i], alone[0], atol=1e-5)


def test_results_do_not_depend_on_batch_size(gauss):
    model, sched = gauss
    y = noisy_gaussian(10, 0.2, 6)
    for method in ("ancestral", "ddim"):
        a = denoise(
            y, 0.2, method=method, model=model, schedule=sched, seed=3, eta=0.5 if method == "ddim" else 0.0
        )
        b = denoise(
            y,
            0.2,
            method=method,
            model=model,
            schedule=sched,
            seed=3,
            batch_size=3,
            eta=0.5 if method == "ddim" else 0.0,
        )
        assert torch.allclose(a, b, atol=1e-6)
        c = denoise(
            y, 0.2, method=method, model=model, schedule=sched, seed=4, eta=0.5 if method == "ddim" else 0.0
        )
        if method == "ancestral":
            assert not torch.allclose(a, c)


def test_accepted_input_kinds_keep_kind_and_shape(gauss):
    model, sched = gauss
    base = noisy_gaussian(2, 0.2, 7).clamp(0, 1)
    kw = {"model": model, "schedule": sched}
    cases = [
        base,
        base[0],
        base[0, 0],
        base.double(),
        base.numpy(),
        base[0, 0].numpy(),
        base[0].numpy().astype(np.float64),
    ]
    for x in cases:
        out = denoise(x, 0.2, **kw)
        assert type(out) is type(x) and tuple(out.shape) == tuple(x.shape) and out.dtype == x.dtype
        assert float(out.min()) >= 0 and float(out.max()) <= 1
    u8 = (base[0, 0].numpy() * 255).astype(np.uint8)
    assert denoise(u8, 0.2, **kw).dtype == np.float32
    pil = Image.fromarray(u8, mode="L")
    out = denoise(pil, 0.2, **kw)
    assert isinstance(out, Image.Image) and out.size == (28, 28) and out.mode == "L"
    assert isinstance(denoise(pil.convert("RGB"), 0.2, **kw), Image.Image)


def test_noisy_inputs_outside_the_unit_range_are_accepted(gauss):
    model, sched = gauss
    y = noisy_gaussian(2, 0.5, 8)
    assert float(y.min()) < 0 and float(y.max()) > 1
    out = denoise(y, 0.5, model=model, schedule=sched)
    assert out.shape == y.shape and float(out.min()) >= 0 and float(out.max()) <= 1


def test_auto_sigma_estimates_the_noise(gauss):
    """sigma="auto" denoises each image at its own estimated noise level, not at some default."""
    model, sched = gauss
    x = load_sample()[0][:16]
    y = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    est = estimate_sigma(y)
    assert est.shape == (16,) and float((est - 0.3).abs().max()) < 0.05, est  # each within 0.05 of 0.3
    out_auto = denoise(y, "auto", model=model, schedule=sched)
    assert torch.equal(out_auto, denoise(y, est, model=model, schedule=sched))
    # mean absolute pixel difference: small to the result at the true sigma, large to a wrong sigma's
    assert float((out_auto - denoise(y, 0.3, model=model, schedule=sched)).abs().mean()) < 0.02
    assert float((out_auto - denoise(y, 0.05, model=model, schedule=sched)).abs().mean()) > 0.2


@pytest.mark.parametrize(
    "bad, error",
    [
        (lambda: torch.zeros(2, 3, 28, 28), ValueError),
        (lambda: torch.zeros(28, 27), ValueError),
        (lambda: torch.zeros(1, 1, 1, 28, 28), ValueError),
        (lambda: torch.full((28, 28), float("nan")), ValueError),
        (lambda: torch.full((28, 28), float("inf")), ValueError),
        (lambda: [[0.0] * 28] * 28, TypeError),
        (lambda: np.zeros((28, 28), dtype=object), TypeError),
        (lambda: torch.zeros(28, 28, dtype=torch.complex64), TypeError),
        (lambda: Image.new("L", (30, 30)), ValueError),
    ],
)
def test_bad_images_are_refused(gauss, bad, error):
    model, sched = gauss
    with pytest.raises(error):
        denoise(bad(), 0.2, model=model, schedule=sched)


def test_bad_arguments_are_refused(gauss):
    model, sched = gauss
    x = torch.zeros(2, 1, 28, 28)
    kw = {"model": model, "schedule": sched}
    for sigma in (0.0, -0.1, float("nan"), float("inf"), [0.1], [0.1, 0.2, 0.3], "loud"):
        with pytest.raises(ValueError):
            denoise(x, sigma, **kw)
    with pytest.raises(ValueError, match="largest noise level"):  # linear T = 300 reaches 2.23
        denoise(
            x, 2.5, model=GaussianEps(NoiseSchedule.linear(300), 0, 1), schedule=NoiseSchedule.linear(300)
        )
    with pytest.raises(ValueError, match=r"0\.\.255 units that is 76/255"):  # a sigma in 8-bit units
        denoise(x, 76, **kw)
    with pytest.raises(ValueError, match="one network call"):  # an option the method would ignore
        denoise(x, 0.1, steps=10, **kw)
    with pytest.raises(ValueError, match="average"):
        denoise(x, 0.1, method="ddim", samples=4, **kw)
    with pytest.raises(ValueError, match="method"):
        denoise(x, 0.1, method="magic", **kw)
    with pytest.raises(ValueError):
        denoise(x, 0.1, model=model)
    with pytest.raises(ValueError):
        denoise(x, 0.1, method="ddim", steps=0, **kw)
    with pytest.raises(ValueError):
        denoise(x, 0.1, label=[1, 2, 3], **kw)


def test_empty_batch_returns_empty(gauss):
    model, sched = gauss
    out = denoise(torch.zeros(0, 1, 28, 28), 0.2, model=model, schedule=sched)
    assert out.shape == (0, 1, 28, 28)
