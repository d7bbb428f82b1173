"""The event fan-out: every Event the manager publishes reaches each subscriber's own queue.

A slow face loses its oldest events and never blocks the core; ``close()`` ends one stream, and
``EventHub.close_all`` ends every stream when the manager shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from watui.core.events import Event


class EventStream:
    """One subscriber's queue of events. Iterate with ``async for``; ``close()`` to unsubscribe."""

    def __init__(self, hub: EventHub, maxsize: int = 1000) -> None:
        self._hub = hub
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event

    def put(self, event: Event | None) -> None:
        if self.queue.full():  # a slow face loses the oldest events, never blocks the core
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
        self.queue.put_nowait(event)

    def close(self) -> None:
        self._hub.unsubscribe(self)
        self.put(None)


class EventHub:
    """The subscribers of one manager: ``publish`` puts an event in every stream."""

    def __init__(self) -> None:
        self._subscribers: list[EventStream] = []

    def subscribe(self) -> EventStream:
        """A new stream of every Event from now on."""
        stream = EventStream(self)
        self._subscribers.append(stream)
        return stream

    def unsubscribe(self, stream: EventStream) -> None:
        with contextlib.suppress(ValueError):
            self._subscribers.remove(stream)

    def publish(self, event: Event) -> None:
        for stream in list(self._subscribers):
            stream.put(event)

    def close_all(self) -> None:
        """End every stream (the manager is shutting down)."""
        for stream in list(self._subscribers):
            stream.close()
