"""``watui`` without a command: start the core (and the simulator with --demo), run the dashboard, shut down.

When another watui already owns the session (``watui watch`` under systemd, say) the dashboard attaches
to it over its control socket instead (``q`` detaches, the owner keeps running); after that owner exits,
``i`` takes the session over here. Leaving an owning dashboard (``q``) leaves ``session_runtime``, which
closes the browser cleanly and stops the simulator. With ``--serve`` the HTTP API runs in the same
process on the same manager (one owner, two faces).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from watui.cli import reach
from watui.cli.base import Exit
from watui.config import Config
from watui.core.errors import SessionBusyError

# What ``attach`` returns when the operator pressed i after the owner exited: start the session here.
TAKE_OVER = "take over"


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    """The dashboard's options, on the top-level parser (``watui`` with no command is the dashboard)."""
    parser.add_argument(
        "--serve", action="store_true", help="with the dashboard: also serve the HTTP API in the same process"
    )
    parser.add_argument("--host", default=None, help="with --serve: the API's address (default: [api] host)")
    parser.add_argument("--port", type=int, default=None, help="with --serve: the API's port (default: [api] port)")


def run(args: argparse.Namespace, config: Config) -> int:
    attached = asyncio.run(attach(args, config))
    while True:
        if isinstance(attached, int):
            return attached  # detached (q), or the owner refused us
        try:
            return asyncio.run(dashboard(args, config))
        except SessionBusyError as exc:
            # An owner was starting as we looked (another dashboard won the take-over): attach to it once
            # it listens; after it exits, i takes the session over again.
            attached = asyncio.run(attach(args, config, wait_s=reach.OWNER_STARTUP_WAIT_S))
            if attached is None:
                raise reach.still_busy(config, exc) from None


async def attach(args: argparse.Namespace, config: Config, wait_s: float = 0.0) -> int | str | None:
    """Attach to the session's running owner: None when none runs, TAKE_OVER when the operator took the
    session over after the owner exited (the caller then starts it here), else the exit code."""
    from watui.tui.attached import AttachedApp

    client = await reach.find_owner_within(config, wait_s)
    if client is None:
        return None
    async with client:
        if args.serve:
            print(f"watui: --serve: {client.label} owns this session; run 'watui serve' there", file=sys.stderr)
            return Exit.USAGE
        session = await reach.remote_session(client)
        app = AttachedApp(session, simulator=reach.scanner(client), session_root=config.session_root)
        if config.keys.remapped():
            app.set_keymap(config.keys.remapped())  # [keys] in config.toml, as for the owning dashboard
        await app.run_async()
    if app.take_over:
        return TAKE_OVER
    return app.return_code or 0


async def dashboard(args: argparse.Namespace, config: Config) -> int:
    # Imported here: attaching (above) needs neither the core (Playwright) nor the API server.
    from watui.api.app import start_api
    from watui.cli.serve import checked_address
    from watui.owner import session_runtime
    from watui.tui.app import build_app_for

    # --serve: refuse a bad address before a browser or the session lock is taken
    address = checked_address(args, config) if args.serve else None
    async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="dashboard") as runtime:
        api = None
        if address is not None:
            host, port = address
            api = await start_api(
                runtime.session,
                host=host,
                port=port,
                token=config.api.token,
                simulator=runtime.simulator,
                history=runtime.journal,
            )
        try:
            app = build_app_for(runtime, api_address=api.url if api is not None else None)
            await app.run_async()
        finally:
            if api is not None:
                await api.close()
        # The browser closes as the runtime exits; say so, since it can take a few seconds.
        print("watui: closing the browser…", file=sys.stderr, flush=True)
    return app.return_code or 0
