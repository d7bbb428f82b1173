"""``watui serve``: run the manager headless with the HTTP API until SIGINT/SIGTERM.

Checks the bind address before anything starts, enters the shared runtime (which owns the session),
serves the API, smart-initializes in the background, and logs state changes as one line each on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from typing import TYPE_CHECKING

from watui.cli.base import Command, Exit
from watui.config import Config
from watui.core.errors import WatuiError
from watui.core.events import Event
from watui.core.models import iso

if TYPE_CHECKING:
    from watui.api.app import ApiServer
    from watui.owner import Runtime

log = logging.getLogger("watui.api")

# Event types worth a line in a service log; health samples and disk reports would drown it.
_LOGGED = frozenset({"state", "qr", "retry", "error", "action", "recycle"})


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def checked_address(args: argparse.Namespace, config: Config) -> tuple[str, int]:
    """Where to serve the API (``--host``/``--port``, else ``[api]``), refused before anything starts when it is
    not a port or not safe to bind without a token."""
    from watui.api.errors import ApiStartError
    from watui.api.security import check_bind

    host = args.host or config.api.host
    port = config.api.port if args.port is None else args.port
    if not 0 <= port <= 65535:
        raise ApiStartError(f"--port must be 0-65535, got {port}")
    check_bind(host, config.api.token)
    return host, port


async def _serve(config: Config, host: str, port: int, *, demo: bool, demo_port: int | None) -> int:
    from watui.api.app import start_api
    from watui.cli.signals import stop_on_signals
    from watui.owner import session_runtime

    stop = asyncio.Event()
    stop_on_signals(stop)
    async with session_runtime(config, demo=demo, demo_port=demo_port, face="serve") as runtime:
        server = await start_api(
            runtime.session,
            host=host,
            port=port,
            token=runtime.config.api.token,
            simulator=runtime.simulator,
            history=runtime.journal,
        )
        try:
            await _run_until(stop, runtime, server)
        finally:
            await server.close()
    say("watui serve: stopped; the session is kept on disk")
    return Exit.OK


async def _run_until(stop: asyncio.Event, runtime: Runtime, server: ApiServer) -> None:
    say(f"watui serve: API on {server.url}/api/whatsapp/ · diagnostics page {server.url}/whatsapp-diagnostics")
    if runtime.simulator is not None:
        say(
            f"watui serve: demo mode on the simulator ({runtime.simulator.base_url}); to scan the QR press "
            f"'Simulate a scan' on the page or: curl -X POST {server.url}/api/demo/scan"
        )
    tasks = [
        asyncio.create_task(_log_events(runtime)),
        asyncio.create_task(_initialize(runtime)),
    ]
    from watui.cli.signals import reconnect_on_sigusr1

    verbs = reconnect_on_sigusr1(runtime.session, say, "serve")
    try:
        await stop.wait()
    finally:
        for task in [*tasks, *verbs]:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _initialize(runtime: Runtime) -> None:
    try:
        result = await runtime.session.smart_initialize()
    except WatuiError as exc:
        say(f"watui serve: initialize failed: {exc}")
        return
    say(f"watui serve: initialize: {result.message or result.state.value}")


async def _log_events(runtime: Runtime) -> None:
    stream = runtime.session.subscribe()
    try:
        async for event in stream:
            if event.type in _LOGGED:
                say(describe(event))
    finally:
        stream.close()


def describe(event: Event) -> str:
    """One log line for an event: time, type, and what changed."""
    from watui.cli.signals import headless_hints

    event = event.shown(headless_hints("serve"))
    if event.type == "state":
        detail = (event.state or event.info.state).value
    elif event.type == "qr":
        detail = "new login QR code (see the diagnostics page or qr.png)" if event.qr else "QR code gone"
    else:
        detail = " ".join(f"{k}={v}" for k, v in event.data.items())
    parts = [iso(event.time) or "", event.type, detail, event.message]
    return " ".join(p for p in parts if p)


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=None, help="address to bind (default: [api] host, 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: [api] port, 3000)")


def _serve_command(args: argparse.Namespace, config: Config) -> int:
    host, port = checked_address(args, config)  # before a browser or a lock is taken
    logging.basicConfig(level=logging.WARNING, format="watui: %(name)s: %(message)s")
    return asyncio.run(_serve(config, host, port, demo=args.demo, demo_port=args.demo_port))


SERVE = Command(
    "serve", "Keep the session connected and serve the HTTP API and diagnostics page.", _serve_command, _options
)
