import json
import math

import pytest
import torch

from tinyddpm.schedules import NoiseSchedule, cosine_betas, linear_betas


@pytest.fixture(params=["linear300", "linear1000", "cosine1000", "cosine50"])
def schedule(request) -> NoiseSchedule:
    kind, T = request.param[:6], int(request.param[6:])
    return NoiseSchedule.linear(T) if kind == "linear" else NoiseSchedule.cosine(T)


def test_linear_betas_match_the_paper():
    b = linear_betas(1000)
    assert float(b[0]) == pytest.approx(1e-4) and float(b[-1]) == pytest.approx(0.02)
    assert torch.allclose(b[1:] - b[:-1], torch.full((999,), (0.02 - 1e-4) / 999, dtype=torch.float64))


def test_linear_T300_never_reaches_pure_noise():
    ab_T = float(NoiseSchedule.linear(300).alpha_bar[-1])
    # prod (1 - beta_t) with beta linear in [1e-4, 0.02]: about exp(-sum beta) = exp(-3.015)
    assert ab_T == pytest.approx(0.048, abs=0.002)
    assert ab_T == pytest.approx(math.prod(1 - b for b in linear_betas(300).tolist()), rel=1e-12)


def test_cosine_reaches_pure_noise_and_matches_closed_form():
    s = NoiseSchedule.cosine(1000)
    assert float(s.alpha_bar[-1]) < 1e-3
    f = lambda t: math.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2  # noqa: E731
    for t in (1, 10, 500, 900):
        assert float(s.alpha_bar[t]) == pytest.approx(f(t) / f(0), rel=1e-9)
    assert float(cosine_betas(1000).max()) <= 0.999


def test_alpha_bar_is_cumulative_product(schedule):
    ab = schedule.alpha_bar
    assert ab.shape == (schedule.T + 1,) and float(ab[0]) == 1.0
    assert torch.allclose(ab[1:], torch.cumprod(1 - schedule.betas, 0))
    assert bool((ab[1:] < ab[:-1]).all())


def test_posterior_coefficients_identities(schedule):
    ab, beta = schedule.alpha_bar, schedule.betas
    # Eq. 7: beta_tilde = (1 - ab_{t-1}) / (1 - ab_t) beta_t, never larger than beta_t
    assert torch.allclose(schedule.posterior_variance, (1 - ab[:-1]) / (1 - ab[1:]) * beta)
    assert bool((schedule.posterior_variance <= beta + 1e-15).all())
    # a noise-free x_t = sqrt(ab_t) x0 must map to mean sqrt(ab_{t-1}) x0
    lhs = schedule.posterior_mean_coef1 + schedule.posterior_mean_coef2 * ab[1:].sqrt()
    assert torch.allclose(lhs, ab[:-1].sqrt(), atol=1e-12)
    # at t = 1 the posterior is exact: mean x0, variance 0
    assert float(schedule.posterior_mean_coef1[0]) == pytest.approx(1.0)
    assert float(schedule.posterior_variance[0]) == 0.0


def test_alpha_bar_at_interpolates_and_hits_the_grid(schedule):
    ts = torch.arange(schedule.T + 1, dtype=torch.float64)
    assert torch.equal(schedule.alpha_bar_at(ts), schedule.alpha_bar)
    t = torch.tensor([0.25, 1.5, schedule.T - 0.5], dtype=torch.float64)
    lo = t.floor().long()
    w = t - lo
    expect = schedule.alpha_bar[lo] * (1 - w) + schedule.alpha_bar[lo + 1] * w
    assert torch.allclose(schedule.alpha_bar_at(t), expect)
    with pytest.raises(ValueError):
        schedule.alpha_bar_at(-0.1)
    with pytest.raises(ValueError):
        schedule.alpha_bar_at(schedule.T + 0.1)


def test_sigma_t_round_trips(schedule):
    sig = torch.logspace(-3, math.log10(schedule.max_sigma) - 1e-9, 200, dtype=torch.float64)
    t = schedule.t_from_sigma(sig)
    assert bool((t[1:] > t[:-1]).all()), "t* must increase with sigma"
    assert torch.allclose(schedule.sigma_from_t(t), sig, rtol=1e-9)
    grid = torch.arange(1, schedule.T + 1, dtype=torch.float64)
    assert torch.allclose(schedule.t_from_sigma(schedule.sigma_from_t(grid)), grid, atol=1e-6)
    assert float(schedule.t_from_sigma(0.0)) == 0.0


def test_fractional_steps_between_grid_points():
    s = NoiseSchedule.linear(300)
    lo, hi = s.sigma_from_t(40.0), s.sigma_from_t(41.0)
    mid = float((lo + hi) / 2)
    t = float(s.t_from_sigma(mid))
    assert 40 < t < 41
    assert float(s.sigma_from_t(t)) == pytest.approx(mid, rel=1e-12)


def test_bad_sigma_and_bad_schedules_are_refused():
    s = NoiseSchedule.linear(300)
    with pytest.raises(ValueError, match="above the largest"):
        s.t_from_sigma(s.max_sigma * 1.01)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            s.t_from_sigma(bad)
    with pytest.raises(ValueError):
        NoiseSchedule("linear", 3, torch.tensor([0.1, 1.5, 0.2]))
    with pytest.raises(ValueError):
        NoiseSchedule("linear", 0, torch.zeros(0))
    with pytest.raises(ValueError):
        NoiseSchedule.from_config({"kind": "sigmoid", "T": 10})


def test_config_round_trip(schedule):
    again = NoiseSchedule.from_config(schedule.config())
    assert again.kind == schedule.kind and torch.equal(again.betas, schedule.betas)


@pytest.mark.parametrize(
    "built, params",
    [
        (NoiseSchedule.cosine(500, s=0.02), {"kind": "cosine", "T": 500, "s": 0.02}),
        (
            NoiseSchedule.linear(300, beta_1=2e-4, beta_T=0.03),
            {"kind": "linear", "T": 300, "beta_1": 2e-4, "beta_T": 0.03},
        ),
    ],
)
def test_config_round_trip_keeps_non_default_parameters(built, params):
    """A checkpoint stores ``config()`` as JSON: every parameter must survive (the cosine ``s`` did not)."""
    config = json.loads(json.dumps(built.config()))
    numbers = {k: v for k, v in params.items() if not isinstance(v, str)}
    assert {k: config[k] for k in numbers} == pytest.approx(numbers, rel=1e-12)
    assert all(config[k] == v for k, v in params.items() if isinstance(v, str))
    again = NoiseSchedule.from_config(config)
    assert (again.kind, again.T) == (built.kind, built.T) and torch.equal(again.betas, built.betas)
    assert again.config() == built.config()
    if built.kind == "cosine":
        assert again.s == 0.02
        assert not torch.equal(again.betas, NoiseSchedule.cosine(500).betas)  # s changes the betas
    else:
        assert float(again.betas[0]) == pytest.approx(2e-4, rel=1e-12)
        assert float(again.betas[-1]) == pytest.approx(0.03, rel=1e-12)


def test_unknown_schedule_config_key_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'offset'"):
        NoiseSchedule.from_config({"kind": "cosine", "T": 10, "offset": 0.02})
    with pytest.raises(TypeError, match="ScheduleConfig.T"):
        NoiseSchedule.from_config({"kind": "cosine", "T": "ten"})
