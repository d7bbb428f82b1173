"""What runs beside the manager in the owner process: the journal (history.py) and the alerts (alerts.py).

Both only subscribe to the manager's event stream; the manager knows nothing of them. When the session
declares MESSAGES the runtime also hands over its ``traffic`` (a narrow callable): the messaging alert rules
read it at the start, on the ``message``, ``ack`` and ``state`` events and on each sampler's tick
(``[history] sample_interval_s``), one read at a time (events during a read ask for one more after it). An alert is
published back into the stream with ``manager.announce("alert", ...)``, so every face (``watch
--jsonl``, the API's events, the dashboard) and the journal see it like any other event.
``session_runtime`` starts them for every face and hands them to the faces (``Runtime.journal``): they
read them through ``HistoryPort`` (watui/core/ports.py), which :class:`Watchers` implements.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from watui.config import Config
from watui.core.events import Event
from watui.core.journal.alerts import Alert, AlertRules
from watui.core.journal.channels import Delivery, Dispatcher, channels_for
from watui.core.journal.history import History
from watui.core.journal.journal import history_path, load_alert_memory, save_alert_memory
from watui.core.journal.report import read_report
from watui.core.messages.port import Traffic
from watui.core.ports import HistoryPort

if TYPE_CHECKING:
    from watui.core.session.events import EventStream
    from watui.core.session.manager import SessionManager

log = logging.getLogger(__name__)
TICK_S = 1.0
# The events after which the messaging figures may have changed (the outbox, the inbox, the state).
TRAFFIC_EVENTS = frozenset({"message", "ack", "state"})
TRAFFIC_GAP_S = 0.5  # reads asked back to back (a burst of sends) start at most this often


class Watchers:
    """The journal and the alert rules of one owner; what the faces read of them is HistoryPort's."""

    def __init__(
        self, config: Config, manager: SessionManager, traffic: Callable[[], Awaitable[Traffic]] | None = None
    ) -> None:
        self.config = config
        self.manager = manager
        self.traffic = traffic  # the session's messaging figures (None: it has no messaging)
        self._traffic_read: asyncio.Task[None] | None = None
        self._traffic_again = False
        self._traffic_at = 0.0  # time.monotonic() of the last read asked
        self._traffic_error: str | None = None
        self.history = History(config, lambda: manager.info) if config.history.enabled else None
        self.rules = AlertRules(config.alerts, config.session.client_id) if config.alerts.enabled else None
        self.dispatcher = Dispatcher(channels_for(config.alerts))
        self.dispatcher.on_delivered = self._delivered
        self.recent: list[Alert] = []  # the newest last; what the dashboard's alert bar shows
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: asyncio.Task[None] | None = None
        # The rules' memory as last kept in the journal, and the writes of it in flight (one at a time).
        self._memory: dict[str, Any] | None = None
        self._memory_lock = asyncio.Lock()
        self._memory_writes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        stream = self.manager.subscribe()  # first: the journal's own errors at its start are journaled too
        if self.history is not None:
            # A journal that cannot be written (a read-only folder, a lock, a deleted file): an error event
            # each time, and watui runs on; the journal keeps the rows and tries again.
            self.history.on_error = lambda message: self.manager.announce("error", message=message)
            await self.history.start()
        if self.rules is not None and self.history is not None:
            # What the rules knew when watui last stopped: a restart must not repeat their alerts.
            memory = await asyncio.to_thread(load_alert_memory, history_path(self.config))
            if memory is not None:
                self.rules.restore(memory)
            self._memory = self.rules.memory()
        self._consumer = asyncio.create_task(self._consume(stream), name="watui-watchers")
        if self.rules is not None:
            self._tasks.append(asyncio.create_task(self._tick(), name="watui-alert-tick"))
            self._read_traffic()

    # -- what the faces read (HistoryPort) -------------------------------------------------------
    def status(self) -> dict[str, Any] | None:
        return self.history.status() if self.history is not None else None

    def uptime(self) -> dict[str, Any]:
        return self.history.uptime if self.history is not None else {}

    def firing(self) -> list[str] | None:
        return list(self.rules.firing()) if self.rules is not None else None

    def sample_now(self) -> None:
        if self.history is not None:
            self.history.sample_now()

    async def report(self, since_s: float) -> dict[str, Any]:
        """The live journal's report; with the journal off, the file as an earlier run left it."""
        if self.history is not None:
            return await self.history.report(since_s)
        config = self.config
        return await asyncio.to_thread(
            read_report,
            history_path(config),
            since_s=since_s,
            down_after_s=config.alerts.down_after_s,
            gap_s=float(config.history.sample_interval_s),
        )

    async def _consume(self, stream: EventStream) -> None:
        async for event in stream:
            try:
                self.on_event(event)
            except Exception:  # a bug here must not stop the journal or the other alerts
                log.exception("watchers failed on %s", event.type)

    def on_event(self, event: Event) -> None:
        if self.history is not None:
            self.history.on_event(event)
        if self.rules is not None and event.type != "alert":
            for alert in self.rules.on_event(event):
                self._raise(alert)
            self._remember()
            if event.type in TRAFFIC_EVENTS:
                self._read_traffic()

    async def _tick(self) -> None:
        assert self.rules is not None
        while True:
            await asyncio.sleep(TICK_S)
            for alert in self.rules.tick(self.manager.info):
                self._raise(alert)
            self._remember()
            if time.monotonic() - self._traffic_at >= self.config.history.sample_interval_s:
                self._read_traffic()  # the sampler's pace: a backlog that grows with no event is seen too

    def _read_traffic(self) -> None:
        """Ask for a read of the session's traffic: one at a time (the session reads its files off the loop);
        asked while one runs, one more follows it, however many events asked."""
        if self.traffic is None or self.rules is None:
            return
        self._traffic_at = time.monotonic()
        if self._traffic_read is not None and not self._traffic_read.done():
            self._traffic_again = True
            return
        self._traffic_read = asyncio.create_task(self._traffic_reads(self.traffic), name="watui-alert-traffic")

    async def _traffic_reads(self, read: Callable[[], Awaitable[Traffic]]) -> None:
        assert self.rules is not None
        while True:
            self._traffic_again = False
            started = time.monotonic()
            try:
                figures = await read()
            except Exception as exc:
                # The outbox not open (watui starting or stopping), a disk error (the messaging service says
                # that one itself, as an error event): logged once, tried again at the next event or tick.
                message = f"alerts: cannot read the messaging figures: {exc}"
                if message != self._traffic_error:
                    self._traffic_error = message
                    log.info("%s", message)
            else:
                self._traffic_error = None
                for alert in self.rules.on_traffic(figures, self.manager.info):
                    self._raise(alert)
                self._remember()
            if not self._traffic_again:
                return
            await asyncio.sleep(max(0.0, TRAFFIC_GAP_S - (time.monotonic() - started)))

    def _remember(self) -> None:
        """Keep the rules' memory in the journal when it changed (off the loop, in order, latest wins)."""
        if self.rules is None or self.history is None or self.history.journal.error:
            return
        memory = self.rules.memory()
        if memory == self._memory:
            return
        self._memory = memory
        task = asyncio.create_task(self._write_memory(), name="watui-alert-memory")
        self._memory_writes.add(task)
        task.add_done_callback(self._memory_writes.discard)

    async def _write_memory(self) -> None:
        async with self._memory_lock:
            memory = self._memory
            if memory is None:
                return
            try:
                await asyncio.to_thread(save_alert_memory, history_path(self.config), memory)
            except (sqlite3.Error, OSError) as exc:
                log.warning("cannot keep the alert rules' memory in the journal: %s", exc)

    def _raise(self, alert: Alert) -> None:
        self.recent = [*self.recent[-19:], alert]
        data = {"alert": alert.alert, "status": alert.status, "session": alert.session, "state": alert.state}
        self.manager.announce("alert", message=alert.message, data=data)
        self.dispatcher.submit(alert)

    def _delivered(self, alert: Alert, results: list[Delivery]) -> None:
        for result in results:
            if not result.ok:
                outcome = "delivery unknown" if result.unknown else "not delivered"
                log.warning("alert %s %s by %s: %s", alert.alert, outcome, result.channel, result.detail)
                self.manager.announce(
                    "error", message=f"alert {alert.alert} {outcome} by {result.channel}: {result.detail}"
                )

    async def close(self) -> None:
        """After the manager's shutdown: the stream has ended; journal the stop, let deliveries finish."""
        for task in [*self._tasks, *([self._traffic_read] if self._traffic_read is not None else [])]:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if self._consumer is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._consumer, 5)
        if self._memory_writes:
            await asyncio.wait(list(self._memory_writes), timeout=10)
        if self.history is not None:
            await self.history.close()
        await self.dispatcher.drain(3.0)


async def start_watchers(
    config: Config, manager: SessionManager, traffic: Callable[[], Awaitable[Traffic]] | None = None
) -> Watchers:
    watchers = Watchers(config, manager, traffic)
    await watchers.start()
    return watchers


if TYPE_CHECKING:

    def _conforms(config: Config, manager: SessionManager) -> HistoryPort:
        return Watchers(config, manager)  # mypy: the journal service is the faces' HistoryPort
