"""The package's import graph: the library apart from the harness, no cycles, no upward import.

``tinyddpm`` is two packages in one tree (``../shared/DESIGN.md``): the library (the modules of
``src/tinyddpm/``), which removes noise, and the harness (``src/tinyddpm/harness/``), which trains
and measures. The harness imports the library; no library module imports the harness, except the
entry points (``cli``, ``__init__``) inside a function, on first use.

Within each part, layers, lowest first: a module may import only from its own layer or below,
and the graph must be acyclic. Every module must appear here, so a new one gets a place on purpose.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tinyddpm"

LIBRARY: list[set[str]] = [
    {"config", "options", "seeding", "files", "metrics", "precision"},  # no tinyddpm imports but each other
    {"schedules", "data", "unet", "sigma_net", "clipping", "resample"},  # formulas, networks, statistics
    {"diffusion", "checkpoint", "io", "viz"},  # the process, weights on disk, image files
    {"samplers", "noise_level", "preprocess"},  # reverse chain, sigma estimators, photos to MNIST form
    {"denoise", "generate"},  # the two jobs
    {"cli", "__init__", "__main__"},  # entry points
]
HARNESS: list[set[str]] = [
    {"harness.__init__", "harness.book_data", "harness.analytic", "harness.supervised"},
    {"harness.optim", "harness.augment", "harness.runs", "harness.interop"},  # training pieces, diffusers
    {"harness.classifier", "harness.vae", "harness.sigma_trainer", "harness.student", "harness.train"},
    {"harness.baselines", "harness.evaluate", "harness.export"},  # rivals, measurement, the page's file
]
ENTRY_POINTS = {"cli", "__init__"}  # may import the harness, inside a function only
RANK = {m: i for i, layer in enumerate(LIBRARY + HARNESS) for m in layer}


def module_name(path: Path) -> str:
    """``harness.train`` for ``src/tinyddpm/harness/train.py``, ``denoise`` for ``.../denoise.py``."""
    return ".".join(path.relative_to(SRC).with_suffix("").parts)


def package_imports(source: str, module: str, *, top_level_only: bool = False) -> set[str]:
    """Names (as :func:`module_name` gives them) of the tinyddpm modules that ``source``, the text
    of ``module``, imports anywhere, or only at module level with ``top_level_only``."""
    package = module.split(".")[:-1]  # [] for the library, ["harness"] for the harness
    tree = ast.parse(source)
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    out: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: "from .x import y", "from ..x import y", "from . import x"
                parent = ".".join(package[: len(package) - (node.level - 1)] + (node.module or "").split("."))
            elif node.module and node.module.startswith("tinyddpm."):
                parent = node.module.removeprefix("tinyddpm.")
            else:
                continue
            parent = parent.strip(".")
            for alias in node.names:  # "from .harness import evaluate" imports the module harness.evaluate
                child = f"{parent}.{alias.name}" if parent else alias.name
                out.add(child if child in RANK else parent)
        elif isinstance(node, ast.Import):
            out.update(a.name.removeprefix("tinyddpm.") for a in node.names if a.name.startswith("tinyddpm."))
    return out


FILES = {module_name(p): p for p in SRC.rglob("*.py")}
GRAPH = {m: package_imports(p.read_text(), m) for m, p in FILES.items()}


def is_harness(module: str) -> bool:
    return module.startswith("harness")


def test_every_module_has_a_layer():
    assert set(GRAPH) == set(RANK), set(GRAPH) ^ set(RANK)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    up = {m for m in GRAPH[module] if is_harness(m) == is_harness(module) and RANK[m] > RANK[module]}
    assert not up, f"{module} (layer {RANK[module]}) imports {sorted(up)} from a higher layer"


@pytest.mark.parametrize("module", sorted(m for m in GRAPH if not is_harness(m)))
def test_the_library_does_not_import_the_harness(module):
    if module in ENTRY_POINTS:
        reached = package_imports(FILES[module].read_text(), module, top_level_only=True)
    else:
        reached = GRAPH[module]
    harness = sorted(m for m in reached if is_harness(m))
    assert not harness, f"library module {module} imports the harness: {harness}"


def test_the_checker_sees_a_library_module_importing_the_harness():
    """The checker itself: a top-level harness import in an entry point is caught, one inside a
    function is not; an absolute import and a harness module's ``..`` import resolve alike."""
    source = "from .harness.train import train\n\ndef f():\n    from .harness import evaluate\n"
    assert package_imports(source, "cli", top_level_only=True) == {"harness.train"}
    assert package_imports(source, "cli") == {"harness.train", "harness.evaluate"}
    assert package_imports("from ..unet import UNet\nimport tinyddpm.harness.runs", "harness.train") == {
        "unet",
        "harness.runs",
    }


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


@pytest.mark.parametrize("entry", ["tinyddpm.denoise", "tinyddpm"])
def test_importing_the_denoiser_loads_no_harness_module(entry):
    """What ``python -X importtime -c "import tinyddpm.denoise"`` lists: the library only (no
    trainer, student recipe, VAE, classifier, optimiser or evaluation module)."""
    code = f"import sys, {entry}; print(sorted(m for m in sys.modules if m.startswith('tinyddpm')))"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = eval(r.stdout)  # a printed list of strings
    assert loaded and not [m for m in loaded if m.startswith("tinyddpm.harness")], loaded
    assert "tinyddpm.cli" not in loaded, loaded
