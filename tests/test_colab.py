"""The book as Colab runs it: from the installed package, never from this repository's files.

A reader who opens a chapter in Colab gets the notebook and whatever its setup cell installs,
nothing else: no `book/`, `benchmarks/` or `src/` beside it. So every file a chapter reads must
come from the installed package. The results the book tabulates live in one folder,
`src/tinyddpm/harness/results/`, which the benchmarks write and the package ships as data, read through
`tinyddpm.harness.book_data`; the first tests here keep it the only one and the chapters' run times
under the limit.

The slow test builds the wheel, installs it into a fresh virtual environment (with a `.pth`
file that adds the running environment's site-packages after its own, so torch and the book's
other dependencies come from the environment that runs the tests instead of a multi-GB
download) and runs each chapter's setup cell and first code cells with that environment's Python,
from a temporary working directory, with the repository removed from `sys.path` and no MNIST
folder (`TINYDDPM_DATA` unset, an empty cache), as in Colab. The setup
cell itself installs nothing outside Colab: the wheel stands in for its `pip install`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))
RESULTS = (
    ROOT / "src" / "tinyddpm" / "harness" / "results"
)  # the one results folder: benchmarks write, the book reads
CHAPTER_LIMIT_S = 300  # every chapter runs top to bottom in under 5 minutes on 2 CPU cores
FIRST_CELLS_BUDGET_S = 30  # per chapter: the leading code cells whose stored run times sum to this


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file())


def test_there_is_one_results_folder():
    """The benchmarks write into the package's results folder; no second copy exists to drift."""
    assert (
        not (ROOT / "benchmarks" / "results").exists()
        and not (ROOT / "src" / "tinyddpm" / "results").exists()
    )
    scripts = "".join(p.read_text() for p in (ROOT / "benchmarks").glob("*.py"))
    assert '"benchmarks" / "results"' not in scripts and "benchmarks/results" not in scripts


def test_results_are_read_through_the_package():
    from tinyddpm.harness.book_data import read_json, results_names, results_path

    assert results_names() == files(RESULTS)
    assert results_path("bench_quality.json").read_bytes() == (RESULTS / "bench_quality.json").read_bytes()
    assert read_json("bench_quality.json")["sigmas"]
    for bad in ("no_such_file.json", "../weights/registry.json"):
        with pytest.raises(FileNotFoundError, match="shipped"):
            results_path(bad)


def test_html_table():
    from tinyddpm.harness.book_data import HTMLTable

    t = HTMLTable(["method", "PSNR"], [["a <b>", ("1.00", "2.00")]], caption="x & y")
    html = t._repr_html_()
    assert html.startswith("<table><caption>x &amp; y</caption>") and "a &lt;b&gt;" in html
    assert "1.00<br>2.00" in html and html.count("<tr>") == 2
    assert repr(t).splitlines() == ["x & y", "method         PSNR", "a <b>   1.00 / 2.00"]
    with pytest.raises(ValueError, match="cells"):
        HTMLTable(["a", "b"], [["only one"]])


def test_every_chapter_was_timed_and_stays_under_five_minutes():
    """benchmarks/book_times.py records each chapter; its kernel's CPU time bounds the run time of
    the chapter alone on the recording machine (its 2 cores): it must stay under 5 minutes."""
    times = json.loads((RESULTS / "book_times.json").read_text())
    chapters = {k: v for k, v in times.items() if not k.startswith("_")}
    assert set(chapters) == {nb.name for nb in NOTEBOOKS}, "run: python benchmarks/book_times.py"
    assert times["_machine"]["cores"] <= 2 or times["_machine"]["threads"] <= 2, times["_machine"]
    slow = {k: v for k, v in chapters.items() if v["cpu_s"] is None or v["cpu_s"] >= CHAPTER_LIMIT_S}
    assert not slow, f"chapters over {CHAPTER_LIMIT_S} s of CPU time: {slow}"


def first_cells(nb: Path) -> list[str]:
    """The chapter's leading code cells: the setup cell, the imports and data and model loading,
    as many as fit in FIRST_CELLS_BUDGET_S of stored run time (at least the first two)."""

    def seconds(cell: dict) -> float:
        ex = cell.get("metadata", {}).get("execution", {})
        try:
            start, end = (
                datetime.fromisoformat(ex[k].replace("Z", "+00:00"))
                for k in ("iopub.execute_input", "shell.execute_reply")
            )
        except KeyError:
            return 0.0
        return (end - start).total_seconds()

    code = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    chosen, spent = [], 0.0
    for cell in code:
        spent += seconds(cell)
        if len(chosen) >= 2 and spent > FIRST_CELLS_BUDGET_S:
            break
        chosen.append("".join(cell["source"]))
    return chosen


DRIVER = textwrap.dedent(
    """
    import json, os, sys
    repo = sys.argv[1]
    # the checkout's own folders leave sys.path; a virtual environment inside it (.venv) stays
    sys.path[:] = [
        p for p in sys.path
        if not os.path.abspath(p or os.curdir).startswith(repo) or "site-packages" in p
    ]
    import matplotlib
    matplotlib.use("Agg")
    import tinyddpm
    from IPython.core.interactiveshell import InteractiveShell
    assert not tinyddpm.__file__.startswith(repo), tinyddpm.__file__
    shell = InteractiveShell.instance()
    for i, source in enumerate(json.load(sys.stdin)):
        result = shell.run_cell(source, store_history=False)
        if not result.success:
            print(f"code cell {i} failed:", repr(result.error_in_exec or result.error_before_exec))
            sys.exit(1)
    print("ok", tinyddpm.__file__)
    """
)


@pytest.fixture(scope="module")
def venv_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with tinyddpm installed from a wheel built from this checkout."""
    tmp = tmp_path_factory.mktemp("colab")
    source = tmp / "source"  # a clean copy, so the build writes nothing into the checkout
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip"]
    run = dict(capture_output=True, text=True, timeout=600)
    r = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(source)], **run
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    (wheel,) = (tmp / "dist").glob("tinyddpm-*.whl")
    env = tmp / "venv"
    r = subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], **run)
    assert r.returncode == 0, r.stderr
    python = env / "bin" / "python"
    # the running environment's packages (torch, the book's dependencies), whatever it is: a
    # newcomer's virtual environment or the machine's own Python. A .pth file puts its
    # site-packages after the new environment's own, where the wheel goes. (--system-site-packages
    # would see the base interpreter's site-packages, not an outer virtual environment's.)
    r = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], **run
    )
    assert r.returncode == 0, r.stderr
    outer = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(r.stdout.strip()) / "_outer_environment.pth").write_text("".join(f"{p}\n" for p in outer))
    r = subprocess.run(
        [
            *pip,
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--force-reinstall",
            "--no-index",
            str(wheel),
        ],
        **run,
    )
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return python


def colab_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TINYDDPM_DATA", "PYTHONPATH", "MPLBACKEND")}
    env.update(XDG_CACHE_HOME=str(tmp / "cache"), OMP_WAIT_POLICY=env.get("OMP_WAIT_POLICY", "PASSIVE"))
    return env


@pytest.mark.slow
def test_the_wheel_installs_the_package_and_its_data(venv_python, tmp_path):
    code = (
        "import tinyddpm, sys; from tinyddpm.harness.book_data import results_names, results_path; "
        "print(tinyddpm.__file__); print(results_path('bench_quality.json')); print(len(results_names()))"
    )
    r = subprocess.run(
        [str(venv_python), "-c", code],
        cwd=tmp_path,
        env=colab_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    module, quality, n = r.stdout.split()
    venv = venv_python.parents[1]
    assert Path(module).is_relative_to(venv) and Path(quality).is_relative_to(venv), r.stdout
    assert int(n) == len(files(RESULTS))


@pytest.mark.slow
@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_chapter_starts_from_the_installed_package(venv_python, nb, tmp_path):
    """The setup cell and first cells of `nb`, run by the venv's Python in an empty folder."""
    cells = first_cells(nb)
    assert "google.colab" in cells[0], "the first code cell is the Colab setup cell"
    work = tmp_path / "work"
    work.mkdir()
    r = subprocess.run(
        [str(venv_python), "-c", DRIVER, str(ROOT)],
        input=json.dumps(cells),
        cwd=work,
        env=colab_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0 and "ok" in r.stdout, (nb.name, len(cells), r.stdout[-3000:], r.stderr[-3000:])
