"""What a page report does to the session, branch by branch (watui/core/session/machine.py's ``on_report``).

No browser and no subprocess: each case is a snapshot and what the session remembers of its pages, one
report as the driver delivers it, and what the faces then see (the snapshot, the events in order) and what
the session is told to do (start or cancel a recovery, reload the QR, take over, ...).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watui.core.browser.contract import PageReport
from watui.core.models import Account, ConnectionState, Health, SessionInfo
from watui.core.session import machine
from watui.core.session.machine import Context, PageMemory, on_report

S = ConnectionState
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
BEFORE = NOW - timedelta(hours=1)
ACCOUNT = Account(name="Ada", number="15550001234")
CONNECTED = SessionInfo(
    state=S.CONNECTED, account=ACCOUNT, connected_since=BEFORE, detection="modules", health=Health(is_healthy=True)
)
SHOWING_QR = SessionInfo(state=S.UNPAIRED, qr="ref-1", qr_rotations=1, detection="modules")


@dataclass(frozen=True)
class Case:
    id: str
    info: SessionInfo
    report: PageReport
    seen: list[str]  # what the faces see and the session does, in order (see _seen)
    expect: dict[str, Any] = field(default_factory=dict)  # fields of the new snapshot
    page: PageMemory = PageMemory()
    remembered: PageMemory | None = None  # what is remembered after (None: unchanged)
    ctx: dict[str, Any] = field(default_factory=dict)


def _seen(effects: list[machine.Effect]) -> list[str]:
    """The effects as one line each: events with what a face reads of them, and the session's steps."""
    lines = []
    for effect in effects:
        match effect:
            case machine.Publish(event):
                what = event.state.value if event.state else event.message or event.qr or ""
                hint = f" [hint: {event.data['hint']}]" if "hint" in event.data else ""
                lines.append(f"{event.type}: {what}".rstrip(": ") + hint)
            case machine.Remember():
                pass  # compared as `remembered`
            case machine.StartRecovery(reason):
                lines.append(f"start recovery: {reason}")
            case machine.NoteConnected(wid):
                lines.append(f"note connected: {wid}")
            case machine.TakeOver(delay_s):
                lines.append(f"take over in {delay_s:g} s")
            case _:
                lines.append(type(effect).__name__)
    return lines


# fmt: off
CASES = [
    Case("nothing while watui stops", SHOWING_QR, PageReport(S.CONNECTED, qr=None), [],
         {"state": S.UNPAIRED, "qr": "ref-1"}, page=PageMemory(last_qr="ref-1"), ctx={"stopping": True}),
    Case("a new QR is shown, counted and expires with the rotation", SHOWING_QR, PageReport(S.UNPAIRED, qr="ref-2"),
         ["qr: ref-2"], {"qr": "ref-2", "qr_rotations": 2, "qr_expires_at": NOW + timedelta(seconds=20)},
         page=PageMemory(last_qr="ref-1"), remembered=PageMemory(last_qr="ref-2")),
    Case("the demo's QR expires with the simulator's rotation", SHOWING_QR, PageReport(S.UNPAIRED, qr="ref-2"),
         ["qr: ref-2"], {"qr_expires_at": NOW + timedelta(seconds=3)},
         page=PageMemory(last_qr="ref-1"), remembered=PageMemory(last_qr="ref-2"), ctx={"qr_rotate_s": 3.0}),
    Case("the same QR again is no news", SHOWING_QR, PageReport(S.UNPAIRED, qr="ref-1"), [], {"qr_rotations": 1},
         page=PageMemory(last_qr="ref-1")),
    Case("a QR gone is said, not counted", SHOWING_QR, PageReport(S.UNPAIRED, qr=None), ["qr"],
         {"qr": None, "qr_rotations": 1, "qr_expires_at": None},
         page=PageMemory(last_qr="ref-1"), remembered=PageMemory()),
    Case("the account the page shows is kept", CONNECTED, PageReport(S.CONNECTED, account=Account(name="Bob"),
         detection="modules"), [], {"account": Account(name="Bob")}),
    Case("the linked account's wid is remembered", CONNECTED, PageReport(S.CONNECTED, wid="1555:1@c.us",
         detection="modules"), [], remembered=PageMemory(wid="1555:1@c.us")),
    Case("WhatsApp's own logout: no account, no recovery, the snapshots told",
         replace(CONNECTED, state=S.UNPAIRED), PageReport(S.UNPAIRED, logged_out=True, detection="modules"),
         ["CancelRecovery", f"error: {machine.LOGGED_OUT}", "NoteLogout"], {"account": None, "connected_since": None},
         page=PageMemory(wid="1555:1@c.us"), remembered=PageMemory(logout_seen=True)),
    Case("a logout said once", replace(CONNECTED, state=S.UNPAIRED, account=None),
         PageReport(S.UNPAIRED, logged_out=True, detection="modules"), [],
         page=PageMemory(logout_seen=True)),
    Case("the channel that recognises the page is shown", CONNECTED, PageReport(S.CONNECTED, detection="dom"), [],
         {"detection": "dom"}),
    Case("a reload during a recovery keeps saying RECONNECTING", replace(CONNECTED, state=S.RECONNECTING),
         PageReport(S.OPENING, detection="modules"), [], {"state": S.RECONNECTING}),
    Case("an unrecognised page stays so while it loads again", SessionInfo(state=S.UNRECOGNISED, evidence="/e"),
         PageReport(S.OPENING), [], {"state": S.UNRECOGNISED, "evidence": "/e"}),
    Case("a state said again changes nothing else", CONNECTED, PageReport(S.CONNECTED, detection="modules"), [],
         {"state": S.CONNECTED, "connected_since": BEFORE}),
    Case("connected: healthy, QR and evidence gone, the disk read, the snapshots told",
         SessionInfo(state=S.PAIRING, qr_gave_up=True, evidence="/e", health=Health(reconnect_attempts=3,
                     next_retry_at=NOW, reason="lost")),
         PageReport(S.CONNECTED, detection="modules", wid="1555:1@c.us"),
         ["state: CONNECTED", "health", "RefreshDisk", "note connected: 1555:1@c.us"],
         {"state": S.CONNECTED, "message": "connected", "connected_since": NOW, "last_connected_at": NOW,
          "qr_gave_up": False, "evidence": None,
          "health": Health(is_healthy=True, reconnect_attempts=0, next_retry_at=None, reason="")},
         page=PageMemory(qr_reloads=2), remembered=PageMemory(wid="1555:1@c.us")),
    Case("connected again keeps the time it first connected", replace(CONNECTED, state=S.TIMEOUT),
         PageReport(S.CONNECTED, detection="modules"),
         ["state: CONNECTED", "health", "RefreshDisk", "note connected: None"],
         {"connected_since": BEFORE}),
    Case("a lost connection starts a recovery", CONNECTED, PageReport(S.TIMEOUT, detection="modules"),
         ["state: TIMEOUT", f"start recovery: {machine.LOST_CONNECTION}"],
         {"state": S.TIMEOUT, "message": "WhatsApp Web lost its connection; it is retrying",
          "health": Health(is_healthy=False)}),
    Case("a QR on a connected session: no account linked", CONNECTED,
         PageReport(S.UNPAIRED, qr="ref-1", detection="modules"), ["qr: ref-1", "state: UNPAIRED"],
         {"state": S.UNPAIRED, "account": None, "connected_since": None, "qr": "ref-1"},
         remembered=PageMemory(last_qr="ref-1")),
    Case("an expired QR is reloaded", SHOWING_QR, PageReport(S.UNPAIRED_IDLE, qr="ref-1", detection="modules"),
         ["state: UNPAIRED_IDLE", "ReloadQr"], {"state": S.UNPAIRED_IDLE, "qr_gave_up": False},
         page=PageMemory(last_qr="ref-1", qr_reloads=2), remembered=PageMemory(last_qr="ref-1", qr_reloads=3)),
    Case("after qr_max_retries reloads watui stops asking", SHOWING_QR,
         PageReport(S.UNPAIRED_IDLE, qr="ref-1", detection="modules"),
         ["state: UNPAIRED_IDLE", "error: QR not scanned after 3 reloads; watui stopped asking. "
          "Press i (watui init) for a new QR"],
         {"qr_gave_up": True, "message": "QR not scanned after 3 reloads; watui stopped asking. "
          "Press i (watui init) for a new QR"},
         page=PageMemory(last_qr="ref-1", qr_reloads=3)),
    Case("a conflict is taken over after takeover_delay_ms", CONNECTED, PageReport(S.CONFLICT, detection="modules"),
         ["state: CONFLICT", "action: conflict: taking over in 2 s (takeover_on_conflict)", "take over in 2 s"],
         {"state": S.CONFLICT, "connected_since": None, "account": ACCOUNT},
         ctx={"takeover_on_conflict": True, "takeover_delay_s": 2.0}),
    Case("a conflict asks each face to say how it takes over", CONNECTED, PageReport(S.CONFLICT, detection="modules"),
         ["state: CONFLICT", "error: WhatsApp is open in another window [hint: takeover]"], {"connected_since": None}),
    Case("blocked: nothing retries, the operator is told why", CONNECTED,
         PageReport(S.BLOCKED, detection="modules", message="WhatsApp refuses this session (TOS_BLOCK)"),
         ["state: BLOCKED", "StopWanting", "CancelRecovery", "error: WhatsApp refuses this session (TOS_BLOCK)"],
         {"state": S.BLOCKED, "message": "WhatsApp refuses this session (TOS_BLOCK)", "health": Health()}),
    Case("leaving the QR states drops the QR", SHOWING_QR, PageReport(S.PAIRING, qr="ref-1", detection="modules"),
         ["state: PAIRING"], {"state": S.PAIRING, "qr": None, "message": "QR scanned; loading chats"},
         page=PageMemory(last_qr="ref-1"), remembered=PageMemory()),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_each_report_branch(case: Case) -> None:
    ctx = Context(page=case.page, now=NOW, **case.ctx)
    info, effects = on_report(case.info, case.report, ctx)
    assert _seen(effects) == case.seen
    for name, value in case.expect.items():
        assert getattr(info, name) == value, name
    remembered = [e.page for e in effects if isinstance(e, machine.Remember)]
    assert remembered == ([case.remembered] if case.remembered is not None else [])
    for effect in effects:  # each event carries the snapshot as it was when it was said
        if isinstance(effect, machine.Publish) and effect.event.type == "state":
            assert effect.event.info.state is effect.event.state


def test_an_event_carries_the_snapshot_of_its_moment() -> None:
    # The QR event of a report that also connects shows the QR; the state event after it does not.
    info, effects = on_report(SHOWING_QR, PageReport(S.CONNECTED, qr=None, detection="modules"),
                              Context(page=PageMemory(last_qr="ref-1"), now=NOW))  # fmt: skip
    events = [e.event for e in effects if isinstance(e, machine.Publish)]
    assert [e.type for e in events] == ["qr", "state", "health"]
    assert events[0].info.state is S.UNPAIRED and events[1].info.state is S.CONNECTED
    assert events[2].info.health.is_healthy and not events[1].info.health.is_healthy
    assert info.state is S.CONNECTED and info.qr is None
