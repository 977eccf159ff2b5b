import pytest
import torch

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
    from tinyddpm.noise_level import SigmaNet, SigmaNetConfig, estimate_sigma_learned

    torch.manual_seed(0)
    model = SigmaNet(SigmaNetConfig(channels=8, depth=2)).eval()
    y = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    whole = estimate_sigma_learned(y, model, batch_size=1000)
    assert whole.shape == (10,)
    assert torch.allclose(estimate_sigma_learned(y, model, batch_size=3), whole, rtol=1e-5, atol=0)
    assert torch.allclose(whole[4], estimate_sigma_learned(y[4:5], model)[0], rtol=1e-5, atol=0)
