"""The book as a textbook: every story chapter ends with a recap and exercises whose code
solutions run (nbval executes them), every page links the notation page, and the code a reader
sees is short: bookkeeping (tables, glue, figure layout) sits in hidden cells."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
STORY = sorted(BOOK.glob("0[1-8]_*.ipynb"))  # chapters 1-8: recap and exercises
PAGES = sorted(BOOK.glob("*.ipynb"))
HIDDEN = {"hide-input", "remove-input", "hide-cell", "remove-cell", "colab-setup"}
MAX_LINES = 15
# Visible code cells allowed to be longer than MAX_LINES: (page stem, first line) -> why. At most five.
LONG_CELLS: dict[tuple[str, str], str] = {}
EXERCISE = re.compile(r"^\*\*Exercise (\d+)\.\*\*\s*\((pen and paper|code)\)", re.M)


def cells(page: Path) -> list[dict]:
    return json.loads(page.read_text())["cells"]


def text(cell: dict) -> str:
    return "".join(cell["source"])


def tags(cell: dict) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def test_the_chapters_are_there():
    assert len(STORY) == 8, [p.name for p in STORY]


@pytest.mark.parametrize("page", STORY, ids=lambda p: p.stem)
def test_a_story_chapter_ends_with_a_recap(page):
    """A Markdown cell opens with '## What to take away' and has 3 to 6 bullets."""
    recaps = [
        text(c)
        for c in cells(page)
        if c["cell_type"] == "markdown" and text(c).startswith("## What to take away")
    ]
    assert len(recaps) == 1, f"{page.name}: {len(recaps)} recap cells"
    bullets = re.findall(r"^[-*] ", recaps[0], re.M)
    assert 3 <= len(bullets) <= 6, f"{page.name}: {len(bullets)} bullets"


@pytest.mark.parametrize("page", STORY, ids=lambda p: p.stem)
def test_a_story_chapter_has_exercises_with_folded_solutions(page):
    """After '## Exercises': numbered exercises, at least one pen-and-paper with a dropdown
    solution and one code exercise whose solution cell (tags hide-input, solution) ran."""
    cs = cells(page)
    start = [
        i for i, c in enumerate(cs) if c["cell_type"] == "markdown" and text(c).startswith("## Exercises")
    ]
    assert len(start) == 1, f"{page.name}: {len(start)} '## Exercises' cells"
    after = cs[start[0] :]
    found = [m for c in after if c["cell_type"] == "markdown" for m in EXERCISE.findall(text(c))]
    numbers = [int(n) for n, _ in found]
    assert len(found) >= 2 and numbers == list(range(1, len(found) + 1)), f"{page.name}: {found}"
    kinds = {k for _, k in found}
    assert kinds == {"pen and paper", "code"}, f"{page.name}: {kinds}"
    prose = "\n".join(text(c) for c in after if c["cell_type"] == "markdown")
    assert re.search(r"```\{admonition\} Solution\n:class: dropdown", prose), (
        f"{page.name}: no folded solution"
    )
    solutions = [c for c in after if c["cell_type"] == "code" and {"hide-input", "solution"} <= tags(c)]
    n_code = sum(k == "code" for _, k in found)
    assert len(solutions) >= n_code, (
        f"{page.name}: {len(solutions)} solution cells for {n_code} code exercises"
    )
    assert all(c.get("outputs") for c in solutions), f"{page.name}: a solution cell has no stored output"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_page_links_the_notation_page(page):
    assert any("{doc}`notation`" in text(c) for c in cells(page) if c["cell_type"] == "markdown"), page.name


def visible_long_cells() -> list[tuple[str, str, int]]:
    out = []
    for page in PAGES:
        for c in cells(page):
            if c["cell_type"] != "code" or tags(c) & HIDDEN:
                continue
            lines = text(c).strip().splitlines()
            if len(lines) > MAX_LINES:
                out.append((page.stem, lines[0], len(lines)))
    return out


def test_visible_code_cells_are_short():
    """A reader sees the method in at most 15 lines a cell; longer visible cells are allowlisted."""
    assert len(LONG_CELLS) <= 5
    long = [(stem, first, n) for stem, first, n in visible_long_cells() if (stem, first) not in LONG_CELLS]
    assert not long, long


def test_the_allowlist_names_only_cells_that_exist():
    present = {(stem, first) for stem, first, _ in visible_long_cells()}
    assert set(LONG_CELLS) <= present, set(LONG_CELLS) - present


def test_the_notation_page_gives_each_symbol_one_meaning():
    """Each row of book/notation.md's tables defines a different symbol or name."""
    page = (BOOK / "notation.md").read_text()
    names = [row.split("|")[1].strip() for row in page.splitlines() if re.match(r"\| [^-]", row)]
    names = [n for n in names if n not in ("symbol", "name")]
    assert len(names) > 30
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, dup
    assert "book/notation" in (ROOT / "_toc.yml").read_text()


def test_the_checker_catches_a_long_visible_cell(tmp_path, monkeypatch):
    """The visible-cell rule fails on a long untagged cell and passes it once tagged hide-input."""
    cell = {"cell_type": "code", "metadata": {}, "source": "\n".join(f"x{i} = {i}" for i in range(16))}
    page = tmp_path / "99_x.ipynb"
    page.write_text(json.dumps({"cells": [cell]}))
    monkeypatch.setattr(sys.modules[__name__], "PAGES", [page])
    assert visible_long_cells() == [("99_x", "x0 = 0", 16)]
    cell["metadata"]["tags"] = ["hide-input"]
    page.write_text(json.dumps({"cells": [cell]}))
    assert visible_long_cells() == []
