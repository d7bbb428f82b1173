"""The owner's control socket as a file: where it is, how to reach it, whom to trust. No aiohttp here.

The server (``watui/api/control.py``) and its clients (``watui/api/client.py``) share these, so a client
finds and checks an owner without loading the server (aiohttp.web).
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from watui.config import Config

# AF_UNIX paths are limited to 108 bytes with the terminating NUL.
MAX_SOCKET_PATH = 107
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def socket_path(config: Config) -> Path:
    """Where the owner of ``config``'s session listens."""
    return config.session_root / f".watui-{config.session.client_id}.sock"


@contextlib.contextmanager
def reachable(path: Path) -> Iterator[str]:
    """``path`` as an AF_UNIX address. One longer than a socket address may be (108 bytes) is reached
    through its folder opened as ``/proc/self/fd/N``, so a deep ``session_path`` still gets a socket."""
    if len(os.fsencode(path)) <= MAX_SOCKET_PATH:
        yield str(path)
        return
    fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{path.name}"
    finally:
        os.close(fd)


def peer_uid(sock: Any) -> int | None:
    """The uid of the process at the other end of a Unix socket (``SO_PEERCRED``); None if unknown."""
    try:
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    except (OSError, AttributeError):
        return None
    _pid, uid, _gid = _PEERCRED.unpack(raw)
    return int(uid)


def peer_refusal(uid: int | None, owner_uid: int) -> str | None:
    """Why a peer must be refused (another uid, or one that cannot be told), or None to serve it."""
    if uid is None:
        return "peer credentials unavailable: refused"
    if uid != owner_uid:
        return f"uid {uid} refused: this session's watui runs as uid {owner_uid}"
    return None


def owner_refusal(uid: int | None, expected_uid: int, path: Path) -> str | None:
    """Why a client must not trust the process serving ``path`` (another uid, or one it cannot tell),
    or None: whoever else listens there could pose as the owner (draw its own QR, read the verbs)."""
    if uid is None:
        return f"{path}: the owner's credentials are unavailable: refusing to use it"
    if uid != expected_uid:
        return (
            f"{path}: served by uid {uid}, expected {expected_uid}: not this user's watui; fix: run watui as "
            f"uid {uid} if the session is theirs, else stop that process and remove {path}"
        )
    return None


def socket_file_refusal(address: str | Path, path: Path, expected_uid: int) -> str | None:
    """Why the file at ``address`` (``path`` as reached) is not this user's owner socket, or None.
    FileNotFoundError when there is none."""
    st = os.lstat(address)
    if not stat.S_ISSOCK(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a socket"
        return f"{path}: {kind}, not the owner's socket; fix: remove it (rm {path}) and restart the owner"
    if st.st_uid != expected_uid:
        return (
            f"{path}: owned by uid {st.st_uid}, expected {expected_uid}; fix: run watui as uid {st.st_uid} "
            f"if the session is theirs, else remove it (rm {path})"
        )
    return None


def not_a_socket(path: Path) -> str | None:
    """What is at ``path`` instead of a socket (a symlink, a folder, a file), or None (a socket, or
    nothing). Such a thing is never replaced: it is not a dead owner's, so it stays for its maker."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISSOCK(mode):
        return None
    kind = "a symlink" if stat.S_ISLNK(mode) else "a folder" if stat.S_ISDIR(mode) else "a file"
    return f"{path} is {kind}, not a socket; fix: remove it (rm {path}) and restart this watui"


def socketless_owner(config: Config, pid: int) -> str:
    """How another face names a live owner that serves no control socket (so it cannot attach)."""
    why = not_a_socket(socket_path(config)) or f"no socket at {socket_path(config)}"
    return f"watui (pid {pid}) runs but serves no control socket: {why}"
