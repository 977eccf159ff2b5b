"""The student's recipe (tinyddpm.harness.student): schedule indexing, the chain against an exact oracle,
the L1 loss, seeded training, and the weights round trip."""

import math

import pytest
import torch

from tinyddpm.checkpoint import load_model, save_model
from tinyddpm.data import load_sample
from tinyddpm.harness.student import (
    StepCNN,
    StudentUNet,
    StudentUNetConfig,
    by_eye_step,
    equivalent_step,
    from_student,
    matched_posterior_mean,
    schedule,
    step_sigma,
    student_chain,
    student_loss,
    to_student,
    train_student,
)

TINY = StudentUNetConfig(channels=(4, 8, 8), time_dim=8)


def test_student_step_s_is_schedule_index_s_plus_one():
    sched = schedule()
    betas = torch.linspace(1e-4, 0.02, 300, dtype=torch.float64)
    assert sched.T == 300
    assert float(sched.alpha_bar[300]) == pytest.approx(float(torch.prod(1 - betas)), rel=1e-12)
    assert float(sched.alpha_bar[1]) == pytest.approx(1 - 1e-4, rel=1e-12)  # student step 0
    s = torch.tensor([0, 99, 299])
    ab = torch.cumprod(1 - betas, 0)[s]
    assert torch.allclose(step_sigma(s), ((1 - ab) / ab).sqrt() / 2, rtol=1e-12)


def test_chain_with_the_exact_noise_of_a_point_mass_returns_that_point():
    """Data = one image x0: eps(x_s, s) = (x_s - sqrt(ab_s) x0) / sqrt(1 - ab_s) is the exact
    predictor, and the last unit step lands on x0 from any start and any x."""
    x0 = torch.rand(3, 1, 32, 32) * 1.6 - 0.8
    ab = schedule().alpha_bar[1:].float()

    def oracle(x, s):
        a = ab[s][:, None, None, None]
        return (x - a.sqrt() * x0) / (1 - a).sqrt()

    for start in (0, 10, 150, 299):
        out, shots = student_chain(
            oracle, torch.randn(3, 1, 32, 32), start, schedule(), torch.Generator(), snapshots=5
        )
        # float32, as the student's code: 1 - ab_0 = 1e-4 carries a relative rounding error ~1e-3
        assert torch.allclose(out, x0, atol=2e-3), start
        assert len(shots) == min(5, start + 1) and shots[-1].shape == (1, 1, 32, 32)


def test_l1_loss_is_zero_for_the_exact_predictor_and_mean_abs_noise_for_zero():
    x0 = torch.rand(64, 1, 32, 32) * 2 - 1
    s = torch.randint(0, 300, (64,))
    noise = torch.randn(64, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    ab = schedule().alpha_bar[s + 1].float()[:, None, None, None]

    def exact(x, _s):
        return (x - ab.sqrt() * x0) / (1 - ab).sqrt()

    assert float(student_loss(exact, x0, s, noise, schedule())) < 1e-4
    zero = float(student_loss(lambda x, _s: torch.zeros_like(x), x0, s, noise, schedule()))
    assert zero == pytest.approx(math.sqrt(2 / math.pi), rel=0.02)  # E|N(0, 1)|


def test_resize_round_trip_keeps_range_and_shape():
    x = load_sample()[0][:4]
    up = to_student(x)
    assert up.shape == (4, 1, 32, 32) and up.min() >= -1 and up.max() <= 1
    back = from_student(up)
    assert back.shape == x.shape and float((back - x).abs().mean()) < 0.05


def test_training_is_seeded_and_learns_and_the_weights_round_trip(tmp_path):
    images = (torch.rand(256, 28, 28) * 255).to(torch.uint8)
    a, info = train_student(images, steps=3, flips=True, config=TINY, batch_size=32)
    b, _ = train_student(images, steps=3, flips=True, config=TINY, batch_size=32)
    assert info["steps"] == 3 and all(
        torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values())
    )
    with pytest.raises(ValueError, match="exactly one"):
        train_student(images, config=TINY)
    path = tmp_path / "s.safetensors"
    save_model(path, a, schedule=schedule(), info=info)
    again, sched, stored = load_model(path)
    x, s = torch.randn(2, 1, 32, 32), torch.tensor([3, 200])
    assert isinstance(again, StudentUNet) and sched.T == 300 and stored["flips"] is True
    assert torch.equal(again(x, s), a(x, s))


def test_step_cnn_has_the_students_shape():
    net = StepCNN()
    assert net(torch.zeros(2, 1, 32, 32)).shape == (2, 300)
    linears = [m.out_features for m in net.modules() if isinstance(m, torch.nn.Linear)]
    convs = [m.out_channels for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert linears == [1024, 512, 256, 300] and convs == [36, 72, 144]


def test_matched_posterior_mean_with_the_exact_predictor_is_exact_and_steps_match_sigma():
    sched = schedule()
    x0 = torch.rand(2, 1, 32, 32) * 1.6 - 0.8

    def oracle(x, s):  # s continuous: the schedule's index is s + 1
        ab = sched.alpha_bar_at(s.double() + 1).float()[:, None, None, None]
        return (x - ab.sqrt() * x0) / (1 - ab).sqrt()

    for sigma in (0.1, 0.5):
        y = x0 + 2 * sigma * torch.randn(2, 1, 32, 32)
        assert torch.allclose(matched_posterior_mean(oracle, y, sigma), x0, atol=1e-4)
        s = equivalent_step(sigma)
        ab = float(sched.alpha_bar_at(torch.tensor(s + 1.0)))
        assert math.sqrt((1 - ab) / ab) == pytest.approx(2 * sigma, rel=1e-6)
    ab = sched.alpha_bar[1:]
    assert by_eye_step(0.3) == int(torch.argmin(((1 - ab).sqrt() - 0.6).abs())) and by_eye_step(0.5) == 299
    assert by_eye_step(0.3) > equivalent_step(0.3)  # the eye ignores the sqrt(ab) scaling: too late
