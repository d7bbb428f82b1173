"""SessionManager: smart-initialize, health, reconnect with backoff, the verbs, the event stream.

INTERFACE STUB — being implemented (issue 3). The faces (TUI, CLI, HTTP API) use only what is here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from watui.config import Config
from watui.core.models import ClearReport, CleanupReport, DiskReport, Event, InitResult, SessionInfo


class EventStream:
    """One subscriber's queue of events. Iterate with ``async for``; ``close()`` to unsubscribe."""

    def __init__(self, manager: SessionManager, maxsize: int = 1000) -> None:
        self._manager = manager
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        raise NotImplementedError


class SessionManager:
    """Owns one WhatsApp Web session. Every verb is safe to call from any face, any time:
    a verb that cannot act now raises ActionUnavailable; concurrent calls of smart_initialize /
    reconnect share one run (the second caller awaits the first's result)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self) -> None:
        """Take ownership of the session (SessionBusyError if another watui has it), read the disk,
        start the health loop. Starts no browser."""
        raise NotImplementedError

    async def shutdown(self) -> None:
        """Close the browser cleanly (the profile survives), stop loops, release ownership."""
        raise NotImplementedError

    # -- what faces read ---------------------------------------------------------------------------
    @property
    def info(self) -> SessionInfo:
        """The latest immutable snapshot."""
        raise NotImplementedError

    def subscribe(self) -> EventStream:
        """A new stream of every Event from now on."""
        raise NotImplementedError

    @property
    def busy(self) -> str | None:
        """The verb running now ('initialize', 'reconnect', 'cleanup', 'clear'), or None."""
        raise NotImplementedError

    def can(self, verb: str) -> bool:
        """Whether ``verb`` can act now (faces grey out what cannot)."""
        raise NotImplementedError

    def get_detailed_session_info(self) -> dict[str, Any]:
        """The status JSON of DESIGN.md (``self.info.to_json()``)."""
        raise NotImplementedError

    # -- verbs -------------------------------------------------------------------------------------
    async def smart_initialize(self) -> InitResult:
        raise NotImplementedError

    async def reconnect(self) -> InitResult:
        raise NotImplementedError

    async def cleanup(self) -> CleanupReport:
        raise NotImplementedError

    async def clear(self, purge: bool = False) -> ClearReport:
        raise NotImplementedError

    async def refresh_disk(self) -> DiskReport:
        raise NotImplementedError
