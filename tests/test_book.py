"""The book's notebooks: one Colab setup cell each, naming the repository of _config.yml."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def repository_url() -> str:
    return yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]


SETUP_CELL = ROOT / "book" / "_setup_cell.py"  # the one Colab setup cell every chapter carries


def test_the_setup_cell_installs_this_release_from_the_configured_repository():
    """book/_setup_cell.py pins the package version of pyproject.toml (a tag, v<version>) and
    names the repository of _config.yml, and is valid Python (the .py twins must parse)."""
    import ast

    text = SETUP_CELL.read_text()
    ast.parse(text)
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
    specs = re.findall(r"tinyddpm\[book\] @ git\+(https://[^\s\"'@]+)@(\S+?)\"", text)
    assert specs == [(repository_url(), f"v{version}")], specs
    assert 'if "google.colab" in sys.modules:' in text
    assert "!pip" not in text and "%pip" not in text


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_the_title_comes_first_then_the_setup_cell(nb):
    """Cell 0 is the chapter's title (Markdown, "# ..." alone); cell 1 is book/_setup_cell.py verbatim,
    the only cell that mentions Colab's module."""
    cells = json.loads(nb.read_text())["cells"]
    title = "".join(cells[0]["source"]).strip()
    assert cells[0]["cell_type"] == "markdown" and re.fullmatch(r"# [^\n]+", title), title[:80]
    assert cells[1]["cell_type"] == "code"
    assert "".join(cells[1]["source"]).strip() == SETUP_CELL.read_text().strip()
    assert [i for i, c in enumerate(cells) if "google.colab" in "".join(c["source"])] == [1]


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_with_outputs(nb):
    cells = [
        c
        for c in json.loads(nb.read_text())["cells"]
        if c["cell_type"] == "code" and "".join(c["source"]).strip()
    ]
    assert any(c.get("outputs") for c in cells[1:])


def test_every_notebook_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in toc, nb.name


def test_the_book_builds_without_warnings(tmp_path):
    """`jupyter-book build . -W -n`: every chapter and the API page render, figures included, and
    every cross-reference resolves (nitpicky), to Python, NumPy and PyTorch through the offline
    inventories in book/_intersphinx/."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if exe is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")
    r = subprocess.run(
        [exe, "build", str(ROOT), "--path-output", str(tmp_path), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    html = tmp_path / "_build" / "html"
    for nb in NOTEBOOKS:
        page = (html / "book" / f"{nb.stem}.html").read_text()
        assert "<img" in page, f"{nb.name}: no figure in the built page"
    api = (html / "book" / "api.html").read_text()
    assert "tinyddpm.denoise" in api and "sigma" in api


def test_intersphinx_inventories_are_what_their_generator_writes(tmp_path, monkeypatch):
    """book/_intersphinx/*.inv are generated files: regenerate them after editing the name list."""
    import importlib.util

    here = ROOT / "book" / "_intersphinx"
    spec = importlib.util.spec_from_file_location("make_inventories", here / "make_inventories.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    monkeypatch.setattr(gen, "HERE", tmp_path)
    gen.main()
    for name in gen.INVENTORIES:
        assert (here / name).read_bytes() == (tmp_path / name).read_bytes(), f"run {here}/make_inventories.py"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())["sphinx"]["config"]["intersphinx_mapping"]
    assert {Path(inv).name for _, inv in config.values()} == set(gen.INVENTORIES)
    assert all((ROOT / inv).exists() for _, inv in config.values())
