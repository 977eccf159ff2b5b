"""No hand-typed results in the book's prose: every number a reader sees comes from code.

A number in a Markdown cell of a chapter notebook (and in book/intro.md) must be one of:
- a glued value, {glue:text}`name:.2f` (myst-nb pastes what the code computed), or inside any
  other MyST role ({cite}`...`, {doc}`...`);
- inside an equation ($...$, $$...$$), inline code, a fenced code block or a link target;
- a chapter, figure, section, equation or algorithm number ("chapter 5", "Eqs. 6-7"), or an
  ordered-list marker;
- an input the code sets (a sigma, a step count, a seed): listed, with the reason, in
  tests/prose_allowlist/<page stem>.txt, one token per line, "token  # why". A page without
  such a file has an empty allowlist.
Digits inside a word (bfloat16, x0, log10) are names, not numbers, and are not checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWLISTS = Path(__file__).parent / "prose_allowlist"
PAGES = sorted((ROOT / "book").glob("*.ipynb")) + [ROOT / "book" / "intro.md"]

HIDDEN = [
    re.compile(r"^(```|~~~).*?^\1", re.S | re.M),  # fenced code blocks and MyST directives
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"(?<!\\)\$.+?(?<!\\)\$", re.S),  # inline math
    re.compile(r"\{[\w:.-]+\}`[^`]*`"),  # MyST roles: {glue:text}`x:.2f`, {cite}`key`, {doc}`api`
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\]\([^)]*\)|<https?://[^>]*>|https?://\S+"),  # link targets and bare URLs
    re.compile(  # references to numbered things, also ranges and lists of them
        r"\b(?:chapters?|ch\.|figures?|figs?\.|sections?|eqs?\.|equations?|algorithms?|appendix|"
        r"theorem|table|part|exercises?)\s+\d+(?:\s*(?:-|–|,|and|or|to)\s*\d+)*",
        re.I,
    ),
    re.compile(r"^\s*\d+\.\s", re.M),  # ordered-list markers
]
NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?!\w)")  # 0.3, 1,000, 2e-3 is a name: not here


def markdown_sources(page: Path) -> list[str]:
    if page.suffix == ".md":
        return [page.read_text()]
    cells = json.loads(page.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]


def allowlist(stem: str) -> set[str]:
    path = ALLOWLISTS / f"{stem}.txt"
    if not path.exists():
        return set()
    tokens = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return {t for t in tokens if t}


def typed_numbers(text: str, allowed: set[str] = frozenset()) -> list[str]:
    """The numbers in Markdown ``text`` that no rule above accounts for, each with its context."""
    for pattern in HIDDEN:
        text = pattern.sub(" ", text)
    found = []
    for m in NUMBER.finditer(text):
        token = m.group().rstrip(",")
        if token not in allowed:
            context = " ".join(text[max(0, m.start() - 40) : m.end() + 30].split())
            found.append(f"{token!r} in ...{context}...")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_no_hand_typed_numbers_in_the_prose(page):
    allowed = allowlist(page.stem)
    found = [n for text in markdown_sources(page) for n in typed_numbers(text, allowed)]
    assert not found, (
        f"{page.name}: numbers typed by hand (glue them, or list an input in "
        f"tests/prose_allowlist/{page.stem}.txt):\n  " + "\n  ".join(found)
    )


@pytest.mark.parametrize("stem", sorted(p.stem for p in ALLOWLISTS.glob("*.txt")))
def test_each_allowlist_belongs_to_a_page_and_gives_reasons(stem):
    assert stem in {p.stem for p in PAGES}, f"{stem}.txt: no such page"
    for line in (ALLOWLISTS / f"{stem}.txt").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            assert re.fullmatch(r"\S+\s+#\s*\S.*", line.strip()), f"{stem}.txt: {line!r} needs '# why'"


def test_the_check_catches_a_typed_result_and_lets_computed_ones_pass():
    typed = "The posterior mean reaches 31.4 dB at this noise level."
    assert [n.split(" in ")[0] for n in typed_numbers(typed)] == ["'31.4'"]
    assert typed_numbers(typed, {"31.4"}) == []
    fine = (
        "It reaches {glue:text}`psnr_pm:.2f` dB {cite}`ho2020ddpm` at $\\sigma = 0.3$ (chapter 5,\n"
        "Eqs. 6-7, figures 2 and 3); `steps=20`; [the API](api.md#x1); bfloat16 and x0 are names.\n"
        "$$ \\bar\\alpha_{300} \\approx 0.049 $$\n1. first\n2. second\n```python\ny = 0.25\n```\n"
    )
    assert typed_numbers(fine) == []
    assert len(typed_numbers("chapter 5 measured 12 of 50 flips, 1,000 digits")) == 3
