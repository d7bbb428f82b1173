"""Sample snapshots and answers for the dashboard's fast tests, driven on tests/support/fakes.py's
FakeSession (``emit`` pushes an event to the App exactly as the core does). Snapshots use a fixed clock so
screenshots are the same on every run.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.fakes import MB, SESSION_ROOT
from tests.support.qr_decode import DARK, Theme, cells_from_strips, decode_cells
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
    LockInfo,
    SessionInfo,
)

FIXED_NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
# As long as WhatsApp's real login payloads (ref, public key, identity key, advertising secret).
QR_PAYLOAD = "2@" + "Y" * 66 + "," + "k" * 43 + "=," + "Q" * 43 + "=," + "v" * 43 + "=,1"


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


# The verbs' answers the dashboard's tests read on screen (the others are FakeSession's defaults).
DASHBOARD_RESULTS: dict[str, Any] = {
    "cleanup": CleanupReport(freed_bytes=int(12.3 * MB), removed=("Default/Cache",)),
    "clear": ClearReport(
        purged=False,
        moved_to=SESSION_ROOT / ".quarantine" / "session-20261127-120000",
        message=f"Session moved to {SESSION_ROOT / '.quarantine' / 'session-20261127-120000'}",
    ),
}


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
