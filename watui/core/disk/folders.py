"""The folders watui keeps under session_path: private to their owner, created 0700, written durably.

Blocking I/O, like the rest of ``core/disk``.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path

from watui.core.errors import UnsafePathError

MARKER = ".watui-session"


def private_folder_problem(folder: Path, uid: int) -> str | None:
    """Why ``folder`` (an existing folder) is not private to ``uid``: another uid owns it, or group or
    others may write it (so may replace what watui keeps there); None when it is private. One line, with
    its fix: ``<path>: owned by uid N, expected M; fix: chown M <path>``."""
    st = os.stat(folder)
    if st.st_uid != uid:
        fix = f"chown {uid} {folder} (or run watui as uid {st.st_uid})"
        return f"{folder}: owned by uid {st.st_uid}, expected {uid}; fix: {fix}"
    if st.st_mode & 0o022:
        mode = stat.S_IMODE(st.st_mode)
        return f"{folder}: writable by group or others (mode {mode:o}); fix: chmod go-w {folder}"
    return None


def check_private_folder(folder: Path, key: str, uid: int | None = None) -> None:
    """UnsafePathError naming ``key`` when an existing ``folder`` is not private to ``uid`` (default: ours)."""
    if not folder.is_dir():
        return
    problem = private_folder_problem(Path(os.path.realpath(folder)), os.geteuid() if uid is None else uid)
    if problem:
        raise UnsafePathError(f"{key} {problem}")


def looks_like_session_root(folder: Path) -> bool:
    """An empty folder, one with watui's marker, or one holding a LocalAuth session folder."""
    entries = list(list_dir(folder))
    if not entries:
        return True
    for entry in entries:
        if entry.name == MARKER:
            return True
        is_session = entry.name == "session" or entry.name.startswith("session-")
        if is_session and entry.is_dir():
            return True
    return False


def list_dir(folder: Path) -> Iterable[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return list(it)
    except OSError:
        return []


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and missing parents with mode 0700 (sessions hold login keys)."""
    missing = []
    current = folder
    while not os.path.lexists(current):
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def write_durably(path: Path, data: bytes, top: Path) -> None:
    """Write a new file, fsync it and every folder from its own up to ``top``, so it outlives a crash."""
    make_private_dirs(path.parent)
    # Owner-only and never over an existing file: the bytes may hold the login's keys.
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    folder = path.parent
    while True:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        if folder == top or folder == folder.parent:
            return
        folder = folder.parent
