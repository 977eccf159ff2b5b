"""`python benchmarks/run.py --quick` runs the same code as the full benchmark on a few digits."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import tinyddpm
from tinyddpm.harness.evaluate import noisy_set
from tinyddpm.metrics import classifier_features, frechet_distance

from .conftest import needs_mnist

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, needs_mnist]


@pytest.fixture(scope="module")
def quick(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bench")
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=2400,  # ~12 min on 2 idle cores
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out


def test_quick_run_writes_every_section_and_the_summary(quick):
    for section in ("quality", "speed", "diffusers", "fid"):
        res = json.loads((quick / f"bench_{section}.json").read_text())
        assert res["quick"] is True
        assert res["machine"]["threads"] >= 1 and res["machine"]["precision"] in ("float32", "bfloat16")
        assert res["machine"]["OMP_NUM_THREADS"] == "2"  # what the fixture set
    md = (quick / "BENCHMARKS.md").read_text()
    for heading in ("Denoising quality", "Soltanayev", "Perception-distortion", "Speed", "diffusers", "FID"):
        assert heading in md


def test_quality_covers_every_method_at_every_sigma_and_denoising_helps(quick):
    q = json.loads((quick / "bench_quality.json").read_text())
    ids = {r["id"] for r in q["rows"]}
    for must in (
        "noisy",
        "vae",
        "fixed_step",
        "posterior_mean",
        "ddim_5",
        "ddim_50",
        "classical_gaussian",
        "classical_tv",
        "classical_wavelet",
        "classical_nl_means",
    ):
        assert must in ids
    assert q["fixed_step"] == 100 and any(i.startswith("supervised_") for i in ids)
    # one id, one label: readers look rows up by id, the label is only shown
    assert len({(r["id"], r["method"]) for r in q["rows"]}) == len(ids)
    by_sigma = {key: {r["id"]: r for r in q["rows"] if r["sigma"] == key} for key in q["sigmas"]}
    for rows in by_sigma.values():
        assert rows["posterior_mean"]["psnr"] > rows["noisy"]["psnr"]
        assert sum(r.get("best_classical", False) for r in rows.values()) == 1
        for r in rows.values():
            if r["set"] == "s50":  # the common-subset scores of a method run on s50 are its own scores
                assert r["s50"] == {k: r[k] for k in r["s50"]}
    # identity: barely any noise keeps nearly every digit; at sigma 0.75 the noisy input loses most
    # of them (full run: 12 %) and the posterior mean keeps most (full run: 95 %)
    assert by_sigma["0.05"]["noisy"]["identity"] >= 0.9
    assert by_sigma["0.05"]["posterior_mean"]["identity"] >= 0.9
    assert by_sigma["0.75"]["noisy"]["identity"] < 0.5 < by_sigma["0.75"]["posterior_mean"]["identity"]


def test_perception_distortion_ratios_follow_from_the_rows_and_the_theory(quick):
    q = json.loads((quick / "bench_quality.json").read_text())
    for key, pd in q["perception_distortion"].items():
        mse = {r["id"]: r["s50"]["mse"] for r in q["rows"] if r["sigma"] == key}
        assert pd["ancestral_over_pm"] == round(mse["ancestral"] / mse["posterior_mean"], 3)
        assert pd["average_over_pm"] == round(mse["average"] / mse["posterior_mean"], 3)
        assert (pd["theory_sample"], pd["theory_average"]) == (2.0, 1 + 1 / 8)
        # a sample is further from x than the posterior mean (exact model: twice the MSE; quick run on
        # 4 digits: 1.4 to 1.9), and the average of 8 samples is much closer (exact model: 1 + 1/8)
        assert 1.2 < pd["ancestral_over_pm"] < 3.0
        assert 0.9 < pd["average_over_pm"] < pd["ancestral_over_pm"]


def test_diffusers_drives_the_same_network_to_the_same_ddim_result(quick):
    d = json.loads((quick / "bench_diffusers.json").read_text())
    if "skipped" in d:
        pytest.skip(d["skipped"])
    assert d["precision"] == "float32"
    assert d["DDIM"]["max_abs_difference"] < 1e-3
    assert abs(d["DDIM"]["psnr_tinyddpm"] - d["DDIM"]["psnr_diffusers"]) < 0.01


def test_fid_runs_have_consistent_class_counts_and_a_small_sample_bias(quick):
    f = json.loads((quick / "bench_fid.json").read_text())
    for run in f["runs"].values():
        counts = torch.tensor(run["class_counts"], dtype=torch.float64)
        assert counts.sum() == run["images"]
        tv = 0.5 * float((counts / run["images"] - 0.1).abs().sum())
        assert run["class_tv_from_uniform"] == round(tv, 4)
    floors = sorted(
        (r["images"], r["fid"]) for name, r in f["runs"].items() if name.startswith("training digits")
    )
    (n_small, fid_small), (n_big, fid_big) = floors
    assert n_small < n_big and fid_small > fid_big  # the same training digits: fewer of them, larger FID


def test_classifier_feature_fid_is_zero_for_a_set_itself_and_grows_with_a_shift():
    classifier, _ = tinyddpm.pretrained("classifier")
    x, _ = tinyddpm.load_sample()
    f = classifier_features(classifier, x)
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-6 * float(f.var(0).sum()))
    shift = torch.linspace(-1, 1, f.shape[1], dtype=torch.float64)
    # the same covariance: the distance is the squared distance of the means
    assert frechet_distance(f, f + shift) == pytest.approx(float((shift**2).sum()), rel=1e-6)
    halves = frechet_distance(f[::2], f[1::2])  # two halves of the same digits: only sampling error
    noisy = frechet_distance(f, classifier_features(classifier, noisy_set(x, 0.5)))
    assert noisy > 5 * halves


def test_quick_without_out_leaves_the_results_folder_alone(tmp_path):
    results = ROOT / "src" / "tinyddpm" / "harness" / "results"
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in results.iterdir() if p.is_file()}
    r = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--only", "summary"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert r.returncode == 0, r.stderr[-3000:]
    out = Path(r.stdout.splitlines()[0].removeprefix("writing to "))
    assert out.parent == tmp_path and (out / "BENCHMARKS.md").exists()
    assert f"results in {out}" in r.stdout
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in results.iterdir() if p.is_file()}
    assert after == before


def test_reuse_model_free_keeps_the_rows_that_do_not_read_ddpm_and_measures_the_rest(quick, tmp_path):
    """--reuse-model-free (after a new ddpm): the rows of the noisy input, the VAE, the classical and
    supervised denoisers come from the saved file (a marked value proves it), the ddpm rows are
    measured again and, the noise being seeded, come out as before."""
    saved = json.loads((quick / "bench_quality.json").read_text())
    marked = next(r for r in saved["rows"] if r["id"] == "classical_gaussian")
    marked["psnr"] = 123.0  # no denoiser gives this: seen again only if the row was kept
    (tmp_path / "bench_quality.json").write_text(json.dumps(saved))

    def reuse_run() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(tmp_path)]
            + ["--only", "quality", "--reuse-model-free"],
            capture_output=True,
            text=True,
            timeout=1200,
            env={**os.environ, "OMP_NUM_THREADS": "2"},
        )

    r = reuse_run()
    assert r.returncode == 0, r.stderr[-3000:]
    new = json.loads((tmp_path / "bench_quality.json").read_text())
    old = {(row["id"], row["sigma"]): row for row in saved["rows"]}
    assert {(row["id"], row["sigma"]) for row in new["rows"]} == set(old)
    for row in new["rows"]:
        before = old[(row["id"], row["sigma"])]
        kept = row["id"] in ("noisy", "vae") or row["id"].startswith(("classical_", "supervised_"))
        assert row.get("reused", False) is kept, row["id"]
        if kept:
            assert row["psnr"] == before["psnr"]
        else:
            assert row["psnr"] == pytest.approx(before["psnr"], abs=0.02), row["id"]
    assert 123.0 in {row["psnr"] for row in new["rows"]}
    assert new["tuning"] == saved["tuning"] and new["reused_model_free_rows_from"] == saved["machine"]
    saved["sizes"] = {**saved["sizes"], "test": saved["sizes"]["test"] + 1}  # another run's file: refused
    (tmp_path / "bench_quality.json").write_text(json.dumps(saved))
    r = reuse_run()
    assert r.returncode != 0 and "other sizes" in r.stderr
