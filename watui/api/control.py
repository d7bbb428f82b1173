"""The owner's control socket: the same HTTP API as ``watui serve``, on ``<session_path>/.watui-<id>.sock``.

Whichever face owns a session (watch, serve, init, the dashboard) serves it here so every other watui on
that session can be its client (``watui/remote/``). Guarded three ways: the socket is 0600 inside
the 0700 session root, a peer of another uid is refused by ``SO_PEERCRED``, and it is never a network
port. Both ways: a client trusts only a socket file of its own uid served by a process of its own uid
(``socket_file_refusal``, ``owner_refusal`` in ``watui.remote.client``), so whoever else listens at the
path cannot pose as the owner. The owner holds the session's owner lock before it binds, so a socket file
already there is a dead owner's (kill -9) and is replaced; anything else there (a symlink, a file) is not, and the owner
runs on without a socket, saying so (``not_a_socket``). Where the socket is and how it is reached are
``watui/api/paths.py``'s, shared with the clients.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from watui.api.paths import OWNER_PATH, not_a_socket, peer_uid, reachable, socket_path
from watui.config import Config

if TYPE_CHECKING:
    from watui.core.ports import HistoryPort, SessionPort

log = logging.getLogger("watui.api.control")
# Connections waiting to be accepted. A connect to a full AF_UNIX backlog fails at once (EAGAIN), unlike TCP's
# retried SYN: a bot's burst of sends (500 at once) must not get errors, so the kernel's most (somaxconn).
BACKLOG = socket.SOMAXCONN


def peer_refusal(uid: int | None, owner_uid: int) -> str | None:
    """Why a peer must be refused (another uid, or one that cannot be told), or None to serve it."""
    if uid is None:
        return "peer credentials unavailable: refused"
    if uid != owner_uid:
        return f"uid {uid} refused: this session's watui runs as uid {owner_uid}"
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
    manager: SessionPort,
    owner: OwnerInfo,
    *,
    simulator: Any = None,
    owner_uid: int | None = None,
    history: HistoryPort | None = None,
) -> web.Application:
    """``watui serve``'s app (no token: the socket's mode and the peer check guard it), plus who owns it.
    Only peers of ``owner_uid`` (default: this process's effective uid) are served."""
    from watui.api.app import build_app  # here: clients of the socket never load the server

    app = build_app(manager, token="", simulator=simulator, history=history)
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
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


async def start_control(
    manager: SessionPort,
    config: Config,
    *,
    face: str,
    simulator: Any = None,
    owner_uid: int | None = None,
    on_problem: Callable[[str], None] | None = None,
    history: HistoryPort | None = None,
) -> ControlServer | None:
    """Serve ``manager`` on the session's control socket. Call only while holding the owner lock.
    None when the socket cannot be made: the owner still runs, alone, and says why in the log and to
    ``on_problem`` (the runtime makes it an ``error`` event, so every face and the journal see it)."""
    path = socket_path(config)
    owner = OwnerInfo(os.getpid(), face, simulator is not None)
    app = build_control_app(manager, owner, simulator=simulator, owner_uid=owner_uid, history=history)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0, handler_cancellation=True)
    await runner.setup()
    try:
        sock = _bind(path)
        site = web.SockSite(runner, sock, backlog=BACKLOG)  # asyncio listens again, by default with 128
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        why = f"cannot serve the control socket: {exc}; other watuis cannot attach to this one"
        log.warning("%s", why)
        if on_problem is not None:
            on_problem(why)
        return None
    return ControlServer(runner, path, os.lstat(path).st_ino)
