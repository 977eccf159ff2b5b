from dataclasses import replace

import pytest

from tinyddpm.checkpoint import load_model
from tinyddpm.data import load_sample
from tinyddpm.harness.evaluate import noisy_set
from tinyddpm.harness.supervised import supervised_denoise
from tinyddpm.harness.train import quick_config, supervised_config, train
from tinyddpm.metrics import psnr

from .conftest import needs_mnist


@needs_mnist
def test_supervised_reference_beats_the_noisy_input(tmp_path):
    small = replace(quick_config().unet, num_classes=None)
    cfg = supervised_config(
        0.3,
        steps=60,
        batch_size=32,
        warmup_steps=5,
        lr=2e-3,
        unet=small,
        train_limit=2048,
        checkpoint_every=30,
    )
    path = train(cfg, tmp_path, progress=False)
    model, schedule, info = load_model(path)
    assert schedule is None and info["train_config"]["objective"] == "supervised"
    x = load_sample()[0][:64]
    y = noisy_set(x, 0.3)
    out = supervised_denoise(model, y, 0.3)
    assert out.shape == x.shape and float(out.min()) >= 0
    assert float(psnr(out, x).mean()) > float(psnr(y, x).mean()) + 3


def test_supervised_config_is_unconditional():
    cfg = supervised_config(0.5)
    assert cfg.unet.num_classes is None and cfg.supervised_sigma == 0.5 and cfg.objective == "supervised"


def test_an_unknown_objective_is_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="unknown objective 'mystery'"):
        supervised_config(0.5, objective="mystery")
    cfg = supervised_config(0.5)
    object.__setattr__(cfg, "objective", "mystery")  # past the config's own check: train() refuses too
    with pytest.raises(ValueError, match="mystery"):
        train(cfg, tmp_path / "never-created", progress=False)
    assert not (tmp_path / "never-created").exists()
