"""The one scorer (``score``), the evaluation protocol and the per-model scorer, on cases whose
answer is known in closed form."""

import math

import pytest
import torch

import tinyddpm
from tinyddpm.checkpoint import load_model, pretrained_path, registry
from tinyddpm.data import pixels
from tinyddpm.harness.evaluate import (
    MODEL_SCORERS,
    TEST_SIGMAS,
    bundled_test_indices,
    evaluate_denoiser,
    machine,
    model_kind,
    noisy_set,
    quantize_uint8,
    score,
    score_model,
    vae_reconstruction,
)

from .conftest import require_mnist


def digits_on_the_8bit_grid(n: int = 8, *, top: int = 255) -> torch.Tensor:
    """(n, 1, 28, 28) images with pixel values k / 255, k in [0, top]."""
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, top + 1, (n, 1, 28, 28), generator=g).float() / 255


@pytest.fixture(scope="module")
def sample():
    return tinyddpm.load_sample()


@pytest.fixture(scope="module")
def classifier():
    return tinyddpm.pretrained("classifier")[0]


def test_psnr_of_a_constant_offset_is_minus_20_log10_of_the_offset():
    x = digits_on_the_8bit_grid()
    for c in (0.1, 0.01, -0.05):
        s = score(x + c, x)
        assert s["psnr"] == pytest.approx(-20 * math.log10(abs(c)), abs=1e-3)
        assert s["psnr_pooled"] == pytest.approx(-20 * math.log10(abs(c)), abs=1e-3)
        assert s["mse"] == pytest.approx(c**2, rel=1e-4)  # float32 pixels
        assert s["images"] == len(x)


def test_pooled_psnr_is_the_psnr_of_the_mean_mse_not_the_mean_psnr():
    x = torch.zeros(2, 1, 28, 28)
    x_hat = torch.stack([torch.full((1, 28, 28), 0.1), torch.full((1, 28, 28), 0.01)])  # 20 dB, 40 dB
    s = score(x_hat, x)
    assert s["psnr"] == pytest.approx(30.0, abs=1e-3)
    assert s["psnr_pooled"] == pytest.approx(-10 * math.log10((0.01 + 0.0001) / 2), abs=1e-3)


def test_a_perfect_output_scores_ssim_1_and_the_psnr_cap():
    x = digits_on_the_8bit_grid()
    s = score(x.clone(), x)
    assert s["ssim"] == 1.0 and s["mse"] == 0.0
    assert s["psnr"] == s["psnr_pooled"] == s["psnr_pooled_uint8"] == 200.0  # MSE clamped at 1e-20
    assert "identity" not in s  # only with a classifier and labels


def test_uint8_quantisation_rounds_to_the_nearest_level_and_clips():
    x = digits_on_the_8bit_grid(top=254)  # no pixel at 1: every output below can round up
    assert torch.equal(quantize_uint8(x + 0.4 / 255), x)  # rounds back down
    assert torch.allclose(quantize_uint8(x + 0.6 / 255), x + 1 / 255)  # rounds up one level
    assert torch.equal(quantize_uint8(torch.tensor([-0.3, 1.7])), torch.tensor([0.0, 1.0]))
    s = score(x + 0.4 / 255, x)
    assert s["psnr_pooled"] == pytest.approx(20 * math.log10(255 / 0.4), abs=1e-3)
    assert s["psnr_pooled_uint8"] == 200.0  # quantising removes the sub-level error exactly
    s = score(x + 0.6 / 255, x)
    assert s["psnr_pooled_uint8"] == pytest.approx(20 * math.log10(255), abs=1e-3)  # one level off everywhere


def test_identity_of_clean_digits_is_near_1_and_of_noise_near_chance(sample, classifier):
    x, labels = sample
    assert torch.equal(torch.bincount(labels), torch.full((10,), 100))  # balanced: chance is exactly 0.1
    assert score(x, x, labels=labels, classifier=classifier)["identity"] >= 0.98
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0))  # no digit at all
    assert abs(score(noise, x, labels=labels, classifier=classifier)["identity"] - 0.1) < 0.05
    shuffled = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))]
    assert abs(score(x, x, labels=shuffled, classifier=classifier)["identity"] - 0.1) < 0.05


def test_evaluate_denoiser_protocol(sample):
    x = sample[0][:200]
    sigmas = (0.1, 0.3)
    ident = evaluate_denoiser(lambda y, s: y, x, sigmas)
    oracle = evaluate_denoiser(lambda y, s: x, x, sigmas)
    for s in sigmas:
        row = ident[str(s)]
        assert row["psnr"] == row["psnr_noisy"]
        # unclipped Gaussian noise: pooled MSE = sigma^2 up to sampling error (156,800 pixels)
        assert row["psnr_pooled"] == pytest.approx(-20 * math.log10(s), abs=0.05)
        assert oracle[str(s)]["psnr"] == 200.0
        assert set(row) >= {"psnr", "psnr_pooled", "psnr_pooled_uint8", "ssim", "mse", "psnr_noisy"}


def test_noisy_set_is_fixed_per_seed_and_not_clipped(sample):
    x = sample[0][:20]
    assert torch.equal(noisy_set(x, 0.3), noisy_set(x, 0.3))
    assert not torch.equal(noisy_set(x, 0.3), noisy_set(x, 0.3, seed=1))
    y = noisy_set(x, 0.3)
    assert y.min() < 0 and y.max() > 1


def test_vae_reconstruction_is_the_vae_forward_in_batches(sample):
    vae, _ = tinyddpm.pretrained("vae")
    x = sample[0][:50]
    rec = vae_reconstruction(vae, x, batch_size=7)
    with torch.no_grad():
        assert torch.allclose(rec, vae(x), atol=1e-6)
    assert not rec.requires_grad


def test_bundled_test_indices_point_at_the_bundled_digits(sample):
    idx = bundled_test_indices()
    assert idx.shape == (1000,) and idx.dtype == torch.int64 and len(idx.unique()) == 1000
    assert 0 <= int(idx.min()) and int(idx.max()) < 10000
    require_mnist()
    images, labels = tinyddpm.load_mnist(train=False)
    assert torch.equal(pixels(images[idx]), sample[0])
    assert torch.equal(labels[idx], sample[1])


def test_machine_records_threads_and_precision(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    m = machine()
    assert m["threads"] == torch.get_num_threads() and m["OMP_NUM_THREADS"] == "3"
    assert m["torch"] == torch.__version__ and m["default_dtype"] == "float32"
    assert m["precision"] in ("float32", "bfloat16")  # "auto": what the hardware offers
    assert machine(precision="fp32")["precision"] == "float32"
    assert machine(precision="bf16")["precision"] == "bfloat16"
    assert m["cores"] >= 1 and m["cpu"]


def test_every_shipped_model_has_a_scorer_and_unknown_models_fail():
    for name in registry():
        model, schedule, _ = load_model(pretrained_path(name))
        assert model_kind(model, schedule) in MODEL_SCORERS
    with pytest.raises(TypeError):
        score_model(torch.nn.Linear(2, 2))


def test_a_supervised_denoiser_needs_its_info():
    model, schedule, info = load_model(pretrained_path("supervised_0.2"))
    with pytest.raises(ValueError, match="info"):
        score_model(model, schedule=schedule)
    x, labels = tinyddpm.load_sample()
    got = score_model(model, x[:30], labels[:30], schedule=schedule, info=info)
    assert set(got) == {"psnr@0.2"}


def test_full_scores_have_the_tables_of_models_md(sample, classifier):
    x, labels = sample[0][:30], sample[1][:30]
    full = {
        name: score_model(name, x, labels, classifier=classifier, full=True)
        for name in ("ddpm", "classifier", "vae", "sigma_net", "supervised_0.5")
    }
    assert set(full["ddpm"]["posterior_mean"]) == {str(s) for s in TEST_SIGMAS}
    for row in full["ddpm"]["posterior_mean"].values():
        assert row["psnr"] > row["psnr_noisy"] and 0.5 < row["identity"] <= 1
    assert 0 < full["ddpm"]["alpha_bar_T"] < 1e-3
    assert set(full["classifier"]) == {"accuracy_clean"} | {f"accuracy_noisy@{s}" for s in TEST_SIGMAS}
    for s in TEST_SIGMAS:  # the VAE reconstructs clean digits better than noisy ones
        assert full["vae"][f"psnr_reconstruction@{s}"] < full["vae"]["psnr_clean"]
    assert full["sigma_net"]["digits"] == 30
    assert set(full["sigma_net"]["0.3"]) == {"learned", "mad", "skimage"}
    assert full["supervised_0.5"]["0.5"]["psnr"] > full["supervised_0.5"]["0.5"]["psnr_noisy"]
