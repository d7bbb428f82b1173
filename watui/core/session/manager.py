"""SessionManager: the one owner of a session: its lifecycle, its state, and the browser it drives.

The manager listens to the browser driver (page states pushed by a MutationObserver, browser/page close
and crash events), keeps an immutable ``SessionInfo`` snapshot and publishes an ``Event`` for every change.
Faces read snapshots, subscribe to events and call the verbs, all here. The rest is done by collaborators
that hold a reference to the manager, one responsibility each: the verbs (watui/core/session/verbs.py), reconnect
with backoff (recovery.py), health, heartbeat, sampling and recycling (liveness.py), the snapshot schedule
and restore-before-QR (autosnap.py), and the event fan-out (events.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from dataclasses import replace
from datetime import timedelta
from typing import Any

from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from watui.config import Config
from watui.core.browser.driver import BrowserDriver, PageReport
from watui.core.disk.evidence import save_evidence
from watui.core.disk.locks import OwnerLock
from watui.core.disk.store import SessionStore
from watui.core.doctor import DoctorReport, probe_page
from watui.core.errors import ActionUnavailable, InitFailed, WatuiError, first_line
from watui.core.messages.port import DEFAULT_LIMIT, Message, MessagePage
from watui.core.messages.service import MessagingService
from watui.core.models import (
    HINT_TAKEOVER,
    STATE_MESSAGES,
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    Event,
    EventType,
    Health,
    InitResult,
    SessionInfo,
    now_utc,
)
from watui.core.ports import BACKUP, DOCTOR, SNAPSHOTS, Capability
from watui.core.session.autosnap import AutoSnap
from watui.core.session.events import EventHub, EventStream
from watui.core.session.launch import LaunchGate
from watui.core.session.liveness import Liveness
from watui.core.session.recovery import Recovery, answer_within_s
from watui.core.session.verbs import Verbs
from watui.core.snapshots import Snapshot

log = logging.getLogger(__name__)

S = ConnectionState
# States in which the page has settled: watui knows what the session is doing.
SETTLED = frozenset({S.CONNECTED, S.UNPAIRED, S.UNPAIRED_IDLE, S.CONFLICT, S.BLOCKED})
VERBS = ("initialize", "reconnect", "cleanup", "clear")
REAL_QR_ROTATE_S = 20.0  # WhatsApp Web rotates its QR ref about every 20 s


class SessionManager:
    """Owns one WhatsApp Web session. Every verb is safe to call from any face, any time:
    a verb that cannot act now raises ActionUnavailable; concurrent calls of smart_initialize /
    reconnect share one run (the second caller awaits the first's result)."""

    def __init__(self, config: Config, store: SessionStore | None = None) -> None:
        self.config = config
        self.store = store or SessionStore(config)
        self._info = SessionInfo(demo=config.demo_mode)
        self._events = EventHub()
        self._driver: BrowserDriver | None = None
        self._owner: OwnerLock | None = None
        self._run: asyncio.Task[InitResult] | None = None  # the shared initialize/reconnect run
        self._recovery = Recovery(self)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._verb: str | None = None
        self._want_running = False  # the operator asked for a connected session
        self._state_changed = asyncio.Event()
        self._qr_reloads = 0
        self._last_qr: str | None = None
        self._logout_seen = False  # the page in front of us said WhatsApp logged it out (since our last load)
        self._wid: str | None = None  # the linked account as the page stores it
        self._takeover: asyncio.Task[None] | None = None
        self._stopping = False
        self._disk_lock = asyncio.Lock()
        self._autosnap = AutoSnap(self)
        self._liveness = Liveness(self)
        self._verbs = Verbs(self)
        self._gate = LaunchGate(self)
        # [messaging hook 1/4] narrow callables, never the manager (watui/core/messages/service.py)
        self._messaging = MessagingService(
            config, page=lambda: self._driver.page if self._driver is not None else None, wid=lambda: self._wid,
            logout_seen=lambda: self._logout_seen, subscribe=self.subscribe, publish=self.announce,
        )  # fmt: skip

    # -- lifecycle ---------------------------------------------------------------------------------
    async def start(self, owner: OwnerLock | None = None) -> None:
        """Take ownership of the session (SessionBusyError if another watui has it), read the disk,
        start the health loop. Starts no browser. ``owner``: the lock, taken already by the caller (it is
        released by ``shutdown``)."""
        self._owner = owner
        await asyncio.to_thread(self.store.ensure_root)
        await self._autosnap.start()  # ConfigError: a bad key
        if self._owner is None:
            self._owner = await asyncio.to_thread(self.store.acquire_owner)
        await self.refresh_disk()
        self._loops.extend(self._liveness.start())
        await self._messaging.start()  # [messaging hook 2/4]

    async def shutdown(self) -> None:
        """Close the browser cleanly (the profile survives), stop loops, release ownership."""
        self._stopping = True
        self._want_running = False
        await self._autosnap.flush()  # what this run saw of the session is on disk for the next start
        for task in [*self._loops, *self._tasks, self._recovery.task, self._run, self._takeover]:
            if task is not None and not task.done():
                task.cancel()
        for task in [*self._loops, *self._tasks, self._recovery.task, self._run, self._takeover]:
            if task is not None:
                with contextlib.suppress(BaseException):
                    await task
        await self._messaging.stop()  # [messaging hook 3/4] before the tab goes
        await self._close_browser()
        self._set_state(S.UNLAUNCHED, "watui stopped; the session is kept on disk")
        if self._owner is not None:
            await asyncio.to_thread(self._owner.release)
            self._owner = None
        self._events.close_all()

    # -- what faces read ---------------------------------------------------------------------------
    @property
    def info(self) -> SessionInfo:
        """The latest immutable snapshot."""
        return self._info

    def subscribe(self) -> EventStream:
        """A new stream of every Event from now on."""
        return self._events.subscribe()

    # Every optional ability of the port: the owner takes and lists snapshots and runs the doctor.
    capabilities: frozenset[Capability] = frozenset({BACKUP, SNAPSHOTS, DOCTOR})

    @property
    def busy(self) -> str | None:
        """The verb running now ('initialize', 'reconnect', 'cleanup', 'clear'), or None."""
        return self._verb

    def can(self, verb: str) -> bool:
        """Whether ``verb`` can act now (faces grey out what cannot)."""
        if self._stopping or verb not in VERBS:
            return False
        if self._verb in ("cleanup", "clear"):
            return False
        if verb in ("initialize", "reconnect"):
            return True  # joins a run in progress
        if self._verb is not None or self._starting:
            return False
        if verb == "clear":
            return bool(self._info.disk and self._info.disk.exists)
        return True

    @property
    def _load_timeout_s(self) -> float:
        """How long WhatsApp Web may take to load or come back (``session_timeout_ms``)."""
        return self.config.session.session_timeout_ms / 1000

    @property
    def _starting(self) -> bool:
        return self._run is not None and not self._run.done()

    def get_detailed_session_info(self) -> dict[str, Any]:
        """The status JSON of DESIGN.md."""
        return self._info.to_json()

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
            own = await asyncio.to_thread(self._driver.own_pids) if self._driver else frozenset()
            report = await asyncio.to_thread(self.store.inspect, own)
        self._info = replace(self._info, disk=report, updated_at=now_utc())
        self._publish("disk")
        return report

    # -- [messaging hook 4/4] MessagingPort (watui/core/messages/port.py), by the messaging service -------
    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        """Accept a text into the outbox (committed before the id comes back); sent when CONNECTED."""
        return await self._messaging.send_text(to, text, key=key)

    async def message(self, message_id: str) -> Message | None:
        return await self._messaging.message(message_id)

    async def messages(self, since: str | None = None, limit: int = DEFAULT_LIMIT, bodies: bool = False) -> MessagePage:
        return await self._messaging.messages(since, limit, bodies)

    # -- doctor (watui/core/doctor.py) ------------------------------------------------------------
    async def doctor(self) -> DoctorReport:
        """``watui doctor`` beside this owner: probe the page its browser shows now, keep the evidence."""
        driver = self._driver
        if driver is None or not driver.running:
            raise ActionUnavailable(
                f"cannot run the doctor: the owner's browser is not running ({self._info.state.value}); "
                "start it (watui init) and run watui doctor again"
            )
        detection = driver.detection
        state = self._info.state.value if detection else "UNRECOGNISED"
        return await probe_page(self.config, driver, detection=detection, state=state, qr=self._info.qr)

    # -- snapshots (watui/core/session/autosnap.py) ------------------------------------------------
    async def backup(self) -> Snapshot:
        """Take an encrypted snapshot of the login now (copied the way LevelDB reads it when the browser runs)."""
        return await self._autosnap.backup()

    async def snapshots(self) -> dict[str, Any]:
        """The snapshots of this session and whether they are on, as JSON (read off the loop; no key needed)."""
        return await self._autosnap.snapshots()

    @property
    def last_snapshot(self) -> Snapshot | None:
        """The snapshot this manager took last (None before the first)."""
        return self._autosnap.last_snapshot

    @property
    def logout_seen(self) -> bool:
        """WhatsApp logged the page out since watui last loaded it (its own logout, watui/core/browser/contract.py):
        only then is a QR a logout; any other QR on a session that was connected is the profile's doing."""
        return self._logout_seen

    # -- the browser -------------------------------------------------------------------------------
    # Every launch goes through the launch gate (watui/core/session/launch.py), which checks the disk first.
    async def _launch(self) -> None:
        """Clean caches and stale locks (the browser is stopped: safe), start Chromium, open the page."""
        await self._close_browser()
        with contextlib.suppress(WatuiError):  # a refused cleanup is no reason not to start
            await asyncio.to_thread(self.store.cleanup)
        if self._info.state is not S.RECONNECTING:  # a recovery keeps saying so, with its attempt count
            self._set_state(S.OPENING, "starting the browser")
        driver = BrowserDriver(self.config, self._on_report, lambda why: self._on_browser_closed(driver, why))
        self._driver = driver
        try:
            await driver.launch()
        except WatuiError:
            raise
        except Exception as exc:  # Playwright's errors: the browser did not start
            await self._close_browser()
            raise InitFailed(self._explain(exc)) from exc
        self._info = replace(self._info, browser=await asyncio.to_thread(driver.sample))
        self._liveness.note_launched()
        await self.refresh_disk()  # the profile exists now, locked by our own browser
        await self._open_page()

    async def _open_page(self) -> None:
        driver = self._driver
        if driver is None:  # closed under the attempt (a health check gave up on it): retry with a new one
            raise InitFailed("the browser was closed while WhatsApp Web was loading")
        self._logout_seen = False  # a new page: what the last one said is noted already
        try:
            status = await driver.open()
        except Exception as exc:
            raise InitFailed(self._explain(exc)) from exc
        if status is not None and status >= 400:
            raise InitFailed(f"WhatsApp Web answered HTTP {status}")

    def _explain(self, exc: BaseException) -> str:
        if isinstance(exc, PlaywrightTimeoutError) and "goto" in str(exc):
            return f"WhatsApp Web did not load within {self._load_timeout_s:g} s"
        return first_line(exc)

    async def _unrecognised(self) -> bool:
        """A page loaded but no channel recognised it: keep the evidence, say so (state UNRECOGNISED)."""
        driver = self._driver
        if driver is None or not driver.running or driver.detection is not None or not await driver.page_loaded():
            return False
        if not await driver.ping(answer_within_s(self.config)):
            # Not an unknown page: a browser that paints nothing or cannot reach the site (its GPU process or
            # network service stopped) hides what the page shows, a QR read from its pixels first. A new
            # browser, not evidence (it would have no screenshot) and a stop.
            await self._kill_browser()
            raise InitFailed("the browser does not answer (it paints nothing, or cannot reach the site)")
        folder: str | None = None
        try:
            evidence = await driver.collect_evidence()
            folder = str(await asyncio.to_thread(save_evidence, self.config.session_root, evidence))
        except Exception as exc:  # the state matters more than the evidence
            log.warning("could not save the evidence of an unrecognised page: %s", first_line(exc))
        where = f"; evidence in {folder}" if folder else ""
        message = (
            f"WhatsApp Web loaded but watui recognises nothing on it (no channel matched within "
            f"{self._load_timeout_s:g} s){where}. Run 'watui doctor'; the page may have changed"
        )
        self._want_running = False
        self._info = replace(self._info, evidence=folder)
        self._set_state(S.UNRECOGNISED, message)
        self._publish("unrecognised", message=message, data={"evidence": folder})
        return True

    async def _kill_browser(self) -> None:
        """Kill a browser that does not answer (its own tree and driver: a clean close cannot come)."""
        driver = self._driver
        if driver is not None:
            await driver.close(kill=True)
            if self._driver is driver:
                self._driver = None
                self._info = replace(self._info, browser=None)

    async def _close_browser(self) -> None:
        driver, self._driver = self._driver, None
        if driver is not None:
            await driver.close()
            self._info = replace(self._info, browser=None)

    async def _wait_settled(
        self, timeout_s: float, ignore: frozenset[ConnectionState] | set[ConnectionState] = frozenset()
    ) -> ConnectionState | None:
        """Wait until the page reaches a settled state (not in ``ignore``); None on timeout or crash."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            state = self._info.state
            if state in SETTLED and state not in ignore:
                return state
            if self._driver is None or not self._driver.running:
                return None
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._state_changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._state_changed.wait(), remaining)

    # -- what the browser tells us -----------------------------------------------------------------
    def _on_report(self, report: PageReport) -> None:
        if self._stopping:
            return
        if report.qr != self._last_qr:
            self._on_qr(report.qr)
        if report.account is not None:
            self._info = replace(self._info, account=report.account)
        if report.wid is not None:
            self._wid = report.wid
        if report.logged_out and not self._logout_seen:
            self._logout_seen = True
            self._on_logout()
        if report.detection != self._info.detection:
            self._info = replace(self._info, detection=report.detection)
        previous = self._info.state
        state = report.state
        if state is S.OPENING and previous in (S.RECONNECTING, S.UNRECOGNISED):
            return  # a reload in progress (keep saying RECONNECTING), or evidence already taken
        self._set_state(state, report.message or STATE_MESSAGES.get(state, ""))
        if state is previous:
            return
        if state is S.CONNECTED:
            self._on_connected()
        elif state is S.TIMEOUT:
            self._recovery.start("WhatsApp Web lost its connection")
        elif state is S.UNPAIRED:  # a QR, logout or not: no account is linked in this page
            self._info = replace(self._info, account=None, connected_since=None)
        elif state is S.UNPAIRED_IDLE:
            self._on_qr_expired()
        elif state is S.CONFLICT:
            self._on_conflict()
        elif state is S.BLOCKED:
            self._want_running = False  # WhatsApp refuses: retrying would not help
            self._spawn(self._recovery.cancel())
            self._publish("error", message=self._info.message)

    def _on_logout(self) -> None:
        """WhatsApp said it logged this page out (never inferred from a QR alone: a profile lost or damaged
        on disk also brings one, and the launch gate restores it)."""
        self._spawn(self._recovery.cancel())
        self._info = replace(self._info, account=None, connected_since=None)
        self._wid = None
        self._publish("error", message="logged out: the phone removed this linked device; scan a new QR")
        self._autosnap.record(self._autosnap.note_logout())

    def _on_qr(self, qr: str | None) -> None:
        self._last_qr = qr
        rotate_s = self.config.demo.qr_rotate_ms / 1000 if self.config.demo_mode else REAL_QR_ROTATE_S
        expires = now_utc() + timedelta(seconds=rotate_s) if qr else None
        rotations = self._info.qr_rotations + 1 if qr else self._info.qr_rotations
        self._info = replace(self._info, qr=qr, qr_expires_at=expires, qr_rotations=rotations)
        self._publish("qr", qr=qr)

    def _on_connected(self) -> None:
        now = now_utc()
        since = self._info.connected_since or now
        health = replace(self._info.health, reconnect_attempts=0, next_retry_at=None, is_healthy=True, reason="")
        # The evidence of an unrecognised page is history once the page is recognised (the folder may be pruned).
        self._info = replace(
            self._info,
            last_connected_at=now,
            connected_since=since,
            health=health,
            qr=None,
            qr_gave_up=False,
            evidence=None,
        )
        self._qr_reloads = 0
        self._publish("health")
        self._spawn(self.refresh_disk())  # the login has just been written
        self._autosnap.on_connected(self._wid)

    def _on_qr_expired(self) -> None:
        limit = self.config.whatsapp.qr_max_retries
        if self._qr_reloads >= limit:
            message = (
                f"QR not scanned after {limit} reload{'s' if limit != 1 else ''}; watui stopped asking. "
                "Press i (watui init) for a new QR"
            )
            self._info = replace(self._info, qr_gave_up=True, message=message)
            self._publish("error", message=message)
            return
        self._qr_reloads += 1
        self._spawn(self._reload_qr())

    async def _reload_qr(self) -> None:
        await asyncio.sleep(0.5)
        if self._driver is not None and self._info.state is S.UNPAIRED_IDLE:
            await self._driver.click("qr_expired")

    def _on_conflict(self) -> None:
        self._info = replace(self._info, connected_since=None)
        if self.config.whatsapp.takeover_on_conflict:
            delay = self.config.whatsapp.takeover_delay_ms / 1000
            self._publish("action", message=f"conflict: taking over in {delay:g} s (takeover_on_conflict)")
            self._takeover = asyncio.create_task(self._delayed_takeover(delay))
        else:
            # How to take over is each face's to say (its key, signal or route): the hint, not words.
            self._publish("error", message="WhatsApp is open in another window", data={"hint": HINT_TAKEOVER})

    async def _delayed_takeover(self, delay: float) -> None:
        await asyncio.sleep(delay)
        if self._info.state is S.CONFLICT:
            await self._verbs.take_over()

    def _on_browser_closed(self, driver: BrowserDriver, reason: str) -> None:
        self._spawn(driver.close())  # stops this driver's Playwright, whatever killed the browser
        if driver is not self._driver:
            return
        self._driver = None
        self._info = replace(self._info, browser=None, connected_since=None)
        if self._stopping:
            return
        self._publish("error", message=f"{reason} unexpectedly")
        if self._want_running and not self._starting:
            self._recovery.start(reason)
        else:
            self._set_state(S.UNLAUNCHED, reason)
        self._state_changed.set()

    # -- reconnect with backoff (watui/core/session/recovery.py) -----------------------------------
    async def _recover(self, reason: str) -> None:
        await self._recovery.run(reason)

    async def _recover_once(self, attempt: int, reason: str) -> bool:
        return await self._recovery.attempt(attempt, reason)

    async def _retry_sleep(self, seconds: float) -> None:
        await self._recovery.sleep(seconds)

    # -- liveness (watui/core/session/liveness.py) -------------------------------------------------
    async def check_health(self) -> Health:
        """The safety net: is the browser alive and answering, and what does the disk look like."""
        return await self._liveness.check_health()

    async def recycle(self, reason: str = "asked") -> InitResult:
        """Close the browser cleanly and reopen it on the same profile (the login is kept: no QR)."""
        return await self._liveness.recycle(reason)

    # -- publishing --------------------------------------------------------------------------------
    def _fail(self, message: str) -> InitResult:
        self._want_running = False
        self._set_state(S.FAILED, message)
        self._publish("error", message=message)
        return InitResult(False, False, message, S.FAILED)

    def _set_state(self, state: ConnectionState, message: str = "") -> None:
        previous = self._info.state
        changes: dict[str, Any] = {"state": state, "updated_at": now_utc()}
        if message:
            changes["message"] = message
        if state is not S.CONNECTED:
            changes["health"] = replace(self._info.health, is_healthy=False)
        if state not in (S.UNPAIRED, S.UNPAIRED_IDLE) and self._info.qr:
            changes["qr"] = None
            self._last_qr = None
        self._info = replace(self._info, **changes)
        self._state_changed.set()
        if state is not previous:
            self._publish("state", state=state, message=message)

    def _publish(
        self,
        type_: EventType,
        *,
        message: str = "",
        state: ConnectionState | None = None,
        qr: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        self._events.publish(Event(type=type_, info=self._info, message=message, state=state, qr=qr, data=data or {}))

    def announce(self, type_: EventType, *, message: str = "", data: dict[str, Any] | None = None) -> None:
        """Publish an event made beside the manager (an alert, by watui/core/journal/service.py) to every face."""
        self._publish(type_, message=message, data=data)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

