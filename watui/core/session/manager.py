"""SessionManager: the one owner of a session: its lifecycle, its state, and the browser it drives.

The manager is the composition root of a session: it builds the services, each handed only what it
needs, and starts and stops them in order (an ``AsyncExitStack``). ``SessionState`` (state.py) is the one
writer of the ``SessionInfo`` snapshot and its events; ``BrowserSlot`` (browser_slot.py) holds the browser;
what the page reports is decided by ``machine.on_report`` (a pure function) and carried out here. The verbs
(verbs.py), reconnect with backoff (recovery.py), the launch gate (launch.py), health, heartbeat, sampling
and recycling (liveness.py), and the snapshot schedule and restore-before-QR (autosnap.py) do the rest.
Faces read snapshots, subscribe to events and call the verbs, all here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from watui.config import Config
from watui.core.browser.contract import PageReport
from watui.core.browser.driver import BrowserDriver
from watui.core.disk.locks import OwnerLock
from watui.core.disk.store import SessionStore
from watui.core.doctor import DoctorReport, probe_page
from watui.core.errors import ActionUnavailable
from watui.core.events import EventType
from watui.core.messages.port import DEFAULT_LIMIT, Message, MessagePage, Traffic
from watui.core.messages.service import MessagingService
from watui.core.models import (
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    Health,
    InitResult,
    SessionInfo,
    now_utc,
)
from watui.core.ports import BACKUP, DOCTOR, MESSAGES, SNAPSHOTS, Capability
from watui.core.session import machine
from watui.core.session.autosnap import AutoSnap
from watui.core.session.browser_slot import BrowserSlot
from watui.core.session.events import EventStream
from watui.core.session.launch import LaunchGate
from watui.core.session.liveness import HealthCheck, Heartbeat, Recycler, Sampler
from watui.core.session.machine import REAL_QR_ROTATE_S
from watui.core.session.recovery import Recovery
from watui.core.session.state import Intent, SessionState
from watui.core.session.verbs import Verbs
from watui.core.snapshots import Snapshot

log = logging.getLogger(__name__)

S = ConnectionState


class SessionManager:
    """Owns one WhatsApp Web session. Every verb is safe to call from any face, any time:
    a verb that cannot act now raises ActionUnavailable; concurrent calls of smart_initialize /
    reconnect share one run (the second caller awaits the first's result)."""

    def __init__(self, config: Config, store: SessionStore | None = None) -> None:
        self.config = config
        self.store = store or SessionStore(config)
        self.intent = Intent()
        self.state = SessionState(SessionInfo(demo=config.demo_mode), self.intent)
        self._owner: OwnerLock | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []  # the services' loops (liveness.py), started by start()
        self._takeover: asyncio.Task[None] | None = None
        self._disk_lock = asyncio.Lock()
        session, st = config.session, self.state
        self.slot = BrowserSlot(
            config, st, on_report=self._on_report, on_closed=self._on_browser_closed,
            on_launched=lambda: self.recycler.note_launched(), clean=self.store.cleanup,
            refresh_disk=self.refresh_disk, spawn=self._spawn,
        )  # fmt: skip
        self.autosnap = AutoSnap(config, self.store, st, self.slot, refresh_disk=self.refresh_disk, spawn=self._spawn)
        self._gate = LaunchGate(st, self.slot, self.autosnap, self.store, self.refresh_disk)
        self.recovery = Recovery(
            st, self.slot, config.reconnect, self.slot.load_timeout_s, gate=self._gate, starting=lambda: self._starting
        )
        self._verbs = Verbs(
            config, st, self.slot, self.intent, self.recovery, self._gate, self.store,
            refresh_disk=self.refresh_disk, spawn=self._spawn,
        )  # fmt: skip
        self.heartbeat = Heartbeat(
            st, self.slot, lambda: self.intent.want_running and self._idle, self._on_frozen,
            session.heartbeat_timeout_ms / 1000,
        )  # fmt: skip
        self.health = HealthCheck(
            st, self.slot, self.heartbeat, interval_s=session.health_check_interval_ms / 1000,
            should_run=lambda: self.intent.want_running and self._idle, recover=self.recovery.start,
            refresh_disk=self.refresh_disk,
        )  # fmt: skip
        self.sampler = Sampler(st, self.slot)
        self.recycler = Recycler(
            config.browser, st, self.slot, quiet=self._quiet, reconnect=lambda: self._verbs.shared_run("reconnect")
        )
        # [messaging hook 1/4] narrow callables, never the manager (watui/core/messages/service.py)
        self.messaging = MessagingService(
            config, page=lambda: self.slot.driver.page if self.slot.driver is not None else None,
            wid=lambda: self.state.page.wid, logout_seen=lambda: self.state.page.logout_seen,
            subscribe=self.subscribe, publish=self.announce,
        )  # fmt: skip
        # What shutdown undoes, last first: the events end, the ownership goes, the browser closes; the
        # loops started by start() and the messaging are stopped before these.
        self._stack = contextlib.AsyncExitStack()
        self._stack.callback(st.hub.close_all)
        self._stack.push_async_callback(self._release_owner)
        self._stack.push_async_callback(self._stop_browser)

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, owner: OwnerLock | None = None) -> None:
        """Take ownership of the session (SessionBusyError if another watui has it), read the disk,
        start the health loop. Starts no browser. ``owner``: the lock, taken already by the caller (it is
        released by ``shutdown``)."""
        self._owner = owner
        await asyncio.to_thread(self.store.ensure_root)
        await self.autosnap.start()  # ConfigError: a bad key
        if self._owner is None:
            self._owner = await asyncio.to_thread(self.store.acquire_owner)
        await self.refresh_disk()
        loops = {"health": self.health.run, "heartbeat": self.heartbeat.run, "sample": self.sampler.run}
        if self.recycler.wanted:
            loops["recycle"] = self.recycler.run
        for name, run in loops.items():
            self._loops.append(asyncio.create_task(run(), name=f"watui-{name}"))
            self._stack.push_async_callback(_cancel, self._loops[-1])
        await self.messaging.start()  # [messaging hook 2/4]
        self._stack.push_async_callback(self.messaging.stop)  # [messaging hook 3/4] stopped before the browser

    async def shutdown(self) -> None:
        """Close the browser cleanly (the profile survives), stop loops, release ownership."""
        self.intent.stopping = True
        self.intent.want_running = False
        await self.autosnap.flush()  # what this run saw of the session is on disk for the next start
        running = [*self._loops, *self._tasks, self.recovery.task, self._verbs.run, self._takeover]
        for task in running:
            if task is not None and not task.done():
                task.cancel()
        for task in running:
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        await self._stack.aclose()

    async def _stop_browser(self) -> None:
        await self.slot.close()
        self.state.set_state(S.UNLAUNCHED, "watui stopped; the session is kept on disk")

    async def _release_owner(self) -> None:
        if self._owner is not None:
            await asyncio.to_thread(self._owner.release)
            self._owner = None

    # -- what faces read ---------------------------------------------------------------------------
    @property
    def info(self) -> SessionInfo:
        """The latest immutable snapshot."""
        return self.state.info

    def subscribe(self) -> EventStream:
        """A new stream of every Event from now on."""
        return self.state.subscribe()

    # Every optional ability of the port: the owner takes and lists snapshots, runs the doctor, and sends
    # and receives messages ([messaging hook], its MessagingPort methods below).
    capabilities: frozenset[Capability] = frozenset({BACKUP, SNAPSHOTS, DOCTOR, MESSAGES})

    @property
    def busy(self) -> str | None:
        """The verb running now ('initialize', 'reconnect', 'cleanup', 'clear'), or None."""
        return self.intent.verb

    def can(self, verb: str) -> bool:
        """Whether ``verb`` can act now (faces grey out what cannot)."""
        return self._verbs.can(verb)

    @property
    def _starting(self) -> bool:
        return self._verbs.starting

    @property
    def _idle(self) -> bool:
        """No verb in progress: a verb owns the browser and has its own timeouts."""
        return not self._starting and self.intent.verb is None and not self.intent.stopping

    def _quiet(self) -> bool:
        """Nothing else acts on the browser now (a recycle may close it)."""
        return self.intent.verb is None and not self._starting and not self.recovery.running and not self.autosnap.busy

    def get_detailed_session_info(self) -> dict[str, Any]:
        """The status JSON of DESIGN.md."""
        return self.state.info.to_json()

    # -- verbs -------------------------------------------------------------------------------------
    # How they run is watui/core/session/verbs.py's.
    async def smart_initialize(self) -> InitResult:
        """Validate, clean, launch, connect or ask for a QR; retry with backoff; FAILED says what to do."""
        return await self._verbs.shared_run("initialize")

    async def reconnect(self) -> InitResult:
        """Take over a conflict, or restart the browser on the same profile and connect again."""
        return await self._verbs.reconnect()

    async def cleanup(self) -> CleanupReport:
        """Remove caches and stale locks. A running browser is closed first and started again after."""
        return await self._verbs.cleanup()

    async def clear(self, purge: bool = False) -> ClearReport:
        """Move the session into quarantine (or delete it with purge); a QR scan is needed after."""
        return await self._verbs.clear(purge)

    async def refresh_disk(self) -> DiskReport:
        """Read the session folder again (off the loop; two reads never overlap)."""
        async with self._disk_lock:
            driver = self.slot.driver
            own = await asyncio.to_thread(driver.own_pids) if driver else frozenset()
            report = await asyncio.to_thread(self.store.inspect, own)
        self.state.update(disk=report, updated_at=now_utc())
        self.state.publish("disk")
        return report

    # -- [messaging hook 4/4] MessagingPort (watui/core/messages/port.py), by the messaging service -------
    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        """Accept a text into the outbox (committed before the id comes back); sent when CONNECTED."""
        return await self.messaging.send_text(to, text, key=key)

    async def message(self, message_id: str) -> Message | None:
        return await self.messaging.message(message_id)

    async def messages(self, since: str | None = None, limit: int = DEFAULT_LIMIT, bodies: bool = False) -> MessagePage:
        return await self.messaging.messages(since, limit, bodies)

    async def traffic(self) -> Traffic:
        return await self.messaging.traffic()

    # -- doctor (watui/core/doctor.py) ------------------------------------------------------------
    async def doctor(self) -> DoctorReport:
        """``watui doctor`` beside this owner: probe the page its browser shows now, keep the evidence."""
        driver = self.slot.driver
        if driver is None or not driver.running:
            raise ActionUnavailable(
                f"cannot run the doctor: the owner's browser is not running ({self.state.info.state.value}); "
                "start it (watui init) and run watui doctor again"
            )
        detection = driver.detection
        state = self.state.info.state.value if detection else "UNRECOGNISED"
        return await probe_page(self.config, driver, detection=detection, state=state, qr=self.state.info.qr)

    # -- snapshots (watui/core/session/autosnap.py) ------------------------------------------------
    async def backup(self) -> Snapshot:
        """Take an encrypted snapshot of the login now (copied the way LevelDB reads it when the browser runs)."""
        return await self.autosnap.backup()

    async def snapshots(self) -> dict[str, Any]:
        """The snapshots of this session and whether they are on, as JSON (read off the loop; no key needed)."""
        return await self.autosnap.snapshots()

    @property
    def last_snapshot(self) -> Snapshot | None:
        """The snapshot this manager took last (None before the first)."""
        return self.autosnap.last_snapshot

    @property
    def logout_seen(self) -> bool:
        """WhatsApp logged the page out since watui last loaded it (its own logout, watui/core/browser/contract.py):
        only then is a QR a logout; any other QR on a session that was connected is the profile's doing."""
        return self.state.page.logout_seen

    # -- what the browser tells us -----------------------------------------------------------------
    def _on_report(self, report: PageReport) -> None:
        """Decide (watui/core/session/machine.py) and carry the decision out, in order."""
        config = self.config
        ctx = machine.Context(
            page=self.state.page,
            now=now_utc(),
            stopping=self.intent.stopping,
            qr_rotate_s=config.demo.qr_rotate_ms / 1000 if config.demo_mode else REAL_QR_ROTATE_S,
            qr_max_retries=config.whatsapp.qr_max_retries,
            takeover_on_conflict=config.whatsapp.takeover_on_conflict,
            takeover_delay_s=config.whatsapp.takeover_delay_ms / 1000,
        )
        info, effects = machine.on_report(self.state.info, report, ctx)
        if not effects and info is self.state.info:
            return
        self.state.commit(info)
        for effect in effects:
            self._carry_out(effect)

    def _carry_out(self, effect: machine.Effect) -> None:
        match effect:
            case machine.Publish(event):
                self.state.emit(event)
            case machine.Remember(page):
                self.state.page = page
            case machine.StartRecovery(reason):
                self.recovery.start(reason)
            case machine.CancelRecovery():
                self._spawn(self.recovery.cancel())
            case machine.StopWanting():
                self.state.stop_wanting()
            case machine.RefreshDisk():
                self._spawn(self.refresh_disk())
            case machine.NoteConnected(wid):
                self.autosnap.on_connected(wid)
            case machine.NoteLogout():
                self.autosnap.record(self.autosnap.note_logout())
            case machine.ReloadQr():
                self._spawn(self.slot.reload_qr())
            case machine.TakeOver(delay_s):
                self._takeover = asyncio.create_task(self._delayed_takeover(delay_s))

    async def _delayed_takeover(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.state.info.state is S.CONFLICT:
            await self._verbs.take_over()

    def _on_browser_closed(self, reason: str) -> None:
        """The slot's browser died (the slot has let it go already)."""
        if self.intent.stopping:
            return
        self.state.publish("error", message=f"{reason} unexpectedly")
        if self.intent.want_running and not self._starting:
            self.recovery.start(reason)
        else:
            self.state.set_state(S.UNLAUNCHED, reason)
        self.state.notify()

    async def _on_frozen(self, driver: BrowserDriver, silent_s: float) -> None:
        """The heartbeat heard nothing from ``driver`` for ``silent_s``: kill it and start it again."""
        reason = f"browser not answering for {silent_s:.0f} s"
        log.warning("%s (pid %s): killing and replacing it", reason, driver.pid)
        self.state.publish("error", message=f"{reason}; replacing it")
        self.state.update(connected_since=None)
        self.state.set_state(S.RECONNECTING, f"{reason}; restarting the browser")
        # Still the slot's driver while it dies, so that nothing starts another browser on the profile meanwhile.
        await self.slot.kill()  # frozen: a clean close cannot come
        if self.intent.want_running and self._idle:
            self.recovery.start(reason)

    # -- liveness (watui/core/session/liveness.py) -------------------------------------------------
    async def check_health(self) -> Health:
        """The safety net: is the browser alive and answering, and what does the disk look like."""
        return await self.health.check()

    async def recycle(self, reason: str = "asked") -> InitResult:
        """Close the browser cleanly and reopen it on the same profile (the login is kept: no QR)."""
        return await self.recycler.recycle(reason)

    # -- publishing --------------------------------------------------------------------------------
    def announce(self, type_: EventType, *, message: str = "", data: dict[str, Any] | None = None) -> None:
        """Publish an event made beside the manager (an alert, by watui/core/journal/service.py) to every face."""
        self.state.publish(type_, message=message, data=data)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _cancel(task: asyncio.Task[Any]) -> None:
    """Stop a service's loop and wait for it to end."""
    task.cancel()
    with contextlib.suppress(BaseException):
        await task
