"""The JSON API's handlers: session-info, the verbs, backup, doctor, snapshots, QR images, demo, metrics."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import segno
from aiohttp import web
from prometheus_client import CollectorRegistry

from watui.api.errors import _Refused
from watui.api.metrics import CONTENT_TYPE_LATEST, MessageMetrics, render_metrics
from watui.api.state import _ApiState, _state
from watui.core.models import SessionInfo, iso
from watui.core.ports import BACKUP, DOCTOR, SNAPSHOTS, HistoryPort, SessionPort

_T = TypeVar("_T")


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


def status_json(manager: SessionPort, history: HistoryPort | None = None) -> dict[str, Any]:
    """The status JSON of DESIGN.md, plus ``actions``: the verb running now and which verbs can act
    (so a page can grey out what cannot act instead of letting it fail)."""
    out = {
        **manager.get_detailed_session_info(),
        "actions": {"busy": manager.busy, "available": {verb: manager.can(verb) for verb in VERBS}},
    }
    journal = history.status() if history is not None else None
    if journal is not None:
        out["history"] = journal  # the journal's health: a line in watui info
    return out


async def session_info(request: web.Request) -> web.Response:
    state = _state(request)
    return web.json_response(status_json(state.manager, state.history))


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
    if BACKUP not in state.manager.capabilities:
        raise _Refused(501, "this watui does not take snapshots")
    snap = await _run_verb(state, state.manager.backup())
    return web.json_response({"success": True, "snapshot": snap.to_json()})


async def doctor(request: web.Request) -> web.Response:
    """``watui doctor`` through the owner: every probe of every channel on the page it shows now."""
    state = _state(request)
    await _json_options(request, {})
    if DOCTOR not in state.manager.capabilities:
        raise _Refused(501, "this watui does not run the doctor")
    report = await _run_verb(state, state.manager.doctor())
    return web.json_response(report.to_json())


async def snapshots(request: web.Request) -> web.Response:
    """The session's snapshots (time, size, account, verified, revoked); no key needed."""
    manager = _state(request).manager
    if SNAPSHOTS not in manager.capabilities:
        raise _Refused(501, "this watui does not take snapshots")
    return web.json_response(await manager.snapshots())


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


_REGISTRY_KEY = web.AppKey("watui_api_registry", CollectorRegistry)


_MESSAGE_METRICS_KEY = web.AppKey("watui_api_message_metrics", MessageMetrics)


async def metrics(request: web.Request) -> web.Response:
    message_metrics = request.app.get(_MESSAGE_METRICS_KEY)
    if message_metrics is not None:
        await message_metrics.refresh()  # the outbox and webhook gauges, read for this scrape
    body = render_metrics(request.app[_REGISTRY_KEY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
