"""Every shipped model loads offline, matches its recorded sha256 and still scores what
MODELS.md records on the bundled sample (a floor a little below the recorded figure), so a
broken or swapped weights file fails CI."""

import pytest
import torch

from tinyddpm.checkpoint import CheckpointError, load_model, pretrained, pretrained_path, registry, sha256_file
from tinyddpm.data import load_sample
from tinyddpm.evaluate import evaluate_denoiser, noisy_set
from tinyddpm.noise_level import estimate_sigma_learned

REQUIRED = ["ddpm", "classifier", "vae", "sigma_net", "supervised_0.2", "supervised_0.5"]
REG = registry()


def test_required_models_are_shipped():
    for name in REQUIRED:
        assert name in REG, f"{name} is not in weights/registry.json"
        assert pretrained_path(name).exists()


@pytest.mark.parametrize("name", sorted(REG))
def test_checksum(name):
    assert sha256_file(pretrained_path(name)) == REG[name]["sha256"]


@pytest.mark.parametrize("name", sorted(REG))
def test_recorded_scores_still_hold(name):
    model, schedule = pretrained(name)
    rec = REG[name]["sample_scores"]
    x, y = load_sample()
    if name == "ddpm":
        from tinyddpm.denoise import denoise

        got = evaluate_denoiser(lambda yy, s: denoise(yy, s, model=model, schedule=schedule), x, (0.2, 0.5))
        for s in ("0.2", "0.5"):
            assert got[s]["psnr"] > rec[f"psnr_posterior_mean@{s}"] - 0.1
    elif name == "classifier":
        with torch.no_grad():
            acc = float((model(x).argmax(1) == y).float().mean())
        assert acc > rec["accuracy_clean"] - 0.005
    elif name == "vae":
        from tinyddpm.metrics import psnr

        with torch.no_grad():
            assert float(psnr(model(x), x).mean()) > rec["psnr_clean"] - 0.1
    elif name == "sigma_net":
        est = estimate_sigma_learned(noisy_set(x, 0.3), model)
        assert float((est / 0.3 - 1).abs().median()) < rec["median_rel_err@0.3"] + 0.01
    elif name.startswith("supervised_"):
        from tinyddpm.supervised import supervised_denoise

        s0 = float(name.split("_")[1])
        got = evaluate_denoiser(lambda yy, s: supervised_denoise(model, yy, s0), x, (s0,))
        assert got[str(s0)]["psnr"] > rec[f"psnr@{s0}"] - 0.1
    else:
        pytest.fail(f"no score check for shipped model {name}")


def test_a_tampered_copy_is_refused(tmp_path):
    src = pretrained_path("ddpm")
    bad = tmp_path / "ddpm.safetensors"
    data = bytearray(src.read_bytes())
    data[-5] ^= 0xFF  # flip bits inside the last tensor
    bad.write_bytes(bytes(data))
    load_model(bad)  # still a valid file...
    with pytest.raises(CheckpointError, match="sha256"):
        load_model(bad, expected_sha256=REG["ddpm"]["sha256"])  # ...but not the shipped one


def test_unknown_name():
    with pytest.raises(KeyError):
        pretrained("gpt-5")
