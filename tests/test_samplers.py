"""Samplers against Gaussian data, where every step is a known linear-Gaussian map."""

import math

import pytest
import torch

from tinyddpm.harness.analytic import GaussianEps, gaussian_posterior
from tinyddpm.samplers import (
    ancestral_step,
    ancestral_timesteps,
    ddim_step,
    ddim_timesteps,
    guided_eps,
    sample,
    sample_loop,
    stack_timesteps,
)
from tinyddpm.schedules import NoiseSchedule

MU, S = 0.1, 0.3
N_IMG = 64  # 64 x 784 = 50,176 independent pixels per run


def exact_chain_moments(schedule, ts, m, v, *, eta=1.0, ancestral=True):
    """Propagate mean m and variance v of x_t through the sampler's linear-Gaussian steps."""
    for t, s in zip(ts, ts[1:]):
        ab_t, ab_s = float(schedule.alpha_bar_at(t)), float(schedule.alpha_bar_at(s))
        k = math.sqrt(ab_t) * S**2 / (ab_t * S**2 + 1 - ab_t)  # x0_hat = MU + k (x_t - sqrt(ab_t) MU)
        if ancestral:
            beta = 1 - ab_t / ab_s
            c1, c2 = math.sqrt(ab_s) * beta / (1 - ab_t), math.sqrt(ab_t / ab_s) * (1 - ab_s) / (1 - ab_t)
            a, b, var = c1 * k + c2, c1 * (MU - k * math.sqrt(ab_t) * MU), (1 - ab_s) / (1 - ab_t) * beta
        else:
            sig2 = eta**2 * (1 - ab_s) / (1 - ab_t) * (1 - ab_t / ab_s)
            d = math.sqrt(max(0.0, 1 - ab_s - sig2)) / math.sqrt(1 - ab_t)
            # x_s = sqrt(ab_s) x0_hat + d (x_t - sqrt(ab_t) x0_hat) + sigma z
            e = math.sqrt(ab_s) - d * math.sqrt(ab_t)
            a, b, var = e * k + d, e * (MU - k * math.sqrt(ab_t) * MU), sig2
        m, v = a * m + b, a * a * v + var
    return m, v


def check_moments(x, m, v):
    n = x.numel()
    assert abs(float(x.mean()) - m) < 5 * math.sqrt(v / n) + 1e-6
    assert abs(float(x.var()) - v) < 5 * v * math.sqrt(2 / n) + 1e-6


@pytest.mark.parametrize("kind", ["cosine", "linear"])
def test_ancestral_generation_follows_the_exact_chain_and_the_data(kind):
    sched = NoiseSchedule.cosine(1000) if kind == "cosine" else NoiseSchedule.linear(1000)
    model = GaussianEps(sched, MU, S)
    x = sample(
        model, sched, N_IMG, method="ancestral", steps=None, generator=torch.Generator().manual_seed(0)
    )
    m, v = exact_chain_moments(sched, ancestral_timesteps(1000.0), 0.0, 1.0)
    check_moments(x, m, v)
    # and the chain reproduces the data distribution N(MU, S^2) up to its discretisation (< 3 %)
    assert m == pytest.approx(MU, rel=0.03) and v == pytest.approx(S**2, rel=0.03)


def test_ddim_generation_follows_the_exact_map_and_converges_to_the_data():
    sched = NoiseSchedule.cosine(1000)
    model = GaussianEps(sched, MU, S)
    for steps, tol in ((20, None), (1000, 0.02)):
        x = sample(
            model, sched, N_IMG, method="ddim", steps=steps, generator=torch.Generator().manual_seed(1)
        )
        m, v = exact_chain_moments(sched, ddim_timesteps(1000.0, steps), 0.0, 1.0, eta=0.0, ancestral=False)
        check_moments(x, m, v)
        if tol:
            assert v == pytest.approx(S**2, rel=tol) and m == pytest.approx(MU, rel=tol)
    x = sample(
        model, sched, N_IMG, method="ddim", steps=30, eta=0.5, generator=torch.Generator().manual_seed(2)
    )
    check_moments(
        x, *exact_chain_moments(sched, ddim_timesteps(1000.0, 30), 0.0, 1.0, eta=0.5, ancestral=False)
    )


def test_ddim_with_eta_one_is_strided_ancestral():
    sched = NoiseSchedule.cosine(200)
    model = GaussianEps(sched, MU, S)
    x = torch.randn(4, 1, 5, 5, generator=torch.Generator().manual_seed(0))
    for t, s in ((150.0, 120.5), (40.25, 3.0), (1.0, 0.0)):
        a = ddim_step(
            model, x, t, s, sched, eta=1.0, generator=torch.Generator().manual_seed(9), clip_x0=False
        )
        b = ancestral_step(model, x, t, s, sched, generator=torch.Generator().manual_seed(9), clip_x0=False)
        assert torch.allclose(a, b, atol=1e-5)


def test_ancestral_from_a_fractional_step_has_the_posterior_moments():
    sched = NoiseSchedule.cosine(1000)
    model = GaussianEps(sched, MU, S)
    sigma_m = 0.4  # between grid steps
    t_star = float(sched.t_from_sigma(sigma_m))
    assert t_star != round(t_star)
    y = torch.full((N_IMG, 1, 28, 28), 0.5)
    ab = float(sched.alpha_bar_at(t_star))
    x = sample_loop(
        ancestral_step,
        model,
        math.sqrt(ab) * y,
        ancestral_timesteps(t_star),
        sched,
        generator=torch.Generator().manual_seed(3),
        clip_x0=False,
    )
    ts = ancestral_timesteps(t_star)
    m, v = exact_chain_moments(sched, ts, math.sqrt(ab) * 0.5, 0.0)
    check_moments(x, m, v)
    post_mean, post_var = gaussian_posterior(torch.tensor(0.5), sigma_m, MU, S)
    assert m == pytest.approx(float(post_mean), abs=1e-3)
    assert v == pytest.approx(post_var, rel=0.05)


def test_no_fresh_noise_collapses_to_a_single_point():
    sched = NoiseSchedule.cosine(300)
    model = GaussianEps(sched, MU, S)
    x_T = torch.randn(N_IMG, 1, 28, 28, generator=torch.Generator().manual_seed(4))
    x = sample_loop(
        ancestral_step, model, x_T, ancestral_timesteps(300.0), sched, add_noise=False, clip_x0=False
    )
    # without z every step shrinks towards the mean: far less spread than the data's S^2
    assert float(x.var()) < 0.2 * S**2


def test_timestep_lists():
    assert ancestral_timesteps(5.3) == [5.3, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0]
    assert ancestral_timesteps(3.0) == [3.0, 2.0, 1.0, 0.0]
    assert ancestral_timesteps(0.4) == [0.4, 0.0]
    assert ddim_timesteps(10.0, 4) == [10.0, 7.5, 5.0, 2.5, 0.0]
    table = stack_timesteps([[3.0, 2.0, 1.0, 0.0], [1.5, 1.0, 0.0]])
    assert table.shape == (4, 2) and math.isnan(float(table[0, 1])) and float(table[1, 1]) == 1.5
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError):
            ancestral_timesteps(bad)
    with pytest.raises(ValueError):
        ddim_timesteps(10.0, 0)


def test_sample_loop_refuses_bad_timesteps():
    sched = NoiseSchedule.cosine(50)
    model = GaussianEps(sched, MU, S)
    x = torch.zeros(2, 1, 4, 4)
    for ts in ([3.0, 4.0, 0.0], [3.0, 1.0], [60.0, 0.0], [1.0]):
        with pytest.raises(ValueError):
            sample_loop(ancestral_step, model, x, ts, sched)
    with pytest.raises(ValueError):
        ddim_step(model, x, 3.0, 2.0, sched, eta=1.5)


def test_per_image_starts_equal_separate_runs():
    sched = NoiseSchedule.cosine(100)
    model = GaussianEps(sched, MU, S)
    starts = [7.5, 3.25, 12.0]
    x = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(5))
    gens = [torch.Generator().manual_seed(10 + i) for i in range(3)]
    joint = sample_loop(
        ancestral_step,
        model,
        x,
        stack_timesteps([ancestral_timesteps(t) for t in starts]),
        sched,
        generator=gens,
    )
    for i, t in enumerate(starts):
        alone = sample_loop(
            ancestral_step,
            model,
            x[i : i + 1],
            ancestral_timesteps(t),
            sched,
            generator=[torch.Generator().manual_seed(10 + i)],
        )
        assert torch.allclose(joint[i], alone[0], atol=1e-6)


def test_same_generator_same_samples():
    sched = NoiseSchedule.cosine(100)
    model = GaussianEps(sched, MU, S)
    a = sample(model, sched, 4, method="ancestral", steps=None, generator=torch.Generator().manual_seed(0))
    b = sample(model, sched, 4, method="ancestral", steps=None, generator=torch.Generator().manual_seed(0))
    c = sample(model, sched, 4, method="ancestral", steps=None, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.dtype == torch.float32 and a.shape == (4, 1, 28, 28)


def test_classifier_free_guidance_combination():
    calls = []

    def model(x, t, y=None):
        calls.append(None if y is None else y.tolist())
        if y is None:
            return torch.zeros_like(x)
        return torch.where(y.reshape(-1, 1, 1, 1) < 0, torch.ones_like(x), 3 * torch.ones_like(x))

    x, t = torch.zeros(2, 1, 2, 2), torch.ones(2)
    assert float(guided_eps(model, x, t).sum()) == 0.0
    out = guided_eps(model, x, t, label=torch.tensor([1, 2]), guidance=2.0)
    assert torch.allclose(out, torch.full_like(x, 1 + 2 * (3 - 1)))  # eps_null + g (eps_y - eps_null)
    assert calls[-1] == [1, 2, -1, -1]
    assert torch.allclose(
        guided_eps(model, x, t, label=torch.tensor([1, 2]), guidance=1.0), torch.full_like(x, 3.0)
    )
