"""Devices: every tensor the samplers make lives on the model's device.

No GPU here, so the ``meta`` device stands in for one: a network built on it computes shapes
only, and any CPU tensor mixed into its chain raises "Tensor on device meta is not on the
expected device cpu". Before this test, ``samplers.sample`` built x_T on the CPU and the
posterior coefficients stayed there, so a CUDA model failed exactly like this. Where a GPU is
present, the same chain runs there too.
"""

from __future__ import annotations

import pytest
import torch

from tinyddpm.samplers import model_device, sample
from tinyddpm.schedules import NoiseSchedule
from tinyddpm.unet import UNet, UNetConfig

SMALL = UNetConfig(base_channels=16, channel_mults=(1, 2), num_res_blocks=1, groups=4)


def devices() -> list[str]:
    return ["meta"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("method", ["ddim", "ancestral"])
def test_sample_runs_on_the_models_device(device, method):
    with torch.device(device):
        model = UNet(SMALL).eval()
    assert model_device(model).type == device
    label = torch.tensor([1, 2, 3], device=device)
    x = sample(model, NoiseSchedule.cosine(20), 3, method=method, steps=3, eta=1.0, label=label, guidance=2.0)
    assert x.device.type == device and x.shape == (3, 1, 28, 28)


def test_sample_on_an_explicit_device_needs_the_model_there():
    with torch.device("meta"):
        model = UNet(SMALL).eval()
    x = sample(model, NoiseSchedule.cosine(20), 2, steps=2, device="meta", precision="fp32")
    assert x.device.type == "meta"


def test_generate_takes_a_device_and_returns_its_results_there():
    import tinyddpm

    with torch.device("meta"):
        model = UNet(SMALL).eval()
    x = tinyddpm.generate(3, label=7, steps=2, model=model, schedule=NoiseSchedule.cosine(20), device="meta")
    assert x.device.type == "meta" and x.shape == (3, 1, 28, 28)
    with pytest.raises(ValueError, match="move it first"):
        tinyddpm.generate(
            2, steps=2, model=UNet(SMALL).eval(), schedule=NoiseSchedule.cosine(20), device="meta"
        )
