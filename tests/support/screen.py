"""Sample snapshots and answers for the dashboard's fast tests, driven on tests/support/fakes.py's
FakeSession (``emit`` pushes an event to the App exactly as the core does). Snapshots use a fixed clock so
screenshots are the same on every run.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.fakes import MB, SESSION_ROOT, FakeSession
from tests.support.qr_decode import DARK, Theme, cells_from_strips, decode_cells
from watui.core.events import Event, EventType
from watui.core.messages.port import Cursor, Message, MessagePage, Traffic
from watui.core.models import (
    PROBLEM_CORRUPT,
    PROBLEM_LOGIN_MISSING,
    Account,
    BrowserProcess,
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    Health,
    LockInfo,
    SessionInfo,
)
from watui.core.ports import MESSAGES

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
    missing = disk(
        exists=False,
        is_valid=False,
        validation_details="no session folder",
        size_bytes=0,
        file_count=0,
        reclaimable_bytes=0,
        problems=("missing",),
    )
    return SessionInfo(state=ConnectionState.UNLAUNCHED, disk=missing, updated_at=FIXED_NOW)


def qr_info(payload: str = QR_PAYLOAD) -> SessionInfo:
    return SessionInfo(
        state=ConnectionState.UNPAIRED,
        disk=disk(
            is_valid=False,
            validation_details="no login yet",
            size_bytes=int(3.1 * MB),
            file_count=57,
            reclaimable_bytes=int(1.2 * MB),
        ),
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
        health=Health(is_healthy=False, reconnect_attempts=3, next_retry_at=at(7), reason="page lost its connection"),
        account=Account(name="Demo Shop", number="+1 555 0100"),
        last_connected_at=at(-60),
        message="retrying in 7s",
        updated_at=FIXED_NOW,
    )


def damaged_info() -> SessionInfo:
    bad = disk(
        is_valid=False,
        validation_details="IndexedDB is corrupt",
        problems=(PROBLEM_CORRUPT, PROBLEM_LOGIN_MISSING),
        lock=LockInfo("stale", pid=999),
    )
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


async def until(pilot: Any, app: Any, check: Callable[[str], bool], what: str, timeout: float = 5.0) -> str:
    """As :func:`wait_for`, looking first and every 0.05 s: for screens that change at once (a fake session)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check(screen_text(app)):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen_text(app)}")
        await pilot.pause(0.05)
    return screen_text(app)


async def idle(pilot: Any, app: Any, timeout: float = 60) -> None:
    """Wait until no verb runs (a key pressed while one runs is greyed out and does nothing)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while app.busy is not None:
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s: '{app.busy}' still running")
        await pilot.pause(0.2)


# -- messaging (MESSAGES) ----------------------------------------------------------------------------
T0 = FIXED_NOW.timestamp()  # the fixed clock in Unix seconds, as the port's times are
BUSY_TRAFFIC = Traffic(
    at=T0,
    queued=2,
    sending=1,
    sent=41,
    failed=2,
    received=17,
    oldest_pending_at=T0 - 12,
    last_received_at=T0 - 180,
    webhook=True,
    webhook_backlog=3,
    webhook_oldest_at=T0 - 300,
)


def outgoing(n: int, status: str = "delivered", chat: str = "15550002001@c.us", **changes: Any) -> Message:
    body = changes.pop("body", f"order {n} has shipped")
    return Message(
        id=f"3EB0{n:04d}",
        direction="out",
        chat=chat,
        status=status,
        size=len(body),
        body=body,
        accepted_at=T0 - 600 + n,
        **changes,
    )


def incoming(n: int, chat: str = "15550002001@c.us", **changes: Any) -> Message:
    body = changes.pop("body", f"hi back {n}")
    return Message(
        id=f"3A73{n:04d}",
        direction="in",
        chat=chat,
        status="received",
        size=len(body),
        body=body,
        received_at=T0 - 600 + n,
        **changes,
    )


class MessagesFake(FakeSession):
    """A FakeSession with MESSAGES whose ``messages()`` reads two lists as the owner reads its outbox and
    inbox: each side numbered from 1 (its seq), a cursor ``<out>-<in>``, newest last, bodies only when asked.
    ``add`` keeps a message (new, or a new status of one kept); ``traffic`` is scripted in ``results``."""

    def __init__(self, info: SessionInfo, kept: tuple[Message, ...] = (), traffic: Traffic | None = None) -> None:
        super().__init__(info, capabilities=frozenset({MESSAGES}), results={"traffic": traffic or Traffic(at=T0)})
        self.sides: dict[str, list[Message]] = {"out": [], "in": []}
        for message in kept:
            self.add(message)

    def add(self, message: Message) -> None:
        side = self.sides[message.direction]
        for index, kept in enumerate(side):
            if kept.id == message.id:
                side[index] = message
                return
        side.append(message)

    async def messages(self, since: str | None = None, limit: int = 100, bodies: bool = False) -> MessagePage:
        page = self._page(since, limit, bodies)  # read first: a read that hangs (gates) answers what it saw
        await self._verb("messages", since=since, limit=limit, bodies=bodies)  # recorded; gates and fail apply
        return page

    def _page(self, since: str | None, limit: int, bodies: bool) -> MessagePage:
        cursor = Cursor.parse(since)
        merged = list(itertools.islice(heapq.merge(
            [(m.time, 0, seq, m) for seq, m in enumerate(self.sides["out"], 1) if seq > cursor.out_seq],
            [(m.time, 1, seq, m) for seq, m in enumerate(self.sides["in"], 1) if seq > cursor.in_seq],
            key=lambda item: (item[0], item[1])), limit))  # fmt: skip
        out_seq = max([cursor.out_seq, *(seq for _, side, seq, _m in merged if side == 0)])
        in_seq = max([cursor.in_seq, *(seq for _, side, seq, _m in merged if side == 1)])
        shown = tuple(m if bodies else replace(m, body=None) for _, _, _, m in merged)
        return MessagePage(shown, str(Cursor(out_seq, in_seq)))

    def announce(self, message: Message) -> Event:
        """Keep ``message`` and publish its event as the core does: ``message`` for incoming, else ``ack``."""
        self.add(message)
        data = {"id": message.id, "direction": message.direction, "chat": message.chat, "status": message.status,
                "size": message.size, **({"reason": message.reason} if message.reason else {})}  # fmt: skip
        return self.publish("message" if message.direction == "in" else "ack", data=data)
