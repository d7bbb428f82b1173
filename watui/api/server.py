"""The aiohttp application of the HTTP face: routes, security middlewares, and ``start_api``.

Routes call only the manager's read side and its verbs. Security, outermost first: every error becomes
JSON (never a traceback); with a token every request but the static page shell needs
``Authorization: Bearer``; without one, only loopback ``Host`` names are served (DNS rebinding); requests
that change state are POST only and refuse cross-site ``Origin`` / ``Sec-Fetch-Site``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import ipaddress
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import resources
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import segno
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from prometheus_client import CollectorRegistry

from watui.api.history import add_history
from watui.api.metrics import CONTENT_TYPE_LATEST, build_registry, render_metrics
from watui.core.errors import (
    ActionUnavailable,
    BrowserNotFoundError,
    SessionBusyError,
    UnsafePathError,
    WatuiError,
)
from watui.core.models import CleanupReport, ClearReport, Event, InitResult, SessionInfo, iso, now_utc
from watui.core.watchers import watchers_of

log = logging.getLogger("watui.api")
_T = TypeVar("_T")

API = "/api/whatsapp"
PAGE = "/whatsapp-diagnostics"
KEEPALIVE_S = 15.0
SSE_RETRY_MS = 3000
# The page shell is static HTML with no session data in it; everything it shows comes from the API,
# which needs the token. Serving it openly is what lets a browser (which cannot add headers to a
# navigation) open it at all. "/" only redirects to it.
PUBLIC_PATHS = frozenset({PAGE, "/"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ApiStartError(WatuiError):
    """The API cannot start as configured (unsafe bind address, port taken): one line, exit 2."""

    exit_code = 2


class EventSource(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class ManagerLike(Protocol):
    """What the HTTP face uses of ``watui.core.manager.SessionManager``."""

    @property
    def info(self) -> SessionInfo: ...

    def subscribe(self) -> EventSource: ...

    def get_detailed_session_info(self) -> dict[str, Any]: ...

    @property
    def busy(self) -> str | None: ...

    def can(self, verb: str) -> bool: ...

    async def smart_initialize(self) -> InitResult: ...

    async def reconnect(self) -> InitResult: ...

    async def cleanup(self) -> CleanupReport: ...

    async def clear(self, purge: bool = False) -> ClearReport: ...


# -- binding ------------------------------------------------------------------------------------------


def is_loopback(host: str, *, subdomains: bool = False) -> bool:
    """Whether ``host`` (a bind address, or with ``subdomains`` a Host header's name: browsers resolve
    ``*.localhost`` to loopback themselves) can only be reached from this machine."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or (subdomains and name.endswith(".localhost")):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str) -> None:
    """Refuse to listen beyond this machine without a token (raises ApiStartError)."""
    if not is_loopback(host) and not token:
        raise ApiStartError(
            f"refusing to serve the API on {host or 'all addresses'}: not a loopback address and no "
            "[api] token is set (set [api] token or WATUI_API__TOKEN, or bind to 127.0.0.1)"
        )


# -- state shared by the handlers ---------------------------------------------------------------------


@dataclass
class _ApiState:
    manager: ManagerLike
    token: str
    keepalive_s: float
    simulator: Any = None
    streams: set[EventSource] = field(default_factory=set)
    background: set[asyncio.Task[Any]] = field(default_factory=set)


_STATE = web.AppKey("watui_api_state", _ApiState)


def _state(request: web.Request) -> _ApiState:
    return request.app[_STATE]


# -- errors as JSON -----------------------------------------------------------------------------------


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # "success" is the seed system's field, kept for its users' scripts; "ok" is what every error says.
    return web.json_response({"ok": False, "success": False, "error": message}, status=status, headers=headers)


class _Refused(Exception):
    """Raised by the handlers and middlewares to answer a JSON error."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


_WATUI_ERROR_STATUS: tuple[tuple[type[WatuiError], int], ...] = (
    (ActionUnavailable, 409),
    (SessionBusyError, 409),
    (UnsafePathError, 400),
    (BrowserNotFoundError, 503),
)


def _status_for(exc: WatuiError) -> int:
    for kind, status in _WATUI_ERROR_STATUS:
        if isinstance(exc, kind):
            return status
    return 409


def _http_error_message(exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"method {exc.method} not allowed on this path (use {allowed})"
    if isinstance(exc, web.HTTPNotFound):
        return "no such endpoint"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "request body too large"
    return exc.reason


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Refused as exc:
        return json_error(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return json_error(exc.status, _http_error_message(exc), headers)
    except WatuiError as exc:
        return json_error(_status_for(exc), str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The operator gets the traceback in the log; the client one line without internals.
        log.exception("error serving %s %s", request.method, request.path)
        return json_error(500, f"internal error ({type(exc).__name__}); see the watui log")


# -- requests refused before any handler runs -----------------------------------------------------------
#
# aiohttp answers a request its parser refuses (a request line over 8190 bytes, a method such as BREW, a
# malformed header, TLS on the HTTP port) from ``RequestHandler.handle_error``, in plain text, logging a
# traceback, before any middleware runs (aio-libs/aiohttp#3287 has no hook for it). The API's connections
# use a handler whose ``handle_error`` answers JSON like every other error and logs one line.


def _parser_error_message(exc: BaseException | None) -> str:
    if isinstance(exc, LineTooLong):
        return "request line or header too long (the limit is 8190 bytes)"
    if isinstance(exc, BadHttpMethod):
        return "HTTP method not understood (the API uses GET and POST)"
    return "bad request: not a well-formed HTTP/1.1 message"


class _JsonErrorHandler(RequestHandler):
    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a response is half sent: only closing is left (as aiohttp does)
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, BadHttpMessage):
            text = _parser_error_message(exc)
            log.info("refused a request from %s: %s (%s)", request.remote, text, type(exc).__name__)
        else:
            self.log_exception("error serving a request from %s", request.remote, exc_info=exc)
            text = f"internal error ({type(exc).__name__}); see the watui log" if exc else HTTPStatus(status).phrase
        response = json_error(status, text)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class _ApiRunner(web.AppRunner):
    """An AppRunner whose connections answer parser errors in JSON (see ``_JsonErrorHandler``)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # same object, same state: only its protocol factory differs
        return server


# -- authentication and cross-site checks -------------------------------------------------------------


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8"))


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    token = _state(request).token
    if token:
        if request.path not in PUBLIC_PATHS and not _bearer_matches(request.headers.get("Authorization", ""), token):
            raise _Refused(
                401,
                "missing or wrong API token (send Authorization: Bearer <[api] token>)",
                {"WWW-Authenticate": 'Bearer realm="watui"'},
            )
        return await handler(request)
    # Without a token the API is only for this machine; a foreign Host name means DNS rebinding (a web
    # page whose name now points at 127.0.0.1) or a proxy that should set a token. (No Host at all is
    # HTTP/1.0 from a local tool, not a browser.)
    host = request.headers.get("Host")
    if host is not None and not is_loopback(_host_name(host), subdomains=True):
        raise _Refused(403, f"Host {host!r} refused: without [api] token only loopback names are served")
    return await handler(request)


def _cross_site_reason(request: web.Request) -> str | None:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("Origin")
    if origin is None:
        return None  # not sent by a browser (curl, scripts): nothing cross-site about it
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    # Scheme is not compared: behind a TLS proxy the browser says https while we see http.
    if not netloc or netloc != request.headers.get("Host", "").lower():
        return f"Origin: {origin}"
    return None


@web.middleware
async def same_origin_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method not in SAFE_METHODS:
        reason = _cross_site_reason(request)
        if reason is not None:
            raise _Refused(403, f"cross-site request refused ({reason})")
    return await handler(request)


# -- the JSON API -------------------------------------------------------------------------------------


async def _run_verb(state: _ApiState, verb: Awaitable[_T]) -> _T:
    """Run a verb so that a client hanging up does not cancel it half-way (the manager shares the run
    with other callers, and a half-done clear is worse than a finished one nobody reads)."""
    task = asyncio.ensure_future(verb)
    state.background.add(task)
    task.add_done_callback(_forget(state))
    return await asyncio.shield(task)


def _forget(state: _ApiState) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        state.background.discard(task)
        if not task.cancelled():
            task.exception()  # marks it retrieved: a verb whose caller hung up is not "never retrieved"

    return done


async def _json_options(request: web.Request, allowed: dict[str, type]) -> dict[str, Any]:
    """The request's JSON object body ({} when empty), keys and types checked."""
    raw = await request.read() if request.can_read_body else b""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise _Refused(400, "request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise _Refused(400, "request body must be a JSON object")
    for key, value in body.items():
        if key not in allowed:
            names = ", ".join(allowed) or "none"
            raise _Refused(400, f"unknown field {key!r} (accepted: {names})")
        if not isinstance(value, allowed[key]):
            raise _Refused(400, f"field {key!r} must be {allowed[key].__name__}")
    return body


VERBS = ("initialize", "reconnect", "cleanup", "clear")


def status_json(manager: ManagerLike) -> dict[str, Any]:
    """The status JSON of DESIGN.md, plus ``actions``: the verb running now and which verbs can act
    (so a page can grey out what cannot act instead of letting it fail)."""
    out = {
        **manager.get_detailed_session_info(),
        "actions": {"busy": manager.busy, "available": {verb: manager.can(verb) for verb in VERBS}},
    }
    watchers = watchers_of(manager)
    if watchers is not None and watchers.history is not None:
        out["history"] = watchers.history.status()  # the journal's health: a line in watui info
    return out


async def session_info(request: web.Request) -> web.Response:
    return web.json_response(status_json(_state(request).manager))


async def smart_initialize(request: web.Request) -> web.Response:
    state = _state(request)
    await _json_options(request, {})
    result = await _run_verb(state, state.manager.smart_initialize())
    return web.json_response(result.to_json())


async def reconnect(request: web.Request) -> web.Response:
    state = _state(request)
    await _json_options(request, {})
    result = await _run_verb(state, state.manager.reconnect())
    return web.json_response(result.to_json())


async def cleanup(request: web.Request) -> web.Response:
    state = _state(request)
    await _json_options(request, {})
    report = await _run_verb(state, state.manager.cleanup())
    return web.json_response({"success": True, **report.to_json()})


async def clear(request: web.Request) -> web.Response:
    state = _state(request)
    options = await _json_options(request, {"purge": bool})
    report = await _run_verb(state, state.manager.clear(purge=bool(options.get("purge", False))))
    return web.json_response({"success": True, **report.to_json()})


async def backup(request: web.Request) -> web.Response:
    """Take an encrypted login snapshot now (the manager's ``backup``)."""
    state = _state(request)
    await _json_options(request, {})
    take = getattr(state.manager, "backup", None)
    if take is None:
        raise _Refused(501, "this watui does not take snapshots")
    snap = await _run_verb(state, take())
    return web.json_response({"success": True, "snapshot": snap.to_json()})


async def doctor(request: web.Request) -> web.Response:
    """``watui doctor`` through the owner: every probe of every channel on the page it shows now."""
    state = _state(request)
    await _json_options(request, {})
    run = getattr(state.manager, "doctor", None)
    if run is None:
        raise _Refused(501, "this watui does not run the doctor")
    report = await _run_verb(state, run())
    return web.json_response(report.to_json())


async def snapshots(request: web.Request) -> web.Response:
    """The session's snapshots (time, size, account, verified, revoked); no key needed."""
    listing = getattr(_state(request).manager, "snapshots", None)
    if listing is None:
        raise _Refused(501, "this watui does not take snapshots")
    return web.json_response(await listing())


# -- QR images ----------------------------------------------------------------------------------------


def _current_qr(request: web.Request) -> segno.QRCode:
    info = _state(request).manager.info
    if not info.qr:
        raise _Refused(404, f"no QR code to scan now (state {info.state.value})")
    return segno.make_qr(info.qr, error="l")


def _qr_response(body: bytes, content_type: str, info: SessionInfo) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if info.qr_expires_at is not None:
        headers["X-QR-Expires-At"] = iso(info.qr_expires_at) or ""
    return web.Response(body=body, content_type=content_type, headers=headers)


async def qr_svg(request: web.Request) -> web.Response:
    code = _current_qr(request)
    out: Any = io.BytesIO()  # segno's annotations say text; it writes bytes for svg and png
    code.save(out, kind="svg", scale=8, border=4, xmldecl=True, title="WhatsApp Web login QR code")
    return _qr_response(out.getvalue(), "image/svg+xml", _state(request).manager.info)


async def qr_png(request: web.Request) -> web.Response:
    code = _current_qr(request)
    out: Any = io.BytesIO()
    code.save(out, kind="png", scale=8, border=4)
    return _qr_response(out.getvalue(), "image/png", _state(request).manager.info)


# -- Server-Sent Events -------------------------------------------------------------------------------


class _SseWriter:
    """Writes SSE frames; one lock so a keep-alive comment never lands inside an event."""

    def __init__(self, response: web.StreamResponse) -> None:
        self._response = response
        self._lock = asyncio.Lock()

    async def send(self, payload: dict[str, Any]) -> None:
        await self._write(f"data: {json.dumps(payload, separators=(',', ':'))}\n\n")

    async def comment(self, text: str) -> None:
        await self._write(f": {text}\n\n")

    async def _write(self, frame: str) -> None:
        async with self._lock:
            await self._response.write(frame.encode())


async def _keepalive(writer: _SseWriter, interval: float, stream: EventSource) -> None:
    """Comments keep proxies from timing the stream out, and find a gone client between events."""
    try:
        while True:
            await asyncio.sleep(interval)
            await writer.comment("keep-alive")
    except ConnectionError:
        stream.close()  # ends the event loop of the handler, which then returns


async def events(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    # Subscribe before taking the snapshot, so no event falls between the two.
    stream = state.manager.subscribe()
    state.streams.add(stream)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache, no-store",
            "X-Accel-Buffering": "no",  # nginx: do not buffer the stream
        }
    )
    keepalive: asyncio.Task[None] | None = None
    try:
        await response.prepare(request)
        writer = _SseWriter(response)
        await response.write(f"retry: {SSE_RETRY_MS}\n\n".encode())
        snapshot = {"time": iso(now_utc()), "type": "snapshot", "info": status_json(state.manager)}
        await writer.send(snapshot)
        keepalive = asyncio.create_task(_keepalive(writer, state.keepalive_s, stream))
        async for event in stream:
            await writer.send(event.to_json())
    except ConnectionError:
        pass  # the client went away
    finally:
        if keepalive is not None:
            keepalive.cancel()
        stream.close()
        state.streams.discard(stream)
    return response


# -- demo mode: the simulator's scan, from the page -----------------------------------------------------


async def demo_info(request: web.Request) -> web.Response:
    simulator = _state(request).simulator
    if simulator is None:
        raise _Refused(404, "not in demo mode")
    return web.json_response({"demo": True, "simulator": simulator.base_url})


async def demo_scan(request: web.Request) -> web.Response:
    simulator = _state(request).simulator
    if simulator is None:
        raise _Refused(404, "not in demo mode")
    await _json_options(request, {})
    result = await simulator.scan()
    return web.json_response({"success": True, **result})


# -- the diagnostics page and metrics -----------------------------------------------------------------


@dataclass(frozen=True)
class _Page:
    html: bytes
    csp: str


def _load_page() -> _Page:
    text = resources.files("watui.api").joinpath("diagnostics.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts
    )
    # Only our own inline script runs; no framing (a cross-site page cannot trick clicks on the buttons).
    csp = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return _Page(text.encode(), csp)


_PAGE_KEY = web.AppKey("watui_api_page", _Page)


async def diagnostics_page(request: web.Request) -> web.Response:
    page = request.app[_PAGE_KEY]
    return web.Response(
        body=page.html,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": page.csp,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


async def root_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PAGE.lstrip("/"))


_REGISTRY_KEY = web.AppKey("watui_api_registry", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    body = render_metrics(request.app[_REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


# -- assembling and running ---------------------------------------------------------------------------


def build_app(
    manager: ManagerLike, *, token: str = "", keepalive_s: float = KEEPALIVE_S, simulator: Any = None
) -> web.Application:
    app = web.Application(
        middlewares=[errors_middleware, auth_middleware, same_origin_middleware],
        client_max_size=64 * 1024,  # the API takes tiny JSON bodies only
    )
    state = _ApiState(manager=manager, token=token, keepalive_s=keepalive_s, simulator=simulator)
    app[_STATE] = state
    app[_PAGE_KEY] = _load_page()
    app[_REGISTRY_KEY] = build_registry(lambda: manager.info)
    add_history(app, manager, app[_REGISTRY_KEY])  # GET /api/whatsapp/history, uptime in /metrics
    app.router.add_get(f"{API}/session-info", session_info)
    app.router.add_post(f"{API}/smart-initialize", smart_initialize)
    app.router.add_post(f"{API}/reconnect", reconnect)
    app.router.add_post(f"{API}/cleanup", cleanup)
    app.router.add_post(f"{API}/clear", clear)
    app.router.add_post(f"{API}/backup", backup)
    app.router.add_post(f"{API}/doctor", doctor)
    app.router.add_get(f"{API}/snapshots", snapshots)
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


async def _end_streams(app: web.Application) -> None:
    for stream in list(app[_STATE].streams):
        stream.close()


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
    manager: ManagerLike,
    *,
    host: str,
    port: int,
    token: str,
    simulator: Any = None,
    keepalive_s: float = KEEPALIVE_S,
) -> ApiServer:
    """Serve ``manager`` on ``host:port`` (port 0: a free one). Raises ApiStartError when the address
    is unsafe without a token or cannot be bound."""
    check_bind(host, token)
    if not 0 <= port <= 65535:
        raise ApiStartError(f"API port must be 0-65535, got {port}")
    app = build_app(manager, token=token, keepalive_s=keepalive_s, simulator=simulator)
    # handler_cancellation: a client that hangs up ends its event stream at once (verbs are shielded).
    # Short shutdown grace: open event streams are ended by on_shutdown.
    runner = _ApiRunner(app, access_log=None, shutdown_timeout=5.0, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host or None, port)
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
