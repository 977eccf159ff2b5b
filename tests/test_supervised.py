import pytest
import torch

from tinyddpm.checkpoint import load_model
from tinyddpm.data import load_sample
from tinyddpm.evaluate import noisy_set
from tinyddpm.metrics import psnr
from tinyddpm.supervised import supervised_config, supervised_denoise
from tinyddpm.train import quick_config, train

from .conftest import has_mnist


@pytest.mark.skipif(not has_mnist(), reason="MNIST not available")
def test_supervised_reference_beats_the_noisy_input(tmp_path):
    small = quick_config().unet | {"num_classes": None}
    cfg = supervised_config(0.3, steps=60, batch_size=32, warmup_steps=5, lr=2e-3, unet=small, train_limit=2048,
                            checkpoint_every=30)
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
    assert cfg.unet["num_classes"] is None and cfg.supervised_sigma == 0.5 and cfg.objective == "supervised"
    with pytest.raises(ValueError):
        train(supervised_config(0.5, objective="mystery"), "/nonexistent/never-created", progress=False)
