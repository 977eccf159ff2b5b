"""Execute the book's notebooks in place (storing fresh outputs) and record each one's wall time.

    python benchmarks/book_times.py                 # every chapter in book/, in order
    python benchmarks/book_times.py book/05_denoising.ipynb

Writes ``benchmarks/results/book_times.json`` (merged with earlier entries), which the closing
notes and the book's preface quote; nbval (the test command) then re-executes the stored
notebooks and compares their outputs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "book_times.json"


def execute(path: Path, timeout: int = 900) -> float:
    """Run every cell of ``path`` with its folder as working directory; returns seconds."""
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - t0
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("notebooks", nargs="*", type=Path)
    a = p.parse_args(argv)
    paths = a.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    times = json.loads(OUT.read_text()) if OUT.exists() else {}
    for path in paths:
        sec = execute(path.resolve())
        times[path.name] = round(sec, 1)
        print(f"{path.name:28s} {sec:7.1f} s", flush=True)
        OUT.write_text(json.dumps(dict(sorted(times.items())), indent=1) + "\n")
    print(f"total {sum(times.values()):.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
