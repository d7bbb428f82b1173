"""What a page report means for the session: the report -> state decisions, as one pure function.

The browser driver reports what the page shows (``PageReport``: its state, QR, account, logout); ``on_report``
answers with the new ``SessionInfo`` and the effects the session must carry out (events to publish, a
recovery to start or cancel, a QR to reload, a takeover to schedule, ...). It reads no clock (``Context.now``),
starts nothing and writes nothing, so every branch can be tested without a browser (tests/unit/test_session_machine.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from watui.core.browser.contract import PageReport
from watui.core.events import HINT_TAKEOVER, Event, EventType
from watui.core.models import STATE_MESSAGES, ConnectionState, SessionInfo

S = ConnectionState
# States in which the page has settled: watui knows what the session is doing.
SETTLED = frozenset({S.CONNECTED, S.UNPAIRED, S.UNPAIRED_IDLE, S.CONFLICT, S.BLOCKED})
QR_STATES = frozenset({S.UNPAIRED, S.UNPAIRED_IDLE})
REAL_QR_ROTATE_S = 20.0  # WhatsApp Web rotates its QR ref about every 20 s
LOGGED_OUT = "logged out: the phone removed this linked device; scan a new QR"
LOST_CONNECTION = "WhatsApp Web lost its connection"


@dataclass(frozen=True)
class PageMemory:
    """What the session remembers of the pages it drove, between two reports."""

    last_qr: str | None = None  # the QR of the last report (a new one is published)
    logout_seen: bool = False  # the page in front of us said WhatsApp logged it out (since our last load)
    wid: str | None = None  # the linked account as the page stores it
    qr_reloads: int = 0  # QR reloads since the last connection or verb (whatsapp.qr_max_retries)


@dataclass(frozen=True)
class Context:
    """Everything beside the info and the report that the decisions read."""

    page: PageMemory
    now: datetime
    stopping: bool = False
    qr_rotate_s: float = REAL_QR_ROTATE_S
    qr_max_retries: int = 3
    takeover_on_conflict: bool = False
    takeover_delay_s: float = 0.0


# -- the effects the session carries out, in order --------------------------------------------------
@dataclass(frozen=True)
class Publish:
    event: Event


@dataclass(frozen=True)
class Remember:
    page: PageMemory


@dataclass(frozen=True)
class StartRecovery:
    reason: str


@dataclass(frozen=True)
class CancelRecovery:
    pass


@dataclass(frozen=True)
class StopWanting:
    """The operator's wish for a running session ends (retrying would not help)."""


@dataclass(frozen=True)
class RefreshDisk:
    pass


@dataclass(frozen=True)
class NoteConnected:
    wid: str | None


@dataclass(frozen=True)
class NoteLogout:
    pass


@dataclass(frozen=True)
class ReloadQr:
    pass


@dataclass(frozen=True)
class TakeOver:
    delay_s: float


Effect = (
    Publish | Remember | StartRecovery | CancelRecovery | StopWanting | RefreshDisk | NoteConnected | NoteLogout
    | ReloadQr | TakeOver
)  # fmt: skip


def with_state(info: SessionInfo, state: ConnectionState, message: str, now: datetime) -> SessionInfo:
    """``info`` in ``state``: healthy only when CONNECTED, and no QR outside the QR states."""
    changes: dict[str, Any] = {"state": state, "updated_at": now}
    if message:
        changes["message"] = message
    if state is not S.CONNECTED:
        changes["health"] = replace(info.health, is_healthy=False)
    if state not in QR_STATES and info.qr:
        changes["qr"] = None
    return replace(info, **changes)


class _Draft:
    """The info, memory and effects of one decision as it is made."""

    def __init__(self, info: SessionInfo, ctx: Context) -> None:
        self.info = info
        self.page = ctx.page
        self.ctx = ctx
        self.effects: list[Effect] = []

    def update(self, **changes: Any) -> None:
        self.info = replace(self.info, **changes)

    def remember(self, **changes: Any) -> None:
        self.page = replace(self.page, **changes)

    def publish(self, type_: EventType, **fields: Any) -> None:
        self.effects.append(Publish(Event(type=type_, info=self.info, **fields)))

    def set_state(self, state: ConnectionState, message: str) -> None:
        previous = self.info
        self.info = with_state(previous, state, message, self.ctx.now)
        if previous.qr and self.info.qr is None:
            self.remember(last_qr=None)
        if state is not previous.state:
            self.publish("state", state=state, message=message)

    def done(self) -> tuple[SessionInfo, list[Effect]]:
        if self.page != self.ctx.page:
            self.effects.append(Remember(self.page))
        return self.info, self.effects


def on_report(info: SessionInfo, report: PageReport, ctx: Context) -> tuple[SessionInfo, list[Effect]]:
    """The session's answer to one report of its page: the new info, and the effects to carry out in order."""
    if ctx.stopping:
        return info, []
    d = _Draft(info, ctx)
    if report.qr != d.page.last_qr:
        _qr(d, report.qr)
    if report.account is not None:
        d.update(account=report.account)
    if report.wid is not None:
        d.remember(wid=report.wid)
    if report.logged_out and not d.page.logout_seen:
        d.remember(logout_seen=True)
        _logout(d)
    if report.detection != d.info.detection:
        d.update(detection=report.detection)
    previous = d.info.state
    state = report.state
    if state is S.OPENING and previous in (S.RECONNECTING, S.UNRECOGNISED):
        return d.done()  # a reload in progress (keep saying RECONNECTING), or evidence already taken
    d.set_state(state, report.message or STATE_MESSAGES.get(state, ""))
    if state is previous:
        return d.done()
    if state is S.CONNECTED:
        _connected(d)
    elif state is S.TIMEOUT:
        d.effects.append(StartRecovery(LOST_CONNECTION))
    elif state is S.UNPAIRED:  # a QR, logout or not: no account is linked in this page
        d.update(account=None, connected_since=None)
    elif state is S.UNPAIRED_IDLE:
        _qr_expired(d)
    elif state is S.CONFLICT:
        _conflict(d)
    elif state is S.BLOCKED:
        d.effects += [StopWanting(), CancelRecovery()]  # WhatsApp refuses: retrying would not help
        d.publish("error", message=d.info.message)
    return d.done()


def _qr(d: _Draft, qr: str | None) -> None:
    d.remember(last_qr=qr)
    expires = d.ctx.now + timedelta(seconds=d.ctx.qr_rotate_s) if qr else None
    rotations = d.info.qr_rotations + 1 if qr else d.info.qr_rotations
    d.update(qr=qr, qr_expires_at=expires, qr_rotations=rotations)
    d.publish("qr", qr=qr)


def _logout(d: _Draft) -> None:
    """WhatsApp said it logged this page out (never inferred from a QR alone: a profile lost or damaged
    on disk also brings one, and the launch gate restores it)."""
    d.effects.append(CancelRecovery())
    d.update(account=None, connected_since=None)
    d.remember(wid=None)
    d.publish("error", message=LOGGED_OUT)
    d.effects.append(NoteLogout())


def _connected(d: _Draft) -> None:
    now = d.ctx.now
    health = replace(d.info.health, reconnect_attempts=0, next_retry_at=None, is_healthy=True, reason="")
    # The evidence of an unrecognised page is history once the page is recognised (the folder may be pruned).
    d.update(
        last_connected_at=now,
        connected_since=d.info.connected_since or now,
        health=health,
        qr=None,
        qr_gave_up=False,
        evidence=None,
    )
    d.remember(qr_reloads=0)
    d.publish("health")
    d.effects += [RefreshDisk(), NoteConnected(d.page.wid)]  # the login has just been written


def _qr_expired(d: _Draft) -> None:
    limit = d.ctx.qr_max_retries
    if d.page.qr_reloads >= limit:
        message = (
            f"QR not scanned after {limit} reload{'s' if limit != 1 else ''}; watui stopped asking. "
            "Press i (watui init) for a new QR"
        )
        d.update(qr_gave_up=True, message=message)
        d.publish("error", message=message)
        return
    d.remember(qr_reloads=d.page.qr_reloads + 1)
    d.effects.append(ReloadQr())


def _conflict(d: _Draft) -> None:
    d.update(connected_since=None)
    if d.ctx.takeover_on_conflict:
        delay = d.ctx.takeover_delay_s
        d.publish("action", message=f"conflict: taking over in {delay:g} s (takeover_on_conflict)")
        d.effects.append(TakeOver(delay))
    else:
        # How to take over is each face's to say (its key, signal or route): the hint, not words.
        d.publish("error", message="WhatsApp is open in another window", data={"hint": HINT_TAKEOVER})
