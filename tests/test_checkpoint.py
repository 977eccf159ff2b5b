"""Weights files: round trip, and every kind of bad file gives a clear error naming the file."""

import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save_file

from tinyddpm.checkpoint import CheckpointError, load_model, save_model, sha256_file
from tinyddpm.schedules import NoiseSchedule
from tinyddpm.unet import UNet, UNetConfig

SMALL = UNetConfig(base_channels=8, channel_mults=(1, 2), num_res_blocks=1, groups=4)


@pytest.fixture()
def saved(tmp_path):
    torch.manual_seed(0)
    net = UNet(SMALL)
    path = tmp_path / "m.safetensors"
    save_model(path, net, schedule=NoiseSchedule.linear(300), info={"note": "test"})
    return net, path


def test_round_trip(saved):
    net, path = saved
    model, schedule, info = load_model(path)
    assert (
        model.config == SMALL and schedule.kind == "linear" and schedule.T == 300 and info == {"note": "test"}
    )
    for k, v in net.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)
    assert not model.training
    load_model(path, expected_sha256=sha256_file(path))


def expect_error(path, match):
    with pytest.raises(CheckpointError, match=match) as e:
        load_model(path)
    assert str(path) in str(e.value)


def test_missing_empty_directory(tmp_path):
    expect_error(tmp_path / "nope.safetensors", "no such file")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    expect_error(tmp_path / "empty.safetensors", "empty")
    (tmp_path / "d.safetensors").mkdir()
    expect_error(tmp_path / "d.safetensors", "directory")


def test_truncated(saved, tmp_path):
    _, path = saved
    data = path.read_bytes()
    for cut in (4, 100, len(data) // 2, len(data) - 1):
        p = tmp_path / f"cut{cut}.safetensors"
        p.write_bytes(data[:cut])
        expect_error(p, "truncated|too short|corrupt")


class Boom:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_pickle_is_never_executed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    p = tmp_path / "evil.safetensors"
    p.write_bytes(pickle.dumps(Boom()))
    expect_error(p, "pickle")
    q = tmp_path / "evil2.safetensors"
    torch.save({"x": Boom()}, q)  # zip-based torch.save
    expect_error(q, "pickle")
    assert not (tmp_path / "PWNED").exists()


def test_not_safetensors_and_bad_header(tmp_path):
    p = tmp_path / "text.safetensors"
    p.write_bytes(b"hello world, this is not a weights file at all")
    expect_error(p, "not a safetensors|truncated|corrupt")
    q = tmp_path / "badjson.safetensors"
    header = b"{not json"
    q.write_bytes(struct.pack("<Q", len(header)) + header)
    expect_error(q, "corrupt")


def _rewrite(path, tmp_path, name, mutate_header=None, tensors=None):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = json.loads(f.metadata()["tinyddpm"])
        ts = {k: f.get_tensor(k) for k in f.keys()}
    if mutate_header:
        mutate_header(meta)
    if tensors:
        tensors(ts)
    out = tmp_path / name
    save_file(ts, str(out), metadata={"tinyddpm": json.dumps(meta)})
    return out


def test_unknown_architecture(saved, tmp_path):
    _, path = saved
    p = _rewrite(path, tmp_path, "arch.safetensors", lambda m: m.update(architecture="transformer9000"))
    expect_error(p, "unknown architecture")


def test_wrong_shapes_missing_and_nan(saved, tmp_path):
    _, path = saved
    p = _rewrite(
        path,
        tmp_path,
        "shape.safetensors",
        tensors=lambda t: t.update({"conv_in.weight": torch.zeros(3, 1, 3, 3)}),
    )
    expect_error(p, "shape")
    p = _rewrite(path, tmp_path, "missing.safetensors", tensors=lambda t: t.pop("conv_in.weight"))
    expect_error(p, "missing")
    p = _rewrite(path, tmp_path, "cfg.safetensors", lambda m: m["config"].update(base_channels=16))
    expect_error(p, "shape|missing|unexpected")
    p = _rewrite(path, tmp_path, "nan.safetensors", tensors=lambda t: t["conv_in.bias"].fill_(float("nan")))
    expect_error(p, "NaN")
    p = _rewrite(path, tmp_path, "badcfg.safetensors", lambda m: m["config"].update(wings=3))
    expect_error(p, "invalid unet config")


def test_plain_safetensors_without_metadata(tmp_path):
    p = tmp_path / "plain.safetensors"
    save_file({"a": torch.zeros(2)}, str(p))
    expect_error(p, "metadata")


def test_checksum_mismatch(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match="sha256"):
        load_model(path, expected_sha256="0" * 64)


def test_atomic_save_leaves_no_temporary_files(saved):
    _, path = saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.safetensors"]
