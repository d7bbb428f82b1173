"""The core's JSON both ways (watui/core/models.py): ``from_json`` reads back what ``to_json`` wrote, field
for field, so a face of a remote owner (watui/remote/) sees the snapshot the owner has. No browser."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.screen import (
    QR_PAYLOAD,
    at,
    connected_info,
    damaged_info,
    disk,
    empty_info,
    qr_info,
    reconnecting_info,
)
from watui.core.events import Event
from watui.core.models import (
    PROBLEM_LOCKED,
    Account,
    CleanupReport,
    ClearReport,
    ConnectionState,
    InitResult,
    LockInfo,
    SessionInfo,
)
from watui.core.snapshots.catalog import Snapshot


def _every_field() -> SessionInfo:
    """A snapshot with every field the JSON carries set to something not the default."""
    return replace(
        qr_info(),
        disk=disk(lock=LockInfo("live", pid=4321, name="chrome"), problems=(PROBLEM_LOCKED,)),
        account=Account(name="Ops", number="+1 555 0100"),
        last_connected_at=at(-60),
        connected_since=at(-30),
        message="waiting for the QR to be scanned",
        detection="modules",
        evidence="/srv/wa/.evidence/20261127-120000",
        snapshots_on=True,
        last_snapshot_at=at(-3600),
    )


INFOS = {
    "connected": connected_info,
    "qr": qr_info,
    "reconnecting": reconnecting_info,
    "damaged (stale lock)": damaged_info,
    "no session folder": empty_info,
    "not read yet": SessionInfo,
    "every field": _every_field,
}


@pytest.mark.parametrize("name", INFOS)
def test_session_info_reads_back_what_it_wrote(name: str) -> None:
    sent = INFOS[name]().to_json()
    assert SessionInfo.from_json(sent).to_json() == sent


def test_the_snapshot_read_back_is_the_one_sent_where_the_json_carries_it() -> None:
    info = _every_field()
    back = SessionInfo.from_json(info.to_json(), demo=True)
    assert back.disk is not None and info.disk is not None
    assert back.disk.lock == LockInfo("live", pid=4321, name="chrome")
    assert (back.disk.size_bytes, back.disk.file_count, back.disk.reclaimable_bytes) == (
        info.disk.size_bytes,
        info.disk.file_count,
        info.disk.reclaimable_bytes,
    )
    assert back.qr == QR_PAYLOAD and back.qr_expires_at == info.qr_expires_at
    assert back.account == info.account and back.detection == "modules" and back.snapshots_on
    assert back.demo  # not in the JSON: the client says (the owner's hello)


def _events() -> dict[str, Event]:
    info = connected_info()
    return {
        "state": Event(type="state", info=info, state=ConnectionState.CONNECTED, message="connected", time=at(1)),
        "qr": Event(type="qr", info=qr_info(), qr=QR_PAYLOAD, time=at(2)),
        "qr gone": Event(type="qr", info=info, qr=None, time=at(3)),
        "health": Event(type="health", info=info, time=at(4)),
        "disk": Event(type="disk", info=info, time=at(5)),
        "retry": Event(
            type="retry", info=reconnecting_info(), data={"attempt": 3, "delay_s": 7.0, "cause": "lost"}, time=at(6)
        ),
        "alert": Event(
            type="alert",
            info=info,
            message="logged out: scan a new QR",
            data={"alert": "qr_needed", "status": "firing", "session": "bot", "state": "UNPAIRED"},
            time=at(7),
        ),
        "action": Event(type="action", info=info, data={"verb": "cleanup", "phase": "done"}, time=at(8)),
    }


@pytest.mark.parametrize("name", list(_events()))
def test_an_event_reads_back_what_it_wrote(name: str) -> None:
    event = _events()[name]
    sent = event.to_json()
    back = Event.from_json(sent, event.info)
    assert back.to_json() == sent
    assert (back.type, back.state, back.qr, back.message, back.time) == (
        event.type,
        event.state,
        event.qr,
        event.message,
        event.time,
    )


RESULTS: dict[str, Any] = {
    "init connected": InitResult(True, False, "Connected to WhatsApp Web", ConnectionState.CONNECTED),
    "init needs a QR": InitResult(False, True, "Scan the QR code", ConnectionState.UNPAIRED),
    "init after a quarantine": InitResult(
        False,
        True,
        "the session was damaged; scan a new QR",
        ConnectionState.UNPAIRED,
        quarantined_to=Path("/srv/wa/.quarantine/session-x-1"),
        quarantine_reason="IndexedDB is corrupt",
    ),
    "cleanup": CleanupReport(
        freed_bytes=3 * 1024 * 1024,
        removed=("Default/Cache", "Default/Code Cache"),
        moved_aside=("/srv/wa/session-old",),
        message="freed 3.0 MB",
    ),
    "clear to quarantine": ClearReport(False, Path("/srv/wa/.quarantine/session-x-1"), "moved to quarantine"),
    "purge": ClearReport(True, None, "purged"),
    "snapshot": Snapshot(
        id="20261127-120000",
        path=Path("/srv/wa/.snapshots/bot-20261127-120000.tar.gz.age"),
        created_at="2026-11-27T12:00:00Z",
        bytes=123456,
        plain_bytes=654321,
        files=42,
        account="+1 555 0100",
        verified=True,
        verified_by="decrypt",
        source="live",
        revoked=True,
        problem="cut short",
    ),
}


@pytest.mark.parametrize("name", RESULTS)
def test_a_verb_answer_reads_back_as_the_same_value(name: str) -> None:
    result = RESULTS[name]
    back = type(result).from_json(result.to_json())
    assert back == result
    assert back.to_json() == result.to_json()


def test_times_keep_their_milliseconds_and_zone() -> None:
    info = replace(connected_info(), connected_since=at(-0.25) + timedelta(microseconds=999))
    back = SessionInfo.from_json(info.to_json())
    assert back.connected_since is not None and back.connected_since.utcoffset() == timedelta(0)
    assert back.connected_since == at(-0.25)  # milliseconds: what the JSON carries
