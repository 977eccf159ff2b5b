"""Write the small intersphinx inventories the API page links through, for offline builds.

The book builds without network access (CI, this repository's machines), so intersphinx cannot
fetch https://docs.python.org/3/objects.inv and friends. These files hold only the names that
the package's signatures and docstrings mention, each pointing at its page in the official docs.
When `jupyter-book build . -W -n` reports a new `py:class reference target not found: X` for a
Python, NumPy or PyTorch name, add X below and run `python book/_intersphinx/make_inventories.py`.

The Sphinx inventory format (version 2): four header lines, then zlib-compressed lines of
`name domain:role priority uri display-name`; a uri ending in `$` means "append the name", a
display name of `-` means "the name itself". Private or internal names that annotations resolve
to (torch._C.Generator, torch.nn.modules.module.Module, ...) point at their public documentation.
"""

from __future__ import annotations

import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

INVENTORIES: dict[str, tuple[str, str, list[tuple[str, str, str]]]] = {
    # file: (project, version, [(name, domain:role, uri)])
    "python.inv": ("Python", "3", [
        ("collections.abc.Callable", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Iterable", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Iterator", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Mapping", "py:class", "library/collections.abc.html#$"),
        ("collections.abc.Sequence", "py:class", "library/collections.abc.html#$"),
        ("os.PathLike", "py:class", "library/os.html#$"),
        ("pathlib.Path", "py:class", "library/pathlib.html#$"),
        ("typing.Any", "py:data", "library/typing.html#$"),
        ("typing.Literal", "py:data", "library/typing.html#$"),
        ("typing.Protocol", "py:class", "library/typing.html#$"),
    ]),
    "numpy.inv": ("NumPy", "stable", [
        ("numpy.ndarray", "py:class", "reference/generated/numpy.ndarray.html#$"),
        ("numpy.dtype", "py:class", "reference/generated/numpy.dtype.html#$"),
        ("numpy.random._generator.Generator", "py:class",
         "reference/random/generator.html#numpy.random.Generator"),
    ]),
    "pillow.inv": ("Pillow", "stable", [
        ("PIL.Image.Image", "py:class", "reference/Image.html#$"),
    ]),
    "torch.inv": ("PyTorch", "stable", [
        ("torch.Tensor", "py:class", "tensors.html#$"),
        ("torch.Generator", "py:class", "generated/torch.Generator.html#$"),
        ("torch._C.Generator", "py:class", "generated/torch.Generator.html#torch.Generator"),
        ("torch.device", "py:class", "tensor_attributes.html#$"),
        ("torch.dtype", "py:class", "tensor_attributes.html#$"),
        ("torch.nn.Module", "py:class", "generated/torch.nn.Module.html#$"),
        ("torch.nn.modules.module.Module", "py:class", "generated/torch.nn.Module.html#torch.nn.Module"),
        ("torch.optim.Optimizer", "py:class", "optim.html#$"),
        ("torch.optim.optimizer.Optimizer", "py:class", "optim.html#torch.optim.Optimizer"),
    ]),
}


def inventory(project: str, version: str, entries: list[tuple[str, str, str]]) -> bytes:
    head = (f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
            "# The remainder of this file is compressed using zlib.\n")
    body = "".join(f"{name} {role} 1 {uri} -\n" for name, role, uri in sorted(entries))
    return head.encode() + zlib.compress(body.encode(), 9)


def main() -> None:
    for filename, (project, version, entries) in INVENTORIES.items():
        (HERE / filename).write_bytes(inventory(project, version, entries))


if __name__ == "__main__":
    main()
