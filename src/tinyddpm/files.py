"""Writing files the way ``open()`` does, but atomically: one helper for every file tinyddpm writes.

A file is written to a temporary name in the target folder and renamed into place, so a reader
never sees half a file and an error never leaves one behind. ``tempfile.mkstemp`` creates the
temporary file with mode 0600; before the rename it gets ``0666 & ~umask``, the mode ``open()``
would have given it, so outputs are readable by others exactly when the user's umask says so.
With ``overwrite=False`` the file is linked into place, never over an existing name.
"""

from __future__ import annotations

import errno
import glob
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

TMP_SUFFIX = ".tmp"


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


def atomic_write(
    path: str | os.PathLike, write: Callable[[str], None], *, fsync: bool = False, overwrite: bool = True
) -> None:
    """Call ``write(tmp_name)`` then move the result to ``path`` with mode 0666 & ~umask.

    ``overwrite=False`` never replaces anything: the temporary file is hard-linked to ``path``,
    which fails with ``FileExistsError`` if any entry of that name exists (a file another process
    has just written, a dangling symbolic link), then unlinked. On file systems without hard
    links the name is claimed with ``O_CREAT | O_EXCL`` (``O_NOFOLLOW``) and then replaced.
    Raises ``OSError`` from mkstemp when the folder is missing or not writable; whatever
    ``write`` raises is re-raised after the temporary file is removed.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=os.path.abspath(path.parent))
    os.close(fd)
    try:
        write(tmp)
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())
        if overwrite:
            os.replace(tmp, path)
        else:
            _move_no_clobber(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _move_no_clobber(tmp: str, path: Path) -> None:
    try:
        os.link(tmp, path, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError:  # no hard links here (some network or FAT file systems): claim the name first
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
        os.replace(tmp, path)
        return
    os.unlink(tmp)


def remove_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the temporary files :func:`atomic_write` left for ``path`` when it was killed; -> removed."""
    path = Path(path)
    removed = []
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*{TMP_SUFFIX}"):
        if stale.is_file() and not stale.is_symlink():
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def open_no_follow(path: str | os.PathLike, flags: int, mode: str) -> IO:
    """``open()`` for files in a folder others may write to: never through a symbolic link.

    ``flags`` are ``os.open`` flags (``O_NOFOLLOW`` is added), ``mode`` the text mode of the file
    object (``"r"``, ``"a"``, ``"r+"``); the entry must be a regular file (not a FIFO or device).
    Raises ``OSError`` naming the path when it is a symbolic link or not a regular file.
    """
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, 0o666)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, f"{path}: is a symbolic link; not followed") from None
        raise
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, f"{path}: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, mode, newline="")
    except BaseException:
        os.close(fd)
        raise
