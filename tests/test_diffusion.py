import math

import pytest
import torch

from tinyddpm import diffusion
from tinyddpm.schedules import NoiseSchedule


def test_iterated_chain_matches_closed_form():
    """t steps of q(x_t | x_{t-1}) give the distribution of q(x_t | x_0) (Eq. 4), per pixel."""
    s = NoiseSchedule.linear(300)
    g = torch.Generator().manual_seed(0)
    x0 = torch.linspace(-1, 1, 16, dtype=torch.float64).reshape(1, 1, 4, 4)
    n, t = 20000, 120
    x = x0.expand(n, -1, -1, -1).clone()
    for k in range(1, t + 1):
        x = diffusion.q_step(x, k, torch.randn(x.shape, generator=g, dtype=torch.float64), s)
    closed = diffusion.q_sample(
        x0.expand(n, -1, -1, -1), float(t), torch.randn(x.shape, generator=g, dtype=torch.float64), s
    )
    ab = float(s.alpha_bar[t])
    mean_true, var_true = math.sqrt(ab) * x0[0], 1 - ab
    se_mean = math.sqrt(var_true / n)
    se_var = var_true * math.sqrt(2 / (n - 1))
    for sample in (x, closed):  # both against the exact moments, 5 standard errors
        assert (sample.mean(0) - mean_true).abs().max() < 5 * se_mean
        assert (sample.var(0) - var_true).abs().max() < 5 * se_var


def test_q_sample_accepts_fractional_and_per_sample_t():
    s = NoiseSchedule.cosine(100)
    x0 = torch.ones(3, 1, 2, 2)
    noise = torch.zeros_like(x0)
    t = torch.tensor([0.0, 10.5, 100.0])
    out = diffusion.q_sample(x0, t, noise, s)
    assert torch.allclose(out[:, 0, 0, 0], s.alpha_bar_at(t).sqrt().float())


def test_predict_x0_inverts_q_sample():
    s = NoiseSchedule.linear(300)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(4, 1, 28, 28, generator=g) * 2 - 1
    noise = torch.randn(x0.shape, generator=g)
    t = torch.tensor([1.0, 17.3, 150.0, 299.9])
    x_t = diffusion.q_sample(x0, t, noise, s)
    assert torch.allclose(diffusion.predict_x0(x_t, t, noise, s), x0, atol=1e-4)
    assert torch.allclose(diffusion.eps_from_x0(x_t, t, x0, s), noise, atol=1e-4)


def test_q_posterior_unit_step_equals_eq7():
    s = NoiseSchedule.linear(300)
    x0, x_t = torch.randn(5, 1, 3, 3, dtype=torch.float64), torch.randn(5, 1, 3, 3, dtype=torch.float64)
    t = torch.tensor([1, 2, 50, 200, 300], dtype=torch.float64)
    mean, var = diffusion.q_posterior(x0, x_t, t, t - 1, s)
    i = t.long() - 1
    c1 = s.posterior_mean_coef1[i].reshape(-1, 1, 1, 1)
    c2 = s.posterior_mean_coef2[i].reshape(-1, 1, 1, 1)
    assert torch.allclose(mean, c1 * x0 + c2 * x_t)
    assert torch.allclose(var.flatten(), s.posterior_variance[i])


def test_q_posterior_is_the_gaussian_conditional():
    """For fixed x0, (x_s, x_t) is jointly Gaussian; check Eq. 7 against the conditioning formula."""
    s = NoiseSchedule.cosine(1000)
    t, u = 700.25, 123.5
    ab_t, ab_s = float(s.alpha_bar_at(t)), float(s.alpha_bar_at(u))
    cov = math.sqrt(ab_t / ab_s) * (1 - ab_s)  # Cov(x_s, x_t | x0)
    var_cond = (1 - ab_s) - cov**2 / (1 - ab_t)
    x0, x_t = torch.tensor([[[[0.3]]]], dtype=torch.float64), torch.tensor([[[[-0.7]]]], dtype=torch.float64)
    mean_cond = math.sqrt(ab_s) * 0.3 + cov / (1 - ab_t) * (-0.7 - math.sqrt(ab_t) * 0.3)
    mean, var = diffusion.q_posterior(x0, x_t, t, u, s)
    assert float(mean) == pytest.approx(mean_cond, rel=1e-10)
    assert float(var) == pytest.approx(var_cond, rel=1e-10)
    with pytest.raises(ValueError):
        diffusion.q_posterior(x0, x_t, u, t, s)


def test_loss_of_the_zero_model_is_the_noise_variance():
    s = NoiseSchedule.linear(300)
    g = torch.Generator().manual_seed(2)
    x0 = torch.rand(256, 1, 28, 28, generator=g)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.rand(256, generator=g) * 300
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    assert float(diffusion.loss(zero, x0, t, noise, s)) == pytest.approx(float((noise**2).mean()))
    oracle_x0 = lambda x, tt: diffusion.eps_from_x0(x, tt.double(), x0, s)  # noqa: E731  knows x0
    assert float(diffusion.loss(oracle_x0, x0, t, noise, s)) < 1e-6


def test_l2_loss_is_minimised_by_the_mean_l1_by_the_median():
    """A constant prediction c against skewed targets (Exp(1): mean 1, median ln 2): the L2 loss
    is lowest at the mean, the L1 loss (the student's) at the median."""
    s = NoiseSchedule.linear(300)
    g = torch.Generator().manual_seed(3)
    target = torch.empty(64, 1, 8, 8, dtype=torch.float64).exponential_(generator=g)
    x0, t = torch.zeros_like(target), torch.full((64,), 100.0)
    grid = torch.linspace(0.3, 1.5, 121, dtype=torch.float64)

    def best(norm: str) -> float:
        values = [
            float(diffusion.loss(lambda x, tt, c=c: torch.full_like(x, c), x0, t, target, s, norm=norm))
            for c in grid
        ]
        return float(grid[int(torch.tensor(values).argmin())])

    assert best("l2") == pytest.approx(float(target.mean()), abs=0.011)
    assert best("l1") == pytest.approx(float(target.median()), abs=0.011)
    assert abs(float(target.median()) - math.log(2)) < 0.05 and abs(float(target.mean()) - 1) < 0.05
    with pytest.raises(ValueError, match="norm"):
        diffusion.loss(lambda x, tt: x, x0, t, target, s, norm="l3")


def test_min_snr_weight_caps_the_snr_factor_at_gamma():
    """w * SNR = min(SNR, gamma) with SNR = 1 / s^2: weight 1 where SNR <= gamma, gamma / SNR above."""
    s = NoiseSchedule.cosine(1000)
    sig = torch.tensor([0.05, 0.1, 0.2, 0.4472, 0.5, 1.0, 3.0], dtype=torch.float64)  # model units
    t = s.t_from_sigma(sig)
    w = diffusion.min_snr_weight(t, s, gamma=5.0)
    snr = 1 / s.sigma_from_t(t) ** 2
    assert torch.allclose(w * snr, snr.clamp(max=5.0), rtol=1e-9)
    assert torch.equal(w[sig >= 0.5], torch.ones(3, dtype=torch.float64))
    assert float(w[0]) == pytest.approx(5 * 0.05**2, rel=1e-6)
    with pytest.raises(ValueError, match="gamma"):
        diffusion.min_snr_weight(t, s, gamma=0.0)


def test_weighted_loss_is_the_weighted_mean_of_per_image_losses():
    s = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(4)
    x0 = torch.rand(6, 1, 8, 8, generator=g)
    noise = torch.randn(x0.shape, generator=g)
    t = torch.rand(6, generator=g) * 1000
    half = lambda x, tt: 0.5 * torch.ones_like(x)  # noqa: E731
    per_image = ((0.5 - noise) ** 2).flatten(1).mean(1)  # (6,)
    w = torch.tensor([0.0, 1.0, 2.0, 0.5, 3.0, 1.0], dtype=torch.float64)
    got = diffusion.loss(half, x0, t, noise, s, weight=w)
    assert float(got) == pytest.approx(float((w.float() * per_image).mean()), rel=1e-6)
    ones = diffusion.loss(half, x0, t, noise, s, weight=torch.ones(6, dtype=torch.float64))
    assert float(ones) == pytest.approx(float(diffusion.loss(half, x0, t, noise, s)), rel=1e-7)


@pytest.mark.parametrize("t", [None, 120.0, 37.5])
def test_prior_kl_matches_torch_distributions(t):
    s = NoiseSchedule.linear(300)
    x0 = torch.rand(3, 1, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2 - 1
    ab = s.alpha_bar_at(float(s.T if t is None else t))
    q = torch.distributions.Normal(ab.sqrt() * x0, (1 - ab).sqrt())
    p = torch.distributions.Normal(torch.zeros_like(x0), torch.ones_like(x0))
    expected = torch.distributions.kl_divergence(q, p).flatten(1).sum(1)
    assert torch.allclose(diffusion.prior_kl(x0, s, t), expected, rtol=1e-10)


def test_prior_kl_is_tiny_only_when_the_chain_ends_in_noise():
    x0 = -torch.ones(2, 1, 28, 28)  # a black image in model units
    assert float(diffusion.prior_kl(x0, NoiseSchedule.cosine(1000)).max()) < 1e-5
    # linear T = 300: the mean sqrt(ab_T) x0 alone costs 784 * ab_T / 2 nats
    kl = diffusion.prior_kl(x0, NoiseSchedule.linear(300))
    assert float(kl.min()) > 784 * 0.048 / 2
