"""tinyddpm.harness.export: the ONNX posterior-mean denoiser the book's in-page demo runs.

The shipped file (book/_static/in_page/) must give denoise()'s pixels under onnxruntime, belong to
the shipped weights and schedule (its JSON table says which), and be what the export command
writes today. Without onnxruntime the tests skip with a reason, or fail when CI=true.
"""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tinyddpm import denoise, load_sample
from tinyddpm.checkpoint import pretrained, registry
from tinyddpm.harness.export import INPUT_NAMES, export_onnx, main, onnx_inputs, sha256_bytes

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "book" / "_static" / "in_page" / "ddpm_posterior_mean.onnx"
SIGMAS = (0.05, 0.1, 0.2, 0.5, 1.0)


def need_module(name: str):
    """Import ``name``, or skip with a reason (fail instead when CI=true: CI must run these tests)."""
    try:
        return importlib.import_module(name)
    except ImportError:
        why = f"{name} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but {why}")
        pytest.skip(why)


@pytest.fixture(scope="module")
def session():
    ort = need_module("onnxruntime")
    return ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def model_and_schedule():
    return pretrained("ddpm")


def test_shipped_file_matches_denoise_on_100_digits(session, model_and_schedule):
    """100 bundled digits (10 per class) at five noise levels: within 1e-4 of denoise(fp32)."""
    model, schedule = model_and_schedule
    x = load_sample()[0][::10]  # (100, 1, 28, 28)
    worst = {}
    for k, sigma in enumerate(SIGMAS):
        y = x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(k))
        ref = denoise(y, sigma, model=model, schedule=schedule, precision="fp32").numpy()
        (out,) = session.run(None, onnx_inputs(y, sigma, schedule))
        assert out.shape == ref.shape and out.dtype == np.float32
        worst[sigma] = float(np.abs(out - ref).max())
    assert max(worst.values()) <= 1e-4, worst


def test_any_batch_size_and_one_digit(session, model_and_schedule):
    """The page sends one digit at a time; a batch of one gives that digit's row of a batch of 7."""
    _, schedule = model_and_schedule
    y = load_sample()[0][:7] + 0.3 * torch.randn(7, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    (batch,) = session.run(None, onnx_inputs(y, 0.3, schedule))
    (one,) = session.run(None, onnx_inputs(y[3:4], 0.3, schedule))
    assert one.shape == (1, 1, 28, 28)
    np.testing.assert_allclose(one[0], batch[3], atol=1e-6)


def test_output_changes_with_sigma(session, model_and_schedule):
    _, schedule = model_and_schedule
    y = load_sample()[0][:1] + 0.3 * torch.randn(1, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    (a,) = session.run(None, onnx_inputs(y, 0.2, schedule))
    (b,) = session.run(None, onnx_inputs(y, 0.6, schedule))
    assert np.abs(a - b).max() > 0.05


def test_table_belongs_to_the_file_weights_and_schedule(model_and_schedule):
    """The JSON beside the ONNX file: its checksum, the weights it came from, the schedule, the digits."""
    _, schedule = model_and_schedule
    table = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert table["onnx"] == SHIPPED.name
    rerun = "re-run python -m tinyddpm.harness.export"
    assert table["onnx_sha256"] == sha256_bytes(SHIPPED.read_bytes()), rerun
    assert table["weights_sha256"] == registry()["ddpm"]["sha256"], "weights changed: re-export the ONNX file"
    assert table["schedule"] == schedule.config() and table["T"] == schedule.T
    assert table["alpha_bar"] == schedule.alpha_bar.tolist()  # float64, exactly
    assert table["max_sigma"] == schedule.max_sigma / 2
    assert table["inputs"] == list(INPUT_NAMES)
    images, labels = load_sample()
    assert [d["label"] for d in table["digits"]] == list(range(10))  # the first of each class
    assert [d["index"] for d in table["digits"]] == [int((labels == c).nonzero()[0]) for c in range(10)]
    for d in table["digits"]:
        assert d["label"] == int(labels[d["index"]])
        assert np.array_equal(d["pixels"], (images[d["index"], 0] * 255).round().reshape(-1).numpy())


def test_export_command_writes_what_ships(tmp_path, capsys, model_and_schedule):
    """`python -m tinyddpm.harness.export PATH` writes a file that computes what the shipped one does."""
    ort = need_module("onnxruntime")
    need_module("onnx")
    _, schedule = model_and_schedule
    path = tmp_path / "out" / "d.onnx"
    assert main([str(path)]) == 0
    assert "max |onnxruntime - denoise()| = " in capsys.readouterr().out
    fresh = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shipped = ort.InferenceSession(str(SHIPPED), providers=["CPUExecutionProvider"])
    feeds = onnx_inputs(load_sample()[0][:4], 0.4, schedule)
    np.testing.assert_allclose(fresh.run(None, feeds)[0], shipped.run(None, feeds)[0], atol=1e-6)
    table = json.loads(path.with_suffix(".json").read_text())
    shipped_table = json.loads(SHIPPED.with_suffix(".json").read_text())
    for key in ("onnx", "onnx_sha256"):
        table.pop(key), shipped_table.pop(key)
    assert table == shipped_table


def test_export_refuses_a_model_without_schedule(tmp_path):
    with pytest.raises(ValueError, match="no schedule"):
        export_onnx(tmp_path / "c.onnx", model_name="classifier", check=False)
