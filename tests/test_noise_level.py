import pytest
import torch

from tinyddpm.clipping import censored_sigma, detect_clipping, truncated_normal_mean, unclip
from tinyddpm.data import add_noise, load_sample
from tinyddpm.noise_level import estimate_sigma, estimate_sigma_mad


def test_pure_noise_is_estimated_without_bias():
    g = torch.Generator().manual_seed(0)
    for sigma in (0.01, 0.1, 1.0):
        e = estimate_sigma_mad(sigma * torch.randn(64, 1, 28, 28, generator=g))
        assert float(e.median()) == pytest.approx(sigma, rel=0.03)


def test_locally_linear_images_do_not_count_as_noise():
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 28), torch.linspace(0, 1, 28), indexing="ij")
    ramp = (0.3 * xx + 0.5 * yy)[None, None]
    assert float(estimate_sigma_mad(ramp)) < 1e-5


@pytest.mark.parametrize("sigma, tol", [(0.1, 0.2), (0.2, 0.1), (0.5, 0.1), (1.0, 0.1)])
def test_mnist_digits(sigma, tol):
    x, _ = load_sample()
    e = estimate_sigma(add_noise(x, sigma, generator=torch.Generator().manual_seed(1)))
    rel = (e / sigma - 1).abs()
    assert float(rel.median()) < tol


def test_bad_shapes():
    with pytest.raises(ValueError):
        estimate_sigma_mad(torch.zeros(28, 28))
    with pytest.raises(ValueError):
        estimate_sigma_mad(torch.zeros(1, 1, 2, 2))


def test_learned_estimate_does_not_depend_on_batching():
    from tinyddpm.noise_level import estimate_sigma_learned
    from tinyddpm.sigma_net import SigmaNet, SigmaNetConfig

    torch.manual_seed(0)
    model = SigmaNet(SigmaNetConfig(channels=8, depth=2)).eval()
    y = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    whole = estimate_sigma_learned(y, model, batch_size=1000)
    assert whole.shape == (10,)
    assert torch.allclose(estimate_sigma_learned(y, model, batch_size=3), whole, rtol=1e-5, atol=0)
    assert torch.allclose(whole[4], estimate_sigma_learned(y[4:5], model)[0], rtol=1e-5, atol=0)


# ---- clipped and quantised inputs ---------------------------------------------------------------
def quantize(y):
    """What an 8-bit file holds: clipped to [0, 1], rounded to k / 255."""
    return torch.round(y.clamp(0, 1) * 255) / 255


def test_detect_clipping():
    x, _ = load_sample()
    y = add_noise(x[:8], 0.2, generator=torch.Generator().manual_seed(0))
    c = detect_clipping(y)  # Gaussian noise, not clipped: values below 0 and above 1
    assert not bool(c.any.any()) and float(c.step.max()) == 0
    c = detect_clipping(y.clamp(0, 1))
    assert bool(c.low.all()) and bool(c.high.all()) and float(c.step.max()) == 0
    assert torch.equal(c.lower, torch.zeros(8, dtype=torch.float64))
    c = detect_clipping(quantize(y))
    assert bool(c.any.all()) and torch.allclose(c.step, torch.full((8,), 1 / 255, dtype=torch.float64))
    assert torch.allclose(c.lower, torch.full((8,), 0.5 / 255, dtype=torch.float64))
    ramp = torch.linspace(0.01, 0.99, 784).reshape(1, 1, 28, 28)  # in [0, 1], no mass at 0 or 1
    assert not bool(detect_clipping(ramp).any[0])


def test_truncated_normal_mean_golden():
    """E[Y | Y <= c] and E[Y | Y >= c] against numerical integration."""
    mu, s = torch.tensor(0.3, dtype=torch.float64), torch.tensor(0.2, dtype=torch.float64)
    lo, hi = torch.tensor(0.1, dtype=torch.float64), torch.tensor(0.8, dtype=torch.float64)
    below, above = truncated_normal_mean(mu, s, lo, hi)
    t = torch.linspace(-3, 3, 600_001, dtype=torch.float64)
    dens = torch.exp(-0.5 * ((t - mu) / s) ** 2)
    for value, keep in ((below, t <= lo), (above, t >= hi)):
        assert float(value) == pytest.approx(float((t * dens)[keep].sum() / dens[keep].sum()), abs=2e-5)
    far_lo, far_hi = truncated_normal_mean(mu, s, torch.tensor(-40.0), torch.tensor(40.0))  # no overflow
    assert torch.isfinite(far_lo) and torch.isfinite(far_hi) and float(far_hi) > 40


def test_censored_sigma_is_the_maximum_likelihood():
    """EM's answer maximises the censored likelihood (a grid search agrees) and recovers sigma."""
    g = torch.Generator().manual_seed(0)
    mu, sigma, lo, hi = 0.1, 0.3, 0.0, 0.45
    y = (mu + sigma * torch.randn(1, 20000, generator=g, dtype=torch.float64)).clamp(lo, hi)
    est = censored_sigma(y, torch.ones_like(y), torch.tensor([mu]), torch.tensor(lo), torch.tensor(hi))
    assert float(est[0]) == pytest.approx(sigma, rel=0.02)

    def loglik(s: float) -> float:
        n = torch.distributions.Normal(torch.tensor(mu, dtype=torch.float64), torch.tensor(s))
        mid = y[(y > lo) & (y < hi)]
        return float(
            n.log_prob(mid).sum()
            + (y <= lo).sum() * torch.log(n.cdf(torch.tensor(lo)))
            + (y >= hi).sum() * torch.log(1 - n.cdf(torch.tensor(hi)))
        )

    s = float(est[0])
    assert all(loglik(s) > loglik(s + d) for d in (-1e-3, -1e-4, 1e-4, 1e-3))  # a maximum
    naive = float(y.std())
    assert naive < 0.8 * sigma  # what ignoring the censoring would say


def test_censored_sigma_on_8bit_digits():
    """Noisy bundled digits saved as 8-bit values: sigma within a few percent despite the clipping."""
    x, _ = load_sample()
    for sigma in (0.05, 0.1, 0.3):
        y = quantize(add_noise(x[::5], sigma, generator=torch.Generator().manual_seed(2)))  # 200 digits
        ratio = estimate_sigma(y) / sigma  # "auto": these are clipped, so the censored fit
        assert float(ratio.median()) == pytest.approx(1.0, abs=0.03), sigma
        assert float((ratio - 1).abs().quantile(0.9)) < 0.15, sigma
        learned = estimate_sigma(y, method="learned") / sigma  # what "auto" used to say
        assert float((learned.median() - 1).abs()) > float((ratio.median() - 1).abs())


def test_unclip_restores_the_mean_of_clipped_noise():
    """Background clipped at 0 keeps max(0, sigma n), mean 0.4 sigma; unclipped, its mean is 0 again."""
    g = torch.Generator().manual_seed(3)
    sigma = 0.2
    y = quantize(sigma * torch.randn(4, 1, 28, 28, generator=g))
    assert float(y.mean()) == pytest.approx(sigma / (2 * torch.pi) ** 0.5, rel=0.1)
    u = unclip(y, sigma)
    assert abs(float(u.mean())) < 0.01 and float(u.min()) < 0
    z = torch.rand(2, 1, 28, 28, generator=g) * 0.8 + 0.1  # not clipped: unchanged
    assert torch.equal(unclip(z, 0.1), z)
