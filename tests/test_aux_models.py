"""The classifier, the VAE, the learned sigma estimator and the supervised reference denoiser:
each trains on real digits, round-trips through a weights file, and behaves."""

import math

import pytest
import torch

from tinyddpm.checkpoint import load_model, pretrained, registry, save_model
from tinyddpm.data import load_sample, pixels
from tinyddpm.harness.classifier import Classifier, random_shift, train_classifier
from tinyddpm.harness.sigma_trainer import train_sigma_net
from tinyddpm.harness.vae import VAE, VAEConfig, kl_to_prior, train_vae
from tinyddpm.noise_level import estimate_sigma, estimate_sigma_learned, estimate_sigma_mad
from tinyddpm.sigma_net import SigmaNet, SigmaNetConfig


@pytest.fixture(scope="module")
def digits():
    x, y = load_sample()
    return (x[:, 0] * 255).round().byte(), y


def test_classifier_learns_and_round_trips(digits, tmp_path):
    images, labels = digits
    model, info = train_classifier(images[:800], labels[:800], epochs=3, batch_size=64, progress=False)
    x = pixels(images[800:])
    acc = float((model(x).argmax(1) == labels[800:]).float().mean())
    assert acc > 0.5, acc  # 800 digits, 3 epochs: far above the 10 % of chance
    assert model.features(x).shape == (200, 128)
    save_model(tmp_path / "c.safetensors", model, info=info)
    again, schedule, info2 = load_model(tmp_path / "c.safetensors")
    assert isinstance(again, Classifier) and schedule is None and info2["epochs"] == 3
    assert torch.equal(again(x), model(x))


def test_random_shift_moves_content():
    x = torch.zeros(3, 1, 28, 28)
    x[:, :, 10:18, 10:18] = 1
    out = random_shift(x, 2, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)))


def test_vae_learns_and_reconstructs(digits, tmp_path):
    images, _ = digits
    torch.manual_seed(0)
    before = VAE(VAEConfig()).loss(pixels(images[:200])).item()
    model, info = train_vae(images, epochs=5, progress=False)
    x = pixels(images[:200])
    with torch.no_grad():
        assert model.loss(x, torch.Generator().manual_seed(0)).item() < 0.6 * before
        assert model(x).shape == x.shape
    save_model(tmp_path / "v.safetensors", model, info=info)
    assert isinstance(load_model(tmp_path / "v.safetensors")[0], VAE)


def test_sigma_net_learns_log_sigma(digits, tmp_path):
    images, _ = digits
    model, info = train_sigma_net(
        images, epochs=8, batch_size=32, config=SigmaNetConfig(channels=16, depth=3), progress=False
    )
    x = pixels(images[:100])
    g = torch.Generator().manual_seed(0)
    for sigma in (0.05, 0.3, 0.8):
        est = estimate_sigma_learned(x + sigma * torch.randn(x.shape, generator=g), model)
        assert float((est / sigma).log().abs().median()) < math.log(2), (sigma, float(est.median()))
    save_model(tmp_path / "s.safetensors", model, info=info)
    assert isinstance(load_model(tmp_path / "s.safetensors")[0], SigmaNet)


def test_estimator_choice(monkeypatch):
    """Each method= runs the estimator it names; "auto" is the shipped learned one, else MAD."""
    x = load_sample()[0][:64]
    y = x + 0.2 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    mad, learned = estimate_sigma(y, method="mad"), estimate_sigma(y, method="learned")
    assert torch.equal(mad, estimate_sigma_mad(y))
    assert torch.equal(learned, estimate_sigma_learned(y))
    assert torch.equal(learned, estimate_sigma_learned(y, pretrained("sigma_net")[0]))
    assert not torch.allclose(mad, learned)  # two different estimators, so the checks above tell them apart
    for est in (mad, learned):  # both estimate the known sigma
        assert float((est / 0.2 - 1).abs().median()) < 0.1, est
    assert "sigma_net" in registry()
    assert torch.equal(estimate_sigma(y), learned)
    assert torch.equal(estimate_sigma(y, method="auto"), learned)
    monkeypatch.setattr("tinyddpm.noise_level.registry", lambda: {})  # a package without the learned model
    assert torch.equal(estimate_sigma(y), mad)
    with pytest.raises(ValueError, match="guess"):
        estimate_sigma(x, method="guess")


def test_vae_kl_to_prior_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(4, 20, generator=g), torch.randn(4, 20, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    assert torch.allclose(kl_to_prior(mu, logvar), torch.distributions.kl_divergence(q, p).sum(1), rtol=1e-5)
    assert torch.equal(kl_to_prior(torch.zeros(2, 20), torch.zeros(2, 20)), torch.zeros(2))
