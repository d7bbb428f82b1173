"""All-or-nothing writes of the snapshot folder and the key file: temp file, fsync, rename or link, fsync."""

from __future__ import annotations

import contextlib
import errno
import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from watui.core.durable import fsync_dir


def _bytes_of(text: str) -> Callable[[io.BufferedWriter], None]:
    def write(out: io.BufferedWriter) -> None:
        out.write(text.encode())

    return write


def _atomic_write(path: Path, fill: Callable[[io.BufferedWriter], None], overwrite: bool = True) -> None:
    """Write ``path`` all or nothing: ``fill`` writes a temp file beside it (mode 0600, as mkstemp makes
    it), which is fsync'd and renamed over ``path`` (linked to it with ``overwrite=False``: FileExistsError
    when it exists); then the folder is fsync'd. An error without a file name (a full disk) names ``path``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _named(exc, path.parent) from None
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.rename(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _named(exc, path) from None
        raise
    fsync_dir(path.parent)


def _link_new(tmp: str, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if nothing has it (link: atomic, FileExistsError otherwise)."""
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP) or os.path.lexists(path):
            raise
        os.rename(tmp, path)  # a filesystem without hard links (vfat, some FUSE): checked just before
        return
    os.unlink(tmp)


def _named(exc: OSError, path: Path) -> OSError:
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def _make_private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
