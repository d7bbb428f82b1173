"""History: the owner's live journal service; records the session's events, samples it, keeps the latest uptime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from watui.config import Config
from watui.core.errors import first_line
from watui.core.events import Event
from watui.core.journal.journal import Journal, history_path
from watui.core.journal.report import read_report
from watui.core.messages.port import counted_as
from watui.core.models import SessionInfo

log = logging.getLogger(__name__)

JOURNALED = frozenset({"state", "retry", "error", "action", "alert"})  # messages: counts only (journal.py)


class History:
    """Journals the manager's events and a sample per interval; keeps the latest uptime for /metrics."""

    def __init__(
        self, config: Config, snapshot: Callable[[], SessionInfo], clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.path = history_path(config)
        self.journal = Journal(self.path, config.history.keep_days)
        self._snapshot = snapshot
        self._clock = clock
        self._sampler: asyncio.Task[None] | None = None
        self.uptime: dict[str, Any] = {}
        # Told each journal failure in one line, on the event loop (the watchers publish it as an event).
        self.on_error: Callable[[str], None] | None = None
        self.sampler_error: str | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def from_writer(message: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: watui is stopping
                loop.call_soon_threadsafe(self._say, message)

        self.journal.on_error = from_writer
        await asyncio.to_thread(self.journal.open)
        self.journal.record(self._clock(), "start", self._snapshot().state.value, "watui started")
        self.sample_now()
        self._sampler = asyncio.create_task(self._sample_loop(), name="watui-history-sample")

    def on_event(self, event: Event) -> None:
        counted = counted_as(event.type, event.data)
        if counted is not None:  # a message or an ack: counted in its hour's row, never journaled itself
            self.journal.count_messages(event.time.timestamp(), **{counted: 1})
        if event.type not in JOURNALED:
            return
        state = (event.state or event.info.state).value if event.type == "state" else event.info.state.value
        self.journal.record(event.time.timestamp(), event.type, state, event.message, event.data)

    def sample_now(self) -> None:
        info = self._snapshot()
        self.journal.sample(
            self._clock(),
            info.state.value,
            info.disk.size_bytes if info.disk and info.disk.exists else None,  # no session: no size, not 0 MB
            info.browser.rss_bytes if info.browser else None,
            info.browser.cpu_percent if info.browser else None,
        )

    async def report(self, since_s: float) -> dict[str, Any]:
        await asyncio.to_thread(self.journal.flush)
        return await asyncio.to_thread(
            read_report,
            self.path,
            since_s=since_s,
            down_after_s=self.config.alerts.down_after_s,
            gap_s=float(self.config.history.sample_interval_s),
        )

    def status(self) -> dict[str, Any]:
        """The journal's health for ``watui info`` and the status JSON: its file, the current error (None
        when writes work), how many rows wait to be written and how many were lost."""
        error = self.journal.error or self.sampler_error
        journal = self.journal
        return {"file": str(self.path), "error": error, "pending": journal.pending, "dropped": journal.dropped}

    def _say(self, message: str) -> None:
        if self.on_error is not None:
            self.on_error(message)

    async def _sample_loop(self) -> None:
        while True:
            try:
                self.uptime = (await self.report(86400.0))["uptime"]
                self.sampler_error = None
            except Exception as exc:  # the sampler is the journal's heartbeat: it never dies, it says why
                message = f"history {self.path}: reading it back failed: {first_line(exc)}"
                if message != self.sampler_error:
                    self.sampler_error = message
                    log.warning("%s", message)
                    self._say(message)
            await asyncio.sleep(self.config.history.sample_interval_s)
            try:
                self.sample_now()
            except Exception as exc:  # a bug in taking one sample must not stop the next
                log.warning("history %s: a sample failed: %s", self.path, first_line(exc))

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(BaseException):
                await self._sampler
        self.sample_now()
        self.journal.record(self._clock(), "stop", self._snapshot().state.value, "watui stopped")
        await asyncio.to_thread(self.journal.close)
