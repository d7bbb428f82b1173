"""SessionState: the one writer of the session's ``SessionInfo``, and the events that say each change.

Every service of the session (verbs, recovery, liveness, snapshots, the browser slot) changes the snapshot
here and nowhere else; each change a face must see is published through the ``EventHub`` it owns. It also
keeps what the session remembers of its pages (``PageMemory``) and the operator's ``Intent``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from watui.core.events import Event, EventType
from watui.core.models import ConnectionState, InitResult, SessionInfo, now_utc
from watui.core.session.events import EventHub, EventStream
from watui.core.session.machine import SETTLED, PageMemory, with_state

S = ConnectionState


@dataclass
class Intent:
    """What the operator asked for and what runs now. Only the verbs and the session write it; services
    are handed predicates on it, not the object."""

    want_running: bool = False  # the operator asked for a connected session
    verb: str | None = None  # the verb running now
    stopping: bool = False  # watui is shutting down


class SessionState:
    """The latest ``SessionInfo`` of one session, its events, and what it remembers of its pages."""

    def __init__(self, info: SessionInfo, intent: Intent | None = None) -> None:
        self._info = info
        self.intent = intent or Intent()
        self.page = PageMemory()
        self.hub = EventHub()
        self._changed = asyncio.Event()

    @property
    def info(self) -> SessionInfo:
        """The latest immutable snapshot."""
        return self._info

    def subscribe(self) -> EventStream:
        return self.hub.subscribe()

    def update(self, **changes: Any) -> None:
        """Change fields of the snapshot (no event: the caller publishes the one that says why)."""
        self._info = replace(self._info, **changes)

    def update_health(self, **changes: Any) -> None:
        self._info = replace(self._info, health=replace(self._info.health, **changes))

    def commit(self, info: SessionInfo) -> None:
        """Take ``info`` as the new snapshot (a decision of watui/core/session/machine.py)."""
        self._info = info
        self._changed.set()

    def remember(self, **changes: Any) -> None:
        self.page = replace(self.page, **changes)

    def stop_wanting(self) -> None:
        """The operator's wish for a running session ends (a failure, a refusal, a page watui does not know)."""
        self.intent.want_running = False

    def set_state(self, state: ConnectionState, message: str = "") -> None:
        previous = self._info
        self._info = with_state(previous, state, message, now_utc())
        if previous.qr and self._info.qr is None:
            self.remember(last_qr=None)
        self._changed.set()
        if state is not previous.state:
            self.publish("state", state=state, message=message)

    def publish(
        self,
        type_: EventType,
        *,
        message: str = "",
        state: ConnectionState | None = None,
        qr: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self.emit(Event(type=type_, info=self._info, message=message, state=state, qr=qr, data=data or {}))

    def emit(self, event: Event) -> None:
        self.hub.publish(event)

    def fail(self, message: str) -> InitResult:
        """FAILED with ``message``: the operator must act (nothing is retried by itself)."""
        self.stop_wanting()
        self.set_state(S.FAILED, message)
        self.publish("error", message=message)
        return InitResult(False, False, message, S.FAILED)

    def notify(self) -> None:
        """Wake whoever waits for the page to settle (the browser went away)."""
        self._changed.set()

    async def wait_settled(
        self,
        timeout_s: float,
        ignore: frozenset[ConnectionState] | set[ConnectionState] = frozenset(),
        *,
        alive: Callable[[], bool] = lambda: True,
    ) -> ConnectionState | None:
        """Wait until the page reaches a settled state (not in ``ignore``); None on timeout or when the
        browser is gone (``alive`` says whether it runs)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            state = self._info.state
            if state in SETTLED and state not in ignore:
                return state
            if not alive():
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
