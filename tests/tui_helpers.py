"""Test doubles and sample snapshots for the dashboard's fast tests.

``FakeManager`` implements the part of ``SessionManager`` the TUI uses (the ``Manager`` protocol in
``watui/tui/app.py``) and records every verb call; ``emit`` pushes an event to the App exactly as the
core does. Snapshots use a fixed clock so screenshots are the same on every run.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.qr_decode import DARK, Theme, cells_from_strips, decode_cells
from watui.config import Config, SessionSettings
from watui.core.models import (
    PROBLEM_CORRUPT,
    PROBLEM_LOGIN_MISSING,
    Account,
    BrowserProcess,
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    Event,
    EventType,
    Health,
    InitResult,
    LockInfo,
    SessionInfo,
)

FIXED_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
MB = 1024 * 1024
# As long as WhatsApp's real login payloads (ref, public key, identity key, advertising secret).
QR_PAYLOAD = "2@" + "Y" * 66 + "," + "k" * 43 + "=," + "Q" * 43 + "=," + "v" * 43 + "=,1"
SESSION_ROOT = Path("/srv/watui/whatsapp-session-pro")


def fixed_clock() -> datetime:
    return FIXED_NOW


def at(seconds: float) -> datetime:
    return FIXED_NOW + timedelta(seconds=seconds)


def disk(**changes: Any) -> DiskReport:
    base = DiskReport(
        path=SESSION_ROOT / "session-whatsapp-automation-pro",
        exists=True,
        is_valid=True,
        validation_details="login data present",
        size_bytes=int(74.2 * MB),
        file_count=1234,
        reclaimable_bytes=int(12.3 * MB),
        max_bytes=200 * MB,
        checked_at=at(-5),
    )
    return replace(base, **changes)


def empty_info() -> SessionInfo:
    missing = disk(exists=False, is_valid=False, validation_details="no session folder",
                   size_bytes=0, file_count=0, reclaimable_bytes=0, problems=("missing",))
    return SessionInfo(state=ConnectionState.UNLAUNCHED, disk=missing, updated_at=FIXED_NOW)


def qr_info(payload: str = QR_PAYLOAD) -> SessionInfo:
    return SessionInfo(
        state=ConnectionState.UNPAIRED,
        disk=disk(is_valid=False, validation_details="no login yet", size_bytes=int(3.1 * MB),
                  file_count=57, reclaimable_bytes=int(1.2 * MB)),
        qr=payload,
        qr_expires_at=at(14),
        qr_rotations=1,
        browser=BrowserProcess(pid=4242, rss_bytes=180 * MB, cpu_percent=2.5, processes=6),
        updated_at=FIXED_NOW,
    )


def connected_info() -> SessionInfo:
    return SessionInfo(
        state=ConnectionState.CONNECTED,
        disk=disk(),
        health=Health(is_healthy=True, reconnect_attempts=0, last_check_at=at(-3)),
        account=Account(name="Demo Shop", number="+1 555 0100"),
        browser=BrowserProcess(pid=4242, rss_bytes=182 * MB, cpu_percent=0.4, processes=6),
        last_connected_at=at(-3725),
        connected_since=at(-3725),
        updated_at=FIXED_NOW,
    )


def reconnecting_info() -> SessionInfo:
    return SessionInfo(
        state=ConnectionState.RECONNECTING,
        disk=disk(),
        health=Health(is_healthy=False, reconnect_attempts=3, next_retry_at=at(7),
                      reason="page lost its connection"),
        account=Account(name="Demo Shop", number="+1 555 0100"),
        last_connected_at=at(-60),
        message="retrying in 7s",
        updated_at=FIXED_NOW,
    )


def damaged_info() -> SessionInfo:
    bad = disk(is_valid=False, validation_details="IndexedDB is corrupt",
               problems=(PROBLEM_CORRUPT, PROBLEM_LOGIN_MISSING), lock=LockInfo("stale", pid=999))
    return SessionInfo(state=ConnectionState.UNLAUNCHED, disk=bad, updated_at=FIXED_NOW)


def event(kind: EventType, info: SessionInfo, seconds: float = 0, **fields: Any) -> Event:
    return Event(type=kind, info=info, time=at(seconds), **fields)


class FakeStream:
    """An EventStream: an asyncio queue the App iterates; ``close`` ends the iteration."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> Event:
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        self.closed = True
        self.queue.put_nowait(None)


class FakeManager:
    """Records verb calls; ``allowed`` says what ``can`` answers; ``gates`` hold a verb until set."""

    def __init__(self, info: SessionInfo | None = None, session_root: Path = SESSION_ROOT) -> None:
        self.config = Config(session=SessionSettings(session_path=str(session_root)))
        self._info = info or empty_info()
        self.allowed = {"initialize", "reconnect", "cleanup", "clear"}
        self.calls: list[str] = []
        self.streams: list[FakeStream] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.fail: dict[str, Exception] = {}
        self._busy: str | None = None

    @property
    def info(self) -> SessionInfo:
        return self._info

    @property
    def busy(self) -> str | None:
        return self._busy

    def can(self, verb: str) -> bool:
        return verb in self.allowed and self._busy is None

    def subscribe(self) -> FakeStream:
        stream = FakeStream()
        self.streams.append(stream)
        return stream

    def emit(self, ev: Event) -> None:
        """Publish like the core: new snapshot first, then the event to every subscriber."""
        self._info = ev.info
        for stream in self.streams:
            stream.queue.put_nowait(ev)

    async def _verb(self, verb: str) -> None:
        self.calls.append(verb)
        self._busy = verb
        try:
            if verb in self.gates:
                await self.gates[verb].wait()
            if verb in self.fail:
                raise self.fail[verb]
        finally:
            self._busy = None

    async def smart_initialize(self) -> InitResult:
        await self._verb("initialize")
        return InitResult(success=False, needs_qr=True, message="Scan the QR code", state=ConnectionState.UNPAIRED)

    async def reconnect(self) -> InitResult:
        await self._verb("reconnect")
        return InitResult(success=True, needs_qr=False, message="Connected", state=ConnectionState.CONNECTED)

    async def cleanup(self) -> CleanupReport:
        await self._verb("cleanup")
        return CleanupReport(freed_bytes=int(12.3 * MB), removed=("Default/Cache",))

    async def clear(self, purge: bool = False) -> ClearReport:
        await self._verb("clear")
        moved = self.config.session_root / ".quarantine" / "session-20261127-120000"
        return ClearReport(purged=purge, moved_to=moved, message=f"Session moved to {moved}")

    async def refresh_disk(self) -> DiskReport:
        await self._verb("refresh_disk")
        return self._info.disk or disk()


class FakeSimulator:
    def __init__(self) -> None:
        self.scans = 0

    async def scan(self) -> dict[str, Any]:
        self.scans += 1
        return {"ok": True}


def screen_text(app: Any) -> str:
    """What the terminal shows now, as plain text (one line per row)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def decode_qr(app: Any, theme: Theme = DARK) -> list[str]:
    """Every QR on the App's screen, painted in the colours the terminal would show (the cells'
    own, the ``theme``'s where a cell has none) and read as it is: no border added, no inverted retry."""
    return decode_cells(cells_from_strips(app.screen._compositor.render_strips()), theme)


async def wait_for(pilot: Any, app: Any, check: Any, timeout: float, what: str) -> str:
    """Let the App run until ``check(screen text)`` holds; the screen is in the error if it never does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await pilot.pause(0.2)
        text = screen_text(app)
        if check(text):
            return text
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; the screen:\n{text}")


async def idle(pilot: Any, app: Any, timeout: float = 60) -> None:
    """Wait until no verb runs (a key pressed while one runs is greyed out and does nothing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.busy is not None:
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s: '{app.busy}' still running")
        await pilot.pause(0.2)
