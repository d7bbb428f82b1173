"""The API's paths, the one copy for the server and its clients: the HTTP paths (API, PAGE, OWNER_PATH,
MESSAGES_PATH, TRAFFIC_PATH) and the owner's control socket (where it is, how a long path is reached, who is at
the other end).

No aiohttp here: the clients (watui/remote/) and the CLI import it without loading the server.
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

API = "/api/whatsapp"
PAGE = "/whatsapp-diagnostics"
OWNER_PATH = "/api/owner"
MESSAGES_PATH = f"{API}/messages"  # POST a send, GET ?since=CURSOR, GET /{id} (api/messages.py; remote/session.py)
TRAFFIC_PATH = f"{API}/traffic"  # GET: the messaging figures now (api/messages.py; remote/session.py)

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
