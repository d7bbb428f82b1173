"""How a command reaches its session: through the watui that runs it, if one answers, else here.

``session_for(config, act, start=...)`` runs ``act`` once on a :class:`Reached`: the running owner's session
over its control socket (``watui/remote/``), else one made here — started (``start``: the face's
``session_runtime``) or, with no ``start``, the session on disk alone (``core/session/offline.py``, no browser).
If the session is taken between the look and the act (an owner starting up), it waits for that owner's
socket and runs ``act`` there: that race is handled here and nowhere else.

The one module of the CLI that imports the owner's client; imported lazily, since it loads aiohttp.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watui.api.paths import not_a_socket, socket_path, socketless_owner
from watui.config import Config
from watui.core.errors import SessionBusyError
from watui.core.ports import SessionPort

if TYPE_CHECKING:
    from watui.core.disk.store import SessionStore
    from watui.owner import Runtime
    from watui.remote.client import OwnerClient
    from watui.remote.session import RemoteScanner, RemoteSession

OWNER_STARTUP_WAIT_S = 5.0  # an owner that holds the lock but does not listen yet is starting


@dataclass
class Reached:
    """The session a command acts on, and who runs it: ``owner`` (the watui that answered) or this process."""

    config: Config
    session: SessionPort
    owner: OwnerClient | None = None
    status: dict[str, Any] | None = None  # the owner's session-info JSON, as it sent it
    runtime: Runtime | None = None  # when started here

    @property
    def label(self) -> str | None:
        """``watui watch (pid 123)``: who runs the session, None when it is this process."""
        return self.owner.label if self.owner is not None else None

    def owner_json(self) -> dict[str, Any] | None:
        return {"pid": self.owner.owner.get("pid"), "face": self.owner.owner.get("face")} if self.owner else None

    async def refresh(self) -> None:
        """Read the owner's session-info now (its event stream may lag a verb's answer); here: nothing to do."""
        if self.owner is not None:
            from watui.remote.session import RemoteSession

            self.status = await self.owner.status()
            if isinstance(self.session, RemoteSession):
                self.session.absorb(self.status)


Act = Callable[[Reached], Awaitable[int]]
Start = Callable[[], AbstractAsyncContextManager["Runtime"]]


def on_session(
    act: Callable[[Reached, argparse.Namespace], Awaitable[int]], *, face: str | None = None
) -> Callable[[argparse.Namespace, Config], int]:
    """A command's ``run``: ``act(reached, args)`` on the session as :func:`session_for` reaches it. With no
    owner: started here as ``face`` (the core, Playwright: ``session_runtime``), or, with no ``face``, the disk
    alone."""

    def run(args: argparse.Namespace, config: Config) -> int:
        def start() -> AbstractAsyncContextManager[Runtime]:
            from watui.owner import session_runtime

            return session_runtime(config, demo=args.demo, demo_port=args.demo_port, face=face or "watui")

        return session_for(config, lambda reached: act(reached, args), start=start if face else None)

    return run


def session_for(config: Config, act: Act, *, start: Start | None = None) -> int:
    """``act`` on the session of ``config``: its running owner's, else one here (see the module)."""
    return asyncio.run(session_on(config, act, start=start))


async def session_on(config: Config, act: Act, *, start: Start | None = None) -> int:
    """:func:`session_for` inside a running event loop."""
    client = await find_owner_within(config, 0.0)
    if client is None:
        try:
            return await _here(config, act, start)
        except SessionBusyError as exc:
            # Taken meanwhile, or by an owner still starting: ask it once it listens.
            if disk_store(config).owner_pid() is None:
                raise  # busy because of another program (a browser on the profile), not a watui
            client = await find_owner_within(config, OWNER_STARTUP_WAIT_S)
            if client is None:
                raise still_busy(config, exc) from None
    async with client:
        return await act(await remote(config, client))


async def _here(config: Config, act: Act, start: Start | None) -> int:
    if start is None:
        from watui.core.session.offline import OfflineSession  # the disk's code only when acting on it

        return await act(Reached(config, OfflineSession(config)))
    async with start() as runtime:
        return await act(Reached(runtime.config, runtime.session, runtime=runtime))


async def remote(config: Config, client: OwnerClient) -> Reached:
    """The owner's session as ``client`` reaches it."""
    status = await client.status()
    return Reached(config, _remote(client, status), owner=client, status=status)


async def remote_session(client: OwnerClient) -> RemoteSession:
    """The owner's session, shaped as a manager (the attached dashboard drives it)."""
    return _remote(client, await client.status())


def _remote(client: OwnerClient, status: dict[str, Any]) -> RemoteSession:
    from watui.remote.session import RemoteSession

    return RemoteSession(client, status)


def scanner(client: OwnerClient) -> RemoteScanner | None:
    """The demo's scan through the owner, when the owner runs on the simulator."""
    from watui.remote.session import RemoteScanner

    return RemoteScanner(client) if client.owner.get("demo") else None


async def find_owner_within(config: Config, wait_s: float) -> OwnerClient | None:
    """A client of the session's owner, waiting up to ``wait_s`` for one to listen; None if none does."""
    from watui.remote.client import find_owner

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while (client := await find_owner(config)) is None:
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.2)
    return client


def still_busy(config: Config, exc: SessionBusyError) -> SessionBusyError:
    """What to stop with when the session stayed taken: ``exc`` when no watui holds it, else ``exc`` naming the
    owner that serves no socket (so cannot be asked)."""
    pid = disk_store(config).owner_pid()
    if pid is None:
        return exc
    return SessionBusyError(f"{exc}; {socketless_owner(config, pid)}", exc.pid, exc.name)


def unreachable_owner(config: Config, pid: int) -> dict[str, Any]:
    """A live owner this face could not reach: it serves no socket (say why), or its socket does not answer."""
    path = socket_path(config)
    if not_a_socket(path) is not None or not os.path.lexists(path):
        problem = socketless_owner(config, pid)
        return {"socket": False, "problem": problem, "line": problem}
    return {"socket": True, "problem": f"{path}: not answering", "line": f"watui (pid {pid}) not answering"}


def disk_store(config: Config) -> SessionStore:
    from watui.core.disk.store import SessionStore  # the disk's code only for the commands that read it

    return SessionStore(config)
