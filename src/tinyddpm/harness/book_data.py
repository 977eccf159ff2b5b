"""Result files the book tabulates, shipped inside the package so that a chapter reads them the
same way in a clone, in a ``pip install``-ed copy and in Colab (where no repository is on disk),
and the HTML table the book shows results in.

``src/tinyddpm/harness/results/`` is the repository's one results folder: every script in
``benchmarks/`` writes its file there (``benchmarks/run.py`` the benchmark files,
``benchmarks/book_times.py`` the chapters' run times), and the package ships it as data.
``tests/test_colab.py`` installs the wheel into a fresh virtual environment to check that the
chapters find these files from there.

>>> from tinyddpm.harness.book_data import read_json, results_path
>>> results_path("bench_quality.json").name
'bench_quality.json'
>>> sorted(read_json("bench_quality.json")["sigmas"])[:2]
['0.05', '0.1']
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

RESULTS_DIR = "results"


def results_names() -> list[str]:
    """Names of the shipped result files, sorted."""
    folder = resources.files("tinyddpm.harness").joinpath(RESULTS_DIR)
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


def results_path(name: str) -> Path:
    """Path of the shipped result file ``name`` (e.g. ``"bench_quality.json"``) inside the package.

    Raises ``FileNotFoundError`` (listing the shipped names) when there is no such file.
    """
    ref = resources.files("tinyddpm.harness").joinpath(RESULTS_DIR, name)
    if "/" in name or "\\" in name or not ref.is_file():
        raise FileNotFoundError(f"no shipped result file {name!r} (shipped: {', '.join(results_names())})")
    return Path(str(ref))


def read_json(name: str) -> Any:
    """The shipped JSON result file ``name``, parsed."""
    return json.loads(results_path(name).read_text())


class HTMLTable:
    """A table that Jupyter shows as an HTML ``<table>`` (``_repr_html_``), plain text elsewhere.

    A Markdown table shown with ``display(Markdown(...))`` reaches the built book as a paragraph
    full of ``|``; printed, fixed-width tables overflow the page's text column. ``header`` and
    every row of ``rows`` hold one cell per column: a value, or a tuple of values shown one per
    line. The first column is left-aligned (names), the others right-aligned (numbers).

    >>> print(repr(HTMLTable(["method", "PSNR (dB)"], [["posterior mean", "25.20"]])))
    method          PSNR (dB)
    posterior mean      25.20
    """

    def __init__(self, header: Sequence[Any], rows: Sequence[Sequence[Any]], caption: str = "") -> None:
        if any(len(r) != len(header) for r in rows):
            raise ValueError(f"every row needs {len(header)} cells, one per column of the header")
        self.header, self.rows, self.caption = list(header), [list(r) for r in rows], caption

    @staticmethod
    def _lines(cell: Any) -> list[str]:
        return [str(v) for v in cell] if isinstance(cell, tuple) else [str(cell)]

    def _repr_html_(self) -> str:
        def td(cell: Any, tag: str, first: bool) -> str:
            align = "left" if first else "right"  # names left, numbers right; room between columns
            style = f' style="text-align: {align}; padding: 0.15em 0.6em"'
            return f"<{tag}{style}>" + "<br>".join(escape(s) for s in self._lines(cell)) + f"</{tag}>"

        def tr(cells: Sequence[Any], tag: str) -> str:
            return "<tr>" + "".join(td(c, tag, j == 0) for j, c in enumerate(cells)) + "</tr>"

        cap = f"<caption>{escape(self.caption)}</caption>" if self.caption else ""
        body = "".join(tr(r, "td") for r in self.rows)
        return f"<table>{cap}<thead>{tr(self.header, 'th')}</thead><tbody>{body}</tbody></table>"

    def __repr__(self) -> str:
        table = [[" / ".join(self._lines(c)) for c in r] for r in [self.header, *self.rows]]
        widths = [max(len(r[j]) for r in table) for j in range(len(self.header))]
        lines = [
            "  ".join(
                c.ljust(w) if j == 0 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))
            ).rstrip()
            for r in table
        ]
        return "\n".join(([self.caption] if self.caption else []) + lines)
