"""The README's two commands are the contract; CI must run the same test command."""

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]


def bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = bash_blocks(readme)
    test_cmd = next(b for b in blocks if "pytest" in b)
    ci = (ROOT / ".ci" / "run").read_text()
    assert test_cmd in ci
    run_cmd = blocks[0]
    fresh = "python3 -m venv .venv && . .venv/bin/activate && pip install -e "
    assert test_cmd.startswith(fresh), "the test command makes its own fresh virtual environment"
    assert run_cmd.startswith(fresh) and "tinyddpm demo" in run_cmd
    assert "rm -rf .venv" in ci, "CI starts from a fresh environment every run"


def test_torch_ranges_admit_the_local_wheels():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch>=2.4" in deps and "torchvision>=0.19" in deps
    env = (ROOT / "environment.yml").read_text()
    assert "torch>=2.4" in env and "torchvision>=0.19" in env


def test_readme_names_the_repository_of_config_yml_only():
    """The repository URL lives in _config.yml; every GitHub or GitHub Pages address in the README
    is that repository's (https://github.com/OWNER/NAME or https://OWNER.github.io/NAME/)."""
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    owner, name = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+)", url).groups()
    readme = (ROOT / "README.md").read_text()
    repos = re.findall(r"https?://github\.com/([\w.-]+/[\w.-]+)", readme)
    pages = re.findall(r"https?://([\w-]+)\.github\.io/([\w.-]+)", readme)
    assert repos and all(r == f"{owner}/{name}" for r in repos), repos
    assert all(p == (owner, name) for p in pages), pages


def test_the_book_workflow_builds_what_the_tests_build():
    """book.yml deploys a build made with -W -n, like tests/test_book.py; tests.yml runs .ci/run."""
    book = (ROOT / ".github" / "workflows" / "book.yml").read_text()
    assert re.search(r"jupyter-book build \. -W -n\b", book), "book.yml must build with -W -n"
    assert "github.io" not in book and "github.com/" not in book, "the URL lives in _config.yml only"
    tests = (ROOT / ".github" / "workflows" / "tests.yml").read_text()
    assert re.search(r"run: \.ci/run\b", tests), "tests.yml must run .ci/run (browser, MathJax, tests)"


def test_the_module_table_names_every_module():
    """The README's module table lists every module of the package with its one job."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index("| module | job |")
    table = readme[start : readme.index("\n\n", start)]
    first_cells = [row.split("|")[1] for row in table.splitlines()[2:]]
    named = {m for cell in first_cells for m in re.findall(r"`(\w+(?:\.\w+)?)`", cell)}
    src = ROOT / "src" / "tinyddpm"
    modules = {".".join(p.relative_to(src).with_suffix("").parts) for p in src.rglob("*.py")}
    modules -= {"__init__", "__main__", "harness.__init__"}
    assert modules <= named, f"modules missing from the README's table: {sorted(modules - named)}"
    assert named <= modules, f"the table names modules that do not exist: {sorted(named - modules)}"


def test_readme_and_help_agree_on_the_demo():
    from tinyddpm.cli import build_parser

    readme = (ROOT / "README.md").read_text()
    assert "denoises the 1,000 bundled MNIST test digits" in readme
    demo = build_parser()._subparsers._group_actions[0].choices["demo"]
    helps = {a.dest: a.help for a in build_parser()._subparsers._group_actions[0]._choices_actions}
    assert "1,000 bundled test digits" in helps["demo"] and demo.prog.endswith("demo")
