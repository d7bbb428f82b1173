"""The aiohttp application assembled and served: build_app, start_api, ApiServer.

The aiohttp application of the HTTP face: routes, security middlewares, and ``start_api``.

Routes call only the manager's read side and its verbs. Security, outermost first: every error becomes
JSON (never a traceback); with a token every request but the static page shell needs
``Authorization: Bearer``; without one, only loopback ``Host`` names are served (DNS rebinding); requests
that change state are POST only and refuse cross-site ``Origin`` / ``Sec-Fetch-Site``.
"""

from __future__ import annotations

import socket
from typing import Any

from aiohttp import web

from watui.api.errors import ApiStartError, _ApiRunner, errors_middleware
from watui.api.history import add_history
from watui.api.messages import add_messages
from watui.api.metrics import MessageMetrics, build_registry
from watui.api.page import _PAGE_KEY, _load_page, diagnostics_page, root_redirect
from watui.api.paths import API, PAGE
from watui.api.routes import (
    _MESSAGE_METRICS_KEY,
    _REGISTRY_KEY,
    backup,
    cleanup,
    clear,
    demo_info,
    demo_scan,
    doctor,
    metrics,
    qr_png,
    qr_svg,
    reconnect,
    session_info,
    smart_initialize,
    snapshots,
)
from watui.api.security import auth_middleware, check_bind, same_origin_middleware
from watui.api.sse import KEEPALIVE_S, _end_streams, events
from watui.api.state import _STATE, _ApiState
from watui.core.ports import HistoryPort, SessionPort


def build_app(
    manager: SessionPort,
    *,
    token: str = "",
    keepalive_s: float = KEEPALIVE_S,
    simulator: Any = None,
    history: HistoryPort | None = None,
) -> web.Application:
    """The API on ``manager``; ``history``: the owner's journal (the history route and uptime metrics)."""
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, same_origin_middleware],
        client_max_size=64 * 1024,  # the API takes tiny JSON bodies only
    )
    state = _ApiState(manager=manager, token=token, keepalive_s=keepalive_s, simulator=simulator, history=history)
    app[_STATE] = state
    app[_PAGE_KEY] = _load_page()
    app[_REGISTRY_KEY] = build_registry(lambda: manager.info)
    add_history(app, history, app[_REGISTRY_KEY])  # GET /api/whatsapp/history, uptime in /metrics
    _add_message_metrics(app, manager)  # the messaging counters, latency and gauges in /metrics
    app.router.add_get(f"{API}/session-info", session_info)
    app.router.add_post(f"{API}/smart-initialize", smart_initialize)
    app.router.add_post(f"{API}/reconnect", reconnect)
    app.router.add_post(f"{API}/cleanup", cleanup)
    app.router.add_post(f"{API}/clear", clear)
    app.router.add_post(f"{API}/backup", backup)
    app.router.add_post(f"{API}/doctor", doctor)
    app.router.add_get(f"{API}/snapshots", snapshots)
    add_messages(app)  # POST/GET /api/whatsapp/messages, GET /api/whatsapp/messages/{id}
    app.router.add_get(f"{API}/events", events, allow_head=False)  # HEAD would subscribe forever
    app.router.add_get(f"{API}/qr.svg", qr_svg)
    app.router.add_get(f"{API}/qr.png", qr_png)
    app.router.add_get("/api/demo", demo_info)
    app.router.add_post("/api/demo/scan", demo_scan)
    app.router.add_get(PAGE, diagnostics_page)
    app.router.add_get("/", root_redirect)
    app.router.add_get("/metrics", metrics)
    app.on_shutdown.append(_end_streams)
    return app


def _add_message_metrics(app: web.Application, manager: SessionPort) -> None:
    message_metrics = MessageMetrics(manager, app[_REGISTRY_KEY])
    app[_MESSAGE_METRICS_KEY] = message_metrics

    async def start(_app: web.Application) -> None:
        message_metrics.start()

    async def stop(_app: web.Application) -> None:
        await message_metrics.stop()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)


class ApiServer:
    """A running API: ``url``, ``port``, and ``close()``."""

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self._runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def close(self) -> None:
        await self._runner.cleanup()


async def start_api(
    manager: SessionPort,
    *,
    host: str,
    port: int,
    token: str,
    simulator: Any = None,
    keepalive_s: float = KEEPALIVE_S,
    history: HistoryPort | None = None,
) -> ApiServer:
    """Serve ``manager`` on ``host:port`` (port 0: a free one). Raises ApiStartError when the address
    is unsafe without a token or cannot be bound."""
    check_bind(host, token)
    if not 0 <= port <= 65535:
        raise ApiStartError(f"API port must be 0-65535, got {port}")
    app = build_app(manager, token=token, keepalive_s=keepalive_s, simulator=simulator, history=history)
    # handler_cancellation: a client that hangs up ends its event stream at once (verbs are shielded).
    # Short shutdown grace: open event streams are ended by on_shutdown.
    runner = _ApiRunner(app, access_log=None, shutdown_timeout=5.0, handler_cancellation=True)
    await runner.setup()
    # The kernel's largest accept backlog (asyncio's default is 128): past it, a burst of connects (a bot's
    # 500 sends at once) waits for a SYN sent again, a second later (bench/bench_concurrent_send.py).
    site = web.TCPSite(runner, host or None, port, backlog=socket.SOMAXCONN)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ApiStartError(f"cannot serve the API on {host}:{port}: {exc.strerror or exc}") from None
    bound = _bound_port(runner, port)
    return ApiServer(runner, host, bound)


def _bound_port(runner: web.AppRunner, fallback: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return fallback
