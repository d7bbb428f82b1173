"""``watui`` without a command: start the core (and the simulator with --demo), run the dashboard, shut down.

Leaving the dashboard (``q``) leaves ``session_runtime``, which closes the browser cleanly and stops the
simulator. With ``--serve`` the HTTP API runs in the same process on the same manager (one owner, two faces).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from watui.api.cli import serve_address
from watui.api.server import check_bind, start_api
from watui.config import Config
from watui.runtime import session_runtime
from watui.tui.app import build_app


def run_dashboard(args: argparse.Namespace, config: Config) -> int:
    return asyncio.run(dashboard(args, config))


async def dashboard(args: argparse.Namespace, config: Config) -> int:
    address = None
    if getattr(args, "serve", False):
        address = serve_address(args, config)
        check_bind(address[0], config.api.token)  # refuse before a browser or the session lock is taken
    async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="dashboard") as runtime:
        api = None
        if address is not None:
            host, port = address
            api = await start_api(
                runtime.manager, host=host, port=port, token=config.api.token, simulator=runtime.simulator
            )
        try:
            app = build_app(runtime, api_address=api.url if api is not None else None)
            await app.run_async()
        finally:
            if api is not None:
                await api.close()
        # The browser closes as the runtime exits; say so, since it can take a few seconds.
        print("watui: closing the browser…", file=sys.stderr, flush=True)
    return app.return_code or 0
