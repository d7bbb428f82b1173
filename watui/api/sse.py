"""The event stream (Server-Sent Events) and its keep-alives."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from watui.api.routes import status_json
from watui.api.state import _STATE, _state
from watui.core.models import iso, now_utc
from watui.core.ports import EventSource

KEEPALIVE_S = 15.0


SSE_RETRY_MS = 3000


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


async def _end_streams(app: web.Application) -> None:
    for stream in list(app[_STATE].streams):
        stream.close()
