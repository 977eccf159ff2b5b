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


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_first_cell_installs_from_the_configured_repository_only_in_colab(nb):
    cells = json.loads(nb.read_text())["cells"]
    first = "".join(cells[0]["source"])
    assert cells[0]["cell_type"] == "code"
    assert 'if "google.colab" in sys.modules:' in first
    urls = re.findall(r"git\+(https://[^\s\"'@]+)", first)
    assert urls == [repository_url()], urls
    setup_cells = [c for c in cells if "google.colab" in "".join(c["source"])]
    assert len(setup_cells) == 1


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_with_outputs(nb):
    cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert any(c.get("outputs") for c in cells[1:])


def test_every_notebook_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in NOTEBOOKS:
        assert f"book/{nb.stem}" in toc, nb.name


def test_the_book_builds_without_warnings(tmp_path):
    """`jupyter-book build . -W`: every chapter and the API page render, figures included."""
    import shutil
    import subprocess
    import sys

    exe = shutil.which("jupyter-book", path=str(Path(sys.executable).parent)) or shutil.which("jupyter-book")
    if exe is None:
        pytest.skip("jupyter-book is not installed (pip install -e '.[book]')")
    r = subprocess.run([exe, "build", str(ROOT), "--path-output", str(tmp_path), "-W", "--keep-going"],
                       capture_output=True, text=True, timeout=1200)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    html = tmp_path / "_build" / "html"
    for nb in NOTEBOOKS:
        page = (html / "book" / f"{nb.stem}.html").read_text()
        assert "<img" in page, f"{nb.name}: no figure in the built page"
    api = (html / "book" / "api.html").read_text()
    assert "tinyddpm.denoise" in api and "sigma" in api
