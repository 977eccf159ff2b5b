"""Precision: bfloat16 autocast only around the network, float32 everywhere else, exact models exact."""

import pytest
import torch

import tinyddpm
from tinyddpm.harness.analytic import GaussianEps
from tinyddpm.metrics import psnr
from tinyddpm.precision import (
    AUTO_FP32_BELOW_SIGMA,
    AUTO_MIN_BATCH,
    Autocast,
    autocast_dtype,
    native_bf16,
    with_precision,
)
from tinyddpm.schedules import NoiseSchedule


class Probe(torch.nn.Module):
    """A one-layer network that records the dtype its layer computed in."""

    def __init__(self, seen: list) -> None:
        super().__init__()
        self.lin, self.seen = torch.nn.Linear(4, 4), seen

    def forward(self, x, t, y=None):  # noqa: ANN001, ANN201
        out = self.lin(x)
        self.seen.append(out.dtype)
        return out


def test_auto_leaves_plain_callables_alone_and_rejects_unknown_values():
    schedule = NoiseSchedule.cosine(1000)
    exact = GaussianEps(schedule, 0.0, 0.5)
    assert with_precision(exact, "auto") is exact
    assert with_precision(exact, "fp32") is exact
    assert isinstance(with_precision(exact, "bf16"), Autocast)
    with pytest.raises(ValueError, match="unknown precision 'half'"):
        autocast_dtype(exact, "half", torch.device("cpu"))


def test_auto_uses_bf16_for_networks_exactly_when_the_cpu_has_it():
    net = torch.nn.Conv2d(1, 1, 3)
    expected = torch.bfloat16 if native_bf16(torch.device("cpu")) else None
    assert autocast_dtype(net, "auto", torch.device("cpu")) == expected
    assert autocast_dtype(net, "fp32", torch.device("cpu")) is None


def test_the_network_runs_in_bf16_and_its_output_comes_back_in_the_inputs_dtype():
    seen = []
    wrapped = with_precision(Probe(seen), "bf16")
    out = wrapped(torch.randn(2, 4), torch.zeros(2))
    assert seen == [torch.bfloat16] and out.dtype == torch.float32


@pytest.mark.skipif(not native_bf16(torch.device("cpu")), reason="this CPU has no native bfloat16")
@pytest.mark.parametrize("sigma", [0.1, 0.3, 0.5])
def test_bf16_posterior_mean_is_within_a_hundredth_of_a_db_of_fp32(sigma):
    x = tinyddpm.load_sample()[0][::10]  # 100 digits, 10 per class
    y = tinyddpm.add_noise(x, sigma, generator=tinyddpm.seeded(0))
    fp32 = tinyddpm.denoise(y, sigma, precision="fp32")
    auto = tinyddpm.denoise(y, sigma)
    assert not torch.equal(fp32, auto)  # auto really ran in another precision
    assert abs(float(psnr(auto, x).mean()) - float(psnr(fp32, x).mean())) < 0.01


def test_auto_runs_small_batches_in_fp32_and_bf16_runs_every_batch_in_bf16():
    seen = []
    auto, bf16 = with_precision(Probe(seen), "auto"), with_precision(Probe(seen), "bf16")
    bf16(torch.randn(1, 4), torch.zeros(1))
    auto(torch.randn(AUTO_MIN_BATCH - 1, 4), torch.zeros(AUTO_MIN_BATCH - 1))
    assert seen == [torch.bfloat16, torch.float32]
    if native_bf16(torch.device("cpu")):
        auto(torch.randn(AUTO_MIN_BATCH, 4), torch.zeros(AUTO_MIN_BATCH))
        assert seen[-1] == torch.bfloat16


@pytest.mark.skipif(not native_bf16(torch.device("cpu")), reason="this CPU has no native bfloat16")
def test_auto_denoises_low_noise_in_fp32_and_higher_noise_in_bf16():
    x = tinyddpm.load_sample()[0][:16]
    model, schedule = tinyddpm.pretrained("ddpm")
    for sigma, same in ((AUTO_FP32_BELOW_SIGMA * 0.9, True), (AUTO_FP32_BELOW_SIGMA * 1.1, False)):
        y = tinyddpm.add_noise(x, sigma, generator=tinyddpm.seeded(1))
        run = dict(model=model, schedule=schedule)
        fp32, auto = tinyddpm.denoise(y, sigma, precision="fp32", **run), tinyddpm.denoise(y, sigma, **run)
        assert torch.equal(fp32, auto) is same
    # one image below the threshold sends its whole batch through fp32
    sig = torch.full((16,), 0.2)
    sig[3] = AUTO_FP32_BELOW_SIGMA / 2
    y = x + sig.view(-1, 1, 1, 1) * torch.randn(x.shape, generator=tinyddpm.seeded(2))
    assert torch.equal(tinyddpm.denoise(y, sig, **run), tinyddpm.denoise(y, sig, precision="fp32", **run))
