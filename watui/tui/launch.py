"""``watui`` without a command: start the core (and the simulator with --demo), run the dashboard, shut down.

Leaving the dashboard (``q``) leaves ``session_runtime``, which closes the browser cleanly and stops the
simulator. With ``--serve`` the HTTP API runs in the same process on the same manager, if installed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from watui.config import Config
from watui.runtime import Runtime, session_runtime
from watui.tui.app import build_app


def run_dashboard(args: argparse.Namespace, config: Config) -> int:
    return asyncio.run(dashboard(args, config))


async def dashboard(args: argparse.Namespace, config: Config) -> int:
    async with session_runtime(config, demo=args.demo, demo_port=args.demo_port) as runtime:
        api, address = await start_api_if_asked(args, runtime)
        try:
            app = build_app(runtime, api_address=address)
            await app.run_async()
        finally:
            if api is not None:
                await api.close()
        # The browser closes as the runtime exits; say so, since it can take a few seconds.
        print("watui: closing the browser…", file=sys.stderr, flush=True)
    return app.return_code or 0


async def start_api(runtime: Runtime, host: str, port: int, token: str) -> Any:
    """The HTTP API on the dashboard's manager (watui.api is optional: its import is guarded)."""
    from watui.api.server import start_api as api_start

    return await api_start(runtime.manager, host=host, port=port, token=token, simulator=runtime.simulator)


async def start_api_if_asked(args: argparse.Namespace, runtime: Runtime) -> tuple[Any, str | None]:
    if not getattr(args, "serve", False):
        return None, None
    config = runtime.config
    host = args.host or config.api.host
    port = args.port if args.port is not None else config.api.port
    try:
        api = await start_api(runtime, host, port, config.api.token)
    except ImportError:
        print("watui: --serve: the HTTP API is not installed; running the dashboard only", file=sys.stderr)
        return None, None
    # ApiStartError (unsafe address, port taken) propagates: the CLI prints its one line.
    return api, str(getattr(api, "url", f"http://{host}:{port}"))
