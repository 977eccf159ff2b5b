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
    assert run_cmd.startswith("pip install") and "tinyddpm demo" in run_cmd


def test_torch_ranges_admit_the_local_wheels():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch>=2.4" in deps and "torchvision>=0.19" in deps
    env = (ROOT / "environment.yml").read_text()
    assert "torch>=2.4" in env and "torchvision>=0.19" in env
