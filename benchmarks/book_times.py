"""Execute the book's notebooks in place (storing fresh outputs) and record how long each one takes.

    python benchmarks/book_times.py                 # every chapter in book/, in order
    python benchmarks/book_times.py book/05_denoising.ipynb
    python benchmarks/book_times.py --no-store      # time only: leave the notebooks untouched

Per notebook it records ``wall_s``, the wall time; ``cpu_s``, the CPU time its kernel used (user +
system, its threads and waited-for children included; Linux only, else null); and ``load``, the
mean 1-minute load average of the machine at the end of each cell. On a shared machine the wall
time grows with the load, the CPU time hardly: a kernel that runs on at most the machine's cores
(torch uses one thread per core) and keeps at least one busy would take at most ``cpu_s`` of wall
time on the same machine alone, which is the bound the book quotes.

The kernels run with ``OMP_WAIT_POLICY=PASSIVE`` unless the environment sets it: torch's OpenMP
threads then sleep while they wait for each other instead of spinning. On an idle machine that
changes little; on a shared one, spinning threads burn CPU time that measures nothing, and a
thread that spins while the one it waits for is descheduled can stretch a one-second cell to a
minute. The results do not change (same threads, same work split).

Writes ``src/tinyddpm/harness/results/book_times.json`` (merged with earlier entries, with the machine,
threads and precision of the last run under ``_machine``): package data that the book reads.
The appendix page of engineering measurements (``book/appendix_engineering.ipynb``) tabulates these
times and glues the slowest chapter's (``book_max_minutes``), which the preface quotes; so after
recording, the script always re-executes that page and stores its outputs (without timing it
again), also with ``--no-store``. nbval (the test command) then
re-executes the stored notebooks and compares their outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from tinyddpm.harness.evaluate import machine

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "tinyddpm" / "harness" / "results" / "book_times.json"
READERS = (ROOT / "book" / "appendix_engineering.ipynb",)  # notebooks that show book_times.json


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` and its waited-for children (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime


def execute(path: Path, *, store: bool = True, timeout: int = 900) -> dict:
    """Run every cell of ``path`` with its folder as working directory; returns its times."""
    nb = nbformat.read(path, as_version=4)
    seen: dict = {"cpu_s": None, "load": []}

    def after_cell(**_) -> None:  # the kernel is still alive here: read its CPU time so far
        seen["cpu_s"] = cpu_seconds(client.km.provisioner.pid)
        seen["load"].append(os.getloadavg()[0])

    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        on_cell_executed=after_cell,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    if store:
        nbformat.write(nb, path)
    load = sum(seen["load"]) / max(1, len(seen["load"]))
    cpu = None if seen["cpu_s"] is None else round(seen["cpu_s"], 1)
    return {"wall_s": round(seconds, 1), "cpu_s": cpu, "load": round(load, 1)}


def write(times: dict) -> None:
    text = json.dumps(dict(sorted(times.items())), indent=1) + "\n"
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("notebooks", nargs="*", type=Path)
    p.add_argument("--no-store", action="store_true", help="time the notebooks, do not store their outputs")
    a = p.parse_args(argv)
    paths = [q.resolve() for q in a.notebooks] or sorted((ROOT / "book").glob("*.ipynb"))
    times = json.loads(OUT.read_text()) if OUT.exists() else {}
    times = {k: v for k, v in times.items() if isinstance(v, dict)}  # drops entries of an older format
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see the docstring
    # the kernels inherit this process's environment (OMP_NUM_THREADS, OMP_WAIT_POLICY)
    times["_machine"] = {**machine(), "OMP_WAIT_POLICY": os.environ["OMP_WAIT_POLICY"]}
    for path in paths:
        times[path.name] = r = execute(path, store=not a.no_store)
        print(f"{path.name:28s} {r['wall_s']:7.1f} s wall, {r['cpu_s']} s CPU, load {r['load']}", flush=True)
        write(times)
    chapters = [v for k, v in times.items() if not k.startswith("_")]
    print(f"total {sum(v['wall_s'] for v in chapters):.1f} s wall")
    for reader in READERS:  # its stored tables and glued numbers must show the file just written
        execute(reader)
        print(f"{reader.name:28s} re-executed to show the new times", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
