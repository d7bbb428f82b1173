"""The owner's control socket: the same HTTP API as ``watui serve``, on ``<session_path>/.watui-<id>.sock``.

Whichever face owns a session (watch, serve, init, the dashboard) serves it here so every other watui on
that session can be its client (``watui/api/client.py``). Guarded three ways: the socket is 0600 inside
the 0700 session root, a peer of another uid is refused by ``SO_PEERCRED``, and it is never a network
port. Both ways: a client trusts only a socket file of its own uid served by a process of its own uid
(:func:`socket_file_refusal`, :func:`owner_refusal`), so whoever else listens at the path cannot pose as
the owner. The owner holds the session's owner lock before it binds, so a socket file already there is a
dead owner's (kill -9) and is replaced; anything else there (a symlink, a file) is not, and the owner
runs on without a socket, saying so (:func:`not_a_socket`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import struct
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from watui.api.paths import OWNER_PATH
from watui.config import Config

if TYPE_CHECKING:
    from watui.api.state import ManagerLike

log = logging.getLogger("watui.api.control")

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


def _peer_middleware(owner_uid: int) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def check_peer(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        transport = request.transport
        sock = transport.get_extra_info("socket") if transport is not None else None
        why = peer_refusal(peer_uid(sock), owner_uid)
        if why is not None:
            return web.json_response({"success": False, "error": why}, status=403)
        return await handler(request)

    return check_peer


@dataclass(frozen=True)
class OwnerInfo:
    """Who serves the socket: shown by attached faces ("attached to watui watch (pid N)")."""

    pid: int
    face: str
    demo: bool

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "face": self.face, "demo": self.demo}


_OWNER_KEY = web.AppKey("watui_owner", OwnerInfo)


async def _owner(request: web.Request) -> web.Response:
    return web.json_response(request.app[_OWNER_KEY].to_json())


def build_control_app(
    manager: ManagerLike, owner: OwnerInfo, *, simulator: Any = None, owner_uid: int | None = None
) -> web.Application:
    """``watui serve``'s app (no token: the socket's mode and the peer check guard it), plus who owns it.
    Only peers of ``owner_uid`` (default: this process's effective uid) are served."""
    from watui.api.app import build_app  # here: clients of the socket never load the server

    app = build_app(manager, token="", simulator=simulator)
    app.middlewares.insert(0, _peer_middleware(os.geteuid() if owner_uid is None else owner_uid))
    app[_OWNER_KEY] = owner
    app.router.add_get(OWNER_PATH, _owner)
    return app


class ControlServer:
    """A listening control socket; ``close()`` stops it and removes the file if it is still ours."""

    def __init__(self, runner: web.AppRunner, path: Path, inode: int) -> None:
        self._runner = runner
        self.path = path
        self._inode = inode

    async def close(self) -> None:
        await self._runner.cleanup()
        # Only our own file: a new owner may already have replaced it.
        with contextlib.suppress(OSError):
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)


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


def _bind(path: Path) -> socket.socket:
    """A listening socket at ``path``, mode 0600, replacing a dead owner's socket file."""
    why = not_a_socket(path)
    if why is not None:
        raise OSError(why)
    if os.path.lexists(path):
        os.unlink(path)  # we hold the owner lock: whoever bound it is gone (stale)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with reachable(path) as address:
            sock.bind(address)
        os.chmod(path, 0o600)  # before listen(): nobody can connect in between
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def start_control(
    manager: ManagerLike,
    config: Config,
    *,
    face: str,
    simulator: Any = None,
    owner_uid: int | None = None,
    on_problem: Callable[[str], None] | None = None,
) -> ControlServer | None:
    """Serve ``manager`` on the session's control socket. Call only while holding the owner lock.
    None when the socket cannot be made: the owner still runs, alone, and says why in the log and to
    ``on_problem`` (the runtime makes it an ``error`` event, so every face and the journal see it)."""
    path = socket_path(config)
    owner = OwnerInfo(os.getpid(), face, simulator is not None)
    app = build_control_app(manager, owner, simulator=simulator, owner_uid=owner_uid)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, handler_cancellation=True)
    await runner.setup()
    try:
        sock = _bind(path)
        site = web.SockSite(runner, sock)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        why = f"cannot serve the control socket: {exc}; other watuis cannot attach to this one"
        log.warning("%s", why)
        if on_problem is not None:
            on_problem(why)
        return None
    return ControlServer(runner, path, os.lstat(path).st_ino)
