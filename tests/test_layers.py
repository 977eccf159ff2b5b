"""The package's import graph: no cycles, and no module imports one of a higher layer.

Layers, lowest first (a module may import only from its own layer or below, and the graph must
be acyclic); every module of the package must appear here, so a new one gets a place on purpose.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tinyddpm"

LAYERS: list[set[str]] = [
    {
        "config",
        "options",
        "seeding",
        "files",
        "metrics",
        "precision",
        "book_data",
    },  # no tinyddpm imports, or only each other
    {
        "schedules",
        "data",
        "optim",
        "unet",
        "classifier",
        "vae",
        "sigma_net",
        "augment",
        "student",  # the student's recipe: network, schedule, loss, chain
        "clipping",  # clipped inputs: censored-normal statistics
        "resample",  # pictures onto the 28x28 field
    },  # formulas, data, networks
    {"diffusion", "analytic", "checkpoint", "io", "viz"},  # the process, weights on disk, files
    {"samplers", "noise_level", "preprocess"},  # reverse chain, sigma estimators, photos to MNIST form
    {"denoise", "generate", "interop", "baselines", "supervised", "evaluate"},  # jobs, rivals, measurement
    {"export"},  # the denoiser as an ONNX file for the book's page
    {"runs", "train"},  # training (imports torch.distributed)
    {"cli", "__init__", "__main__"},  # entry points
]
RANK = {m: i for i, layer in enumerate(LAYERS) for m in layer}


def package_imports(path: Path) -> set[str]:
    """Names of tinyddpm modules that ``path`` imports anywhere (top level or inside functions)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    out.add(node.module.split(".")[0])
                else:
                    out.update(a.name for a in node.names)
            elif node.module and node.module.startswith("tinyddpm."):
                out.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            out.update(a.name.split(".")[1] for a in node.names if a.name.startswith("tinyddpm."))
    return out


GRAPH = {p.stem: package_imports(p) for p in SRC.glob("*.py")}


def test_every_module_has_a_layer():
    assert set(GRAPH) == set(RANK), set(GRAPH) ^ set(RANK)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    up = {m for m in GRAPH[module] if RANK[m] > RANK[module]}
    assert not up, f"{module} (layer {RANK[module]}) imports {sorted(up)} from a higher layer"


def test_no_import_cycle():
    state: dict[str, int] = {}

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in GRAPH[m]:
            if state.get(n) == 1:
                raise AssertionError(f"import cycle: {' -> '.join(path[path.index(n) :] + [n])}")
            if n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m, [m])


def test_the_checker_sees_a_cycle():
    """The checker itself: a two-module cycle is found (so a passing test means something)."""
    saved = GRAPH["schedules"]
    GRAPH["schedules"] = saved | {"diffusion"}
    try:
        with pytest.raises(AssertionError, match="import cycle"):
            test_no_import_cycle()
    finally:
        GRAPH["schedules"] = saved


def test_importing_the_denoiser_does_not_import_the_trainer():
    code = "import sys, tinyddpm.denoise; print(sorted(m for m in sys.modules if m.startswith('tinyddpm')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = r.stdout
    assert "'tinyddpm.train'" not in loaded and "'tinyddpm.cli'" not in loaded, loaded  # quoted: not clipping
    harness = ("student", "train", "vae", "classifier", "optim", "evaluate")  # the lazy registry's
    assert not [m for m in harness if f"'tinyddpm.{m}'" in loaded], loaded
