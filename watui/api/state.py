"""What the handlers share: the ManagerLike protocol they serve and the per-app state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from watui.core.models import CleanupReport, ClearReport, Event, InitResult, SessionInfo


class EventSource(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class ManagerLike(Protocol):
    """What the HTTP face uses of ``watui.core.session.manager.SessionManager``."""

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
