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

from watui.cli_owner import OWNER_STARTUP_WAIT_S
from watui.config import Config
from watui.core.errors import SessionBusyError

# What ``attach`` returns when the operator pressed i after the owner exited: start the session here.
TAKE_OVER = "take over"


def run_dashboard(args: argparse.Namespace, config: Config) -> int:
    attached = asyncio.run(attach(args, config))
    while True:
        if isinstance(attached, int):
            return attached  # detached (q), or the owner refused us
        try:
            return asyncio.run(dashboard(args, config))
        except SessionBusyError as exc:
            # An owner was starting as we looked (another dashboard won the take-over): attach to it once
            # it listens; after it exits, i takes the session over again.
            attached = asyncio.run(attach(args, config, wait_s=OWNER_STARTUP_WAIT_S))
            if attached is None:
                from watui.api.paths import socketless_owner
                from watui.core.disk.store import SessionStore

                pid = SessionStore(config).owner_pid()
                if pid is None:
                    raise
                raise SessionBusyError(f"{exc}; {socketless_owner(config, pid)}", exc.pid, exc.name) from None


async def attach(args: argparse.Namespace, config: Config, wait_s: float = 0.0) -> int | str | None:
    """Attach to the session's running owner: None when none runs, TAKE_OVER when the operator took the
    session over after the owner exited (the caller then starts it here), else the exit code."""
    from watui.remote.client import find_owner
    from watui.remote.session import RemoteScanner
    from watui.remote.session import RemoteSession as RemoteManager
    from watui.tui.attached import AttachedApp

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while (client := await find_owner(config)) is None:
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.2)
    async with client:
        if getattr(args, "serve", False):
            print(f"watui: --serve: {client.label} owns this session; run 'watui serve' there", file=sys.stderr)
            return 2
        manager = RemoteManager(client, await client.status())
        scanner = RemoteScanner(client) if client.owner.get("demo") else None
        app = AttachedApp(manager, simulator=scanner, session_root=config.session_root)
        if config.keys.remapped():
            app.set_keymap(config.keys.remapped())  # [keys] in config.toml, as for the owning dashboard
        await app.run_async()
    if app.take_over:
        return TAKE_OVER
    return app.return_code or 0


async def dashboard(args: argparse.Namespace, config: Config) -> int:
    # Imported here: attaching (above) needs neither the core (Playwright) nor the API server.
    from watui.api.app import start_api
    from watui.api.cli import serve_address
    from watui.api.security import check_bind
    from watui.runtime import session_runtime
    from watui.tui.app import build_app_for

    address = None
    if getattr(args, "serve", False):
        address = serve_address(args, config)
        check_bind(address[0], config.api.token)  # refuse before a browser or the session lock is taken
    async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="dashboard") as runtime:
        api = None
        if address is not None:
            host, port = address
            api = await start_api(
                runtime.manager,
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
