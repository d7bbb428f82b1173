"""What the handlers share: the per-app state (the SessionPort they serve, the journal, the token...)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from watui.core.ports import EventSource, HistoryPort, SessionPort


@dataclass
class _ApiState:
    manager: SessionPort
    token: str
    keepalive_s: float
    simulator: Any = None
    history: HistoryPort | None = None  # the owner's journal, handed over by the runtime
    streams: set[EventSource] = field(default_factory=set)
    background: set[asyncio.Task[Any]] = field(default_factory=set)


_STATE = web.AppKey("watui_api_state", _ApiState)


def _state(request: web.Request) -> _ApiState:
    return request.app[_STATE]
