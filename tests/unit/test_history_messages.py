"""Messages per hour in the journal, on a real SQLite file: counted from the session's message/ack events
(never a body, an id or a chat; one row per hour, not per message), in ``watui history`` (text and
``--json``) and in ``GET /api/whatsapp/history`` from an owner's live journal."""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.api import connected_info, wait_for
from tests.support.fakes import FakeSession
from watui.api.app import start_api
from watui.cli import main
from watui.config import AlertSettings, Config, SessionSettings
from watui.core.events import Event
from watui.core.journal.history import History
from watui.core.journal.report import read_report
from watui.core.journal.service import Watchers
from watui.core.models import ConnectionState as S
from watui.core.models import SessionInfo

HOUR = 3600.0
CHAT = "15550001234@c.us"
SECRET_ID = "3EB0C0FFEE"


def config_for(tmp_path: Path, **alerts: Any) -> Config:
    return Config(
        session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"),
        alerts=AlertSettings(**alerts),
        base_dir=tmp_path,
    )


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def ack(t: float, status: str, n: int = 0, **times: float) -> Event:
    data = {"id": f"{SECRET_ID}{n}", "direction": "out", "chat": CHAT, "status": status, "size": 5, **times}
    return Event("ack", SessionInfo(state=S.CONNECTED), data=data, time=at(t))


def incoming(t: float, n: int = 0) -> Event:
    data = {"id": f"3A{SECRET_ID}{n}", "direction": "in", "chat": CHAT, "status": "received", "size": 5}
    return Event("message", SessionInfo(state=S.CONNECTED), data=data, time=at(t))


def traffic_of_two_hours(hour: float) -> list[Event]:
    """Hour 1: 3 sent (one sent and delivered in one ack), 2 received, one queued and one later delivered
    (neither a send); hour 2: 1 failed, 5 received."""
    h1, h2 = hour + 60, hour + HOUR + 60
    return [
        ack(h1, "queued", 1, acceptedAt=h1),
        ack(h1 + 1, "sent", 1, acceptedAt=h1, sentAt=h1 + 1),
        ack(h1 + 9, "delivered", 1, acceptedAt=h1, sentAt=h1 + 1, ackedAt=h1 + 9),
        ack(h1 + 10, "sent", 2, acceptedAt=h1, sentAt=h1 + 10),
        ack(h1 + 11, "delivered", 3, acceptedAt=h1, sentAt=h1 + 11, ackedAt=h1 + 11),
        incoming(h1 + 20, 1),
        incoming(h1 + 21, 2),
        ack(h2, "failed", 4, acceptedAt=h1),
        *(incoming(h2 + n, 10 + n) for n in range(5)),
    ]


async def test_the_journal_counts_messages_per_hour_and_keeps_no_body_id_or_chat(tmp_path: Path) -> None:
    hour = math.floor(1_800_000_000.0 / HOUR) * HOUR
    clock = [hour]
    history = History(config_for(tmp_path), lambda: SessionInfo(state=S.CONNECTED), clock=lambda: clock[0])
    await history.start()
    for event in traffic_of_two_hours(hour):
        history.on_event(event)
    clock[0] = hour + 2 * HOUR
    await history.close()
    with sqlite3.connect(history.path) as conn:
        kinds = {k for (k,) in conn.execute("SELECT kind FROM events")}
        hours = conn.execute("SELECT hour, sent, received, failed FROM message_hours ORDER BY hour").fetchall()
    assert kinds == {"start", "stop"}  # no message or ack row
    assert hours == [(hour, 3, 2, 0), (hour + HOUR, 0, 5, 1)]
    raw = b"".join(p.read_bytes() for p in history.path.parent.glob(history.path.name + "*"))
    assert SECRET_ID.encode() not in raw and CHAT.encode() not in raw  # nor any id or chat, anywhere in the file
    out = read_report(history.path, since_s=86400, down_after_s=60, gap_s=60, now=hour + 2 * HOUR)
    assert out["messages"] == {
        "total": {"sent": 3, "received": 7, "failed": 1},
        "perHour": [
            {"hour": at(hour).isoformat().replace("+00:00", "Z"), "sent": 3, "received": 2, "failed": 0},
            {"hour": at(hour + HOUR).isoformat().replace("+00:00", "Z"), "sent": 0, "received": 5, "failed": 1},
        ],
    }
    later = read_report(history.path, since_s=HOUR / 2, down_after_s=60, gap_s=60, now=hour + 2 * HOUR)
    assert later["messages"]["total"] == {"sent": 0, "received": 5, "failed": 1}  # only the hours of the window


async def test_a_busy_hour_is_one_row_not_one_per_message(tmp_path: Path) -> None:
    hour = math.floor(1_800_000_000.0 / HOUR) * HOUR
    history = History(config_for(tmp_path), lambda: SessionInfo(state=S.CONNECTED), clock=lambda: hour)
    await history.start()
    for n in range(2000):
        history.on_event(ack(hour + n, "sent", n, acceptedAt=hour, sentAt=hour + n))
    await history.close()
    with sqlite3.connect(history.path) as conn:
        assert conn.execute("SELECT COUNT(*), SUM(sent) FROM message_hours").fetchone() == (1, 2000)
        assert conn.execute("SELECT COUNT(*) FROM events").fetchone() == (2,)  # start and stop


async def _journal_now(tmp_path: Path) -> tuple[Config, float]:
    """A journal of the last two hours (real time: ``watui history`` reads up to now)."""
    config = config_for(tmp_path)
    hour = math.floor(time.time() / HOUR) * HOUR - HOUR
    history = History(config, lambda: SessionInfo(state=S.CONNECTED))
    await history.start()
    for event in traffic_of_two_hours(hour):
        history.on_event(event)
    await history.close()
    return config, hour


def test_watui_history_shows_messages_per_hour_beside_the_uptime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config, hour = asyncio.run(_journal_now(tmp_path))
    toml = tmp_path / "config.toml"
    toml.write_text(f'[session]\nsession_path = "{tmp_path / "s"}"\nclient_id = "bot"\n')
    assert main(["history", "--config", str(toml)]) == 0
    lines = capsys.readouterr().out.splitlines()
    uptime = next(i for i, line in enumerate(lines) if line.startswith("Uptime"))
    first = at(hour).strftime("%Y-%m-%d %H:%M")
    second = at(hour + HOUR).strftime("%Y-%m-%d %H:%M")
    messages = lines.index("Messages sent / received / failed: 3 / 7 / 1")
    assert messages - uptime <= 3  # beside the uptime and its strip
    assert lines[messages + 1 : messages + 4] == [
        "Per hour (UTC): sent / received / failed",
        f"  {first}      3 /     2 /    0",
        f"  {second}      0 /     5 /    1",
    ]
    assert main(["history", "--json", "--config", str(toml)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["messages"]["total"] == {"sent": 3, "received": 7, "failed": 1}
    assert [h["received"] for h in report["messages"]["perHour"]] == [2, 5]


async def test_the_history_route_carries_the_messages_an_owner_journaled(tmp_path: Path) -> None:
    config = config_for(tmp_path, enabled=False)
    session = FakeSession(connected_info())
    session.announce = lambda type_, **fields: None  # type: ignore[attr-defined]
    watchers = Watchers(config, session)  # type: ignore[arg-type]
    await watchers.start()
    server = await start_api(session, host="127.0.0.1", port=0, token="", history=watchers)
    try:
        now = time.time()
        session.publish("ack", data={"id": "A", "direction": "out", "chat": CHAT, "status": "sent",
                                     "size": 1, "acceptedAt": now - 2, "sentAt": now})  # fmt: skip
        session.publish("message", data={"id": "B", "direction": "in", "chat": CHAT, "status": "received",
                                         "size": 1})  # fmt: skip
        async with aiohttp.ClientSession() as http:

            async def totals() -> dict[str, int]:
                async with http.get(f"{server.url}/api/whatsapp/history?since=1h") as res:
                    assert res.status == 200
                    body = await res.json()
                total: dict[str, int] = body["messages"]["total"]
                return total

            expected = {"sent": 1, "received": 1, "failed": 0}
            for _ in range(100):
                if await totals() == expected:
                    break
                await asyncio.sleep(0.02)
            assert await totals() == expected
    finally:
        await server.close()
        for stream in list(session.streams):
            stream.close()
        await watchers.close()
    await wait_for(lambda: not session.streams, what="the streams to close")
