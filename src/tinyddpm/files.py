"""Writing files the way ``open()`` does, but atomically: one helper for every file tinyddpm writes.

A file is written to a temporary name in the target folder and renamed into place, so a reader
never sees half a file and an error never leaves one behind. ``tempfile.mkstemp`` creates the
temporary file with mode 0600; before the rename it gets ``0666 & ~umask``, the mode ``open()``
would have given it, so outputs are readable by others exactly when the user's umask says so.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux /proc)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: the classic read-by-setting, restored at once
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], *, fsync: bool = False) -> None:
    """Call ``write(tmp_name)`` then rename the result to ``path`` with mode 0666 & ~umask.

    Raises ``OSError`` from mkstemp when the folder is missing or not writable; whatever
    ``write`` raises is re-raised after the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=os.path.abspath(path.parent))
    os.close(fd)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
