import pytest
import torch

from tinyddpm.unet import UNet, UNetConfig, num_parameters, summary, timestep_embedding


def test_default_model_size_and_shapes():
    net = UNet(UNetConfig())
    assert 0.5e6 <= num_parameters(net) <= 2e6
    x = torch.randn(3, 1, 28, 28)
    out = net(x, torch.tensor([0.0, 10.5, 999.0]), torch.tensor([0, 5, 9]))
    assert out.shape == x.shape and out.dtype == torch.float32


def test_output_layer_starts_at_zero():
    net = UNet(UNetConfig())
    assert float(net(torch.randn(2, 1, 28, 28), torch.tensor([5.0, 50.0])).detach().abs().max()) == 0.0


def _perturbed(config: UNetConfig) -> UNet:
    torch.manual_seed(0)
    net = UNet(config)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net.eval()


def test_null_class_spellings_agree_and_labels_matter():
    net = _perturbed(UNetConfig())
    x, t = torch.randn(2, 1, 28, 28), torch.tensor([100.0, 100.0])
    none = net(x, t)
    assert torch.equal(none, net(x, t, torch.tensor([10, 10])))
    assert torch.equal(none, net(x, t, torch.tensor([-1, -1])))
    assert not torch.allclose(none, net(x, t, torch.tensor([3, 3])))


def test_continuous_time_is_smooth():
    net = _perturbed(UNetConfig())
    x = torch.randn(1, 1, 28, 28)
    a, b, c = (net(x, torch.tensor([v])) for v in (100.0, 100.001, 300.0))
    assert (a - b).abs().max() < 1e-3 * (a - c).abs().max()


def test_images_in_a_batch_are_independent():
    net = _perturbed(UNetConfig())
    x, t = torch.randn(4, 1, 28, 28), torch.tensor([1.0, 50.0, 500.0, 900.0])
    joint = net(x, t)
    for i in range(4):
        assert torch.allclose(joint[i], net(x[i : i + 1], t[i : i + 1])[0], atol=1e-5)


def test_unconditional_model_refuses_labels():
    net = UNet(UNetConfig(num_classes=None))
    with pytest.raises(ValueError):
        net(torch.zeros(1, 1, 28, 28), torch.zeros(1), torch.zeros(1, dtype=torch.long))


def test_timestep_embedding():
    e = timestep_embedding(torch.tensor([0.0, 1.0]), 8)
    assert e.shape == (2, 8)
    assert torch.allclose(e[0], torch.tensor([1.0] * 4 + [0.0] * 4))


def test_config_round_trip_and_unknown_fields():
    c = UNetConfig(base_channels=16, channel_mults=(1, 2))
    assert UNetConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError):
        UNetConfig.from_dict({"base_channels": 16, "wings": 2})


@pytest.mark.parametrize(
    "config",
    [
        UNetConfig(),
        UNetConfig(base_channels=16, channel_mults=(1, 2), num_res_blocks=1, groups=4, num_classes=None),
    ],
)
def test_summary_covers_every_parameter_in_running_order(config):
    net = UNet(config)
    rows = summary(net, batch=2)
    assert sum(r.parameters for r in rows) == num_parameters(net)
    assert len({r.name for r in rows}) == len(rows)
    assert rows[0].name == "time_mlp" and rows[-1].name == "conv_out"
    assert rows[-1].output_shape == (2, 1, 28, 28)
    blocks = [r for r in rows if r.kind == "ResBlock"]
    assert len(blocks) == 2 + len(config.channel_mults) * (2 * config.num_res_blocks + 1)
    # down path halves the size at each resampler, up path restores it; the middle is the lowest
    sizes = [r.output_shape[-1] for r in rows if r.name.startswith(("down", "mid", "up"))]
    lowest = 28 // 2 ** (len(config.channel_mults) - 1)
    assert (
        min(sizes) == lowest and [r.output_shape[-1] for r in rows if r.name.startswith("mid")][0] == lowest
    )
    # up-path blocks see the skip connection: more input channels than the block before them output
    first_up = next(i for i, r in enumerate(rows) if r.name.startswith("up."))
    assert rows[first_up].input_shape[1] > rows[first_up - 1].output_shape[1]


def test_parameter_count_includes_frozen_parameters():
    """A shipped model is loaded frozen; its size is still its size."""
    model = UNet(UNetConfig(base_channels=8, groups=4, channel_mults=(1, 2), num_res_blocks=1))
    n = num_parameters(model)
    assert n == sum(p.numel() for p in model.parameters()) > 0
    assert num_parameters(model.requires_grad_(False)) == n
