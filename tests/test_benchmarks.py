"""`python benchmarks/run.py --quick` runs the same code as the full benchmark on a few digits."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import has_mnist

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not has_mnist(), reason="MNIST not available")]


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
                       capture_output=True, text=True, timeout=1200, env={**os.environ, "OMP_NUM_THREADS": "2"})
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_quick_run_writes_every_section_and_the_summary(quick):
    for section in ("quality", "speed", "diffusers", "fid"):
        assert json.loads((quick / f"bench_{section}.json").read_text())["quick"] is True
    md = (quick / "BENCHMARKS.md").read_text()
    for heading in ("Denoising quality", "Soltanayev", "Perception-distortion", "Speed", "diffusers", "FID"):
        assert heading in md


def test_quality_covers_every_method_at_every_sigma_and_denoising_helps(quick):
    q = json.loads((quick / "bench_quality.json").read_text())
    methods = {r["method"] for r in q["rows"]}
    for must in ("noisy input", "VAE (chapter 1)", "posterior mean", "DDIM, 5 steps", "DDIM, 50 steps",
                 "gaussian (tuned)", "tv (tuned)", "wavelet (tuned)", "nl_means (tuned)"):
        assert must in methods
    assert any(m.startswith("original procedure") for m in methods)
    assert any(m.startswith("supervised") for m in methods)
    for key in q["sigmas"]:
        rows = {r["method"]: r for r in q["rows"] if r["sigma"] == key}
        assert rows["posterior mean"]["psnr"] > rows["noisy input"]["psnr"]
        assert 0 <= rows["posterior mean"]["identity"] <= 1
        assert sum(r.get("best_classical", False) for r in rows.values()) == 1
        assert q["perception_distortion"][key]["ancestral_over_pm"] > 0


def test_diffusers_drives_the_same_network_to_the_same_ddim_result(quick):
    d = json.loads((quick / "bench_diffusers.json").read_text())
    if "skipped" in d:
        pytest.skip(d["skipped"])
    assert d["DDIM"]["max_abs_difference"] < 1e-3
    assert abs(d["DDIM"]["psnr_tinyddpm"] - d["DDIM"]["psnr_diffusers"]) < 0.01


def test_fid_has_a_floor_and_class_counts(quick):
    f = json.loads((quick / "bench_fid.json").read_text())
    for run in f["runs"].values():
        assert run["fid"] >= 0 and sum(run["class_counts"]) == run["images"]
