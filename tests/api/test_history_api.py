"""The journal over HTTP: ``GET /api/whatsapp/history`` and uptime in ``/metrics``, on a real manager (no
browser needed), its real watchers and a real socket."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp
import pytest

from watui.api.app import start_api
from watui.api.control import start_control
from watui.cli import main
from watui.config import Config, SessionSettings, load_config
from watui.core.events import Event
from watui.core.journal.journal import Journal, history_path, read_rows
from watui.core.journal.report import read_report
from watui.core.journal.service import start_watchers
from watui.core.session.manager import SessionManager

if TYPE_CHECKING:
    from watui.core.session.events import EventStream


def earlier_run(path: Path, now: float) -> None:
    """A run of 4000 s that ended 4000 s ago, with a 300 s incident in it."""
    journal = Journal(path)
    journal.open()
    for dt, kind, state in (
        (-8000, "start", "UNLAUNCHED"),
        (-7990, "state", "CONNECTED"),
        (-7000, "state", "TIMEOUT"),
        (-6700, "state", "CONNECTED"),
        (-4000, "stop", "CONNECTED"),
    ):
        journal.record(now + dt, kind, state, "lost" if state == "TIMEOUT" else "")
    journal.close()


async def test_history_route_and_uptime_metrics(tmp_path: Path) -> None:
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"), base_dir=tmp_path)
    earlier_run(history_path(config), time.time())
    (tmp_path / "s" / ".watui-session").touch()  # what watui's own first start leaves in its folder
    manager = SessionManager(config)
    await manager.start()
    watchers = await start_watchers(config, manager)
    server = await start_api(manager, host="127.0.0.1", port=0, token="", history=watchers)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/api/whatsapp/history?since=3h") as res:
                assert res.status == 200
                body = await res.json()
            (incident,) = body["incidents"]
            assert incident["durationS"] == 300.0 and incident["cause"] == "TIMEOUT: lost"
            assert body["uptime"]["1h"]["upS"] == 0  # in the last hour only this run, not connected...
            assert body["uptime"]["24h"]["upS"] == 4000 - 10 - 300  # ...and it was down for 310 s of its 4000
            async with http.get(f"{server.url}/api/whatsapp/history?since=soon") as res:
                assert res.status == 400
                assert "since must be a duration" in (await res.json())["error"]
            metrics = ""
            for _ in range(100):  # the sampler computes the uptime once it has started
                async with http.get(f"{server.url}/metrics") as res:
                    metrics = await res.text()
                if 'watui_uptime_ratio{window="24h"}' in metrics:
                    break
                await asyncio.sleep(0.1)
            day = 'watui_uptime_ratio{window="24h"}'
            ratio_24h = next(line for line in metrics.splitlines() if line.startswith(day))
            assert abs(float(ratio_24h.split()[-1]) - 3690 / 4000) < 0.01
            assert 'watui_alert_firing{alert="qr_needed"} 0.0' in metrics
    finally:
        await server.close()
        await manager.shutdown()
        await watchers.close()


async def test_a_journal_that_cannot_be_written_is_an_error_event_and_watui_runs_on(tmp_path: Path) -> None:
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"), base_dir=tmp_path)
    history_path(config).mkdir(parents=True)  # a folder where the file should be
    (tmp_path / "s" / ".watui-session").touch()
    manager = SessionManager(config)
    await manager.start()
    stream = manager.subscribe()
    watchers = await start_watchers(config, manager)
    try:
        event = await asyncio.wait_for(anext(aiter(stream)), 10)
        assert event.type == "error" and f"cannot write the history {history_path(config)}" in event.message
        assert watchers.history is not None
        report = await watchers.history.report(3600)  # reading says "no file" rather than failing
        assert report["exists"] is False
    finally:
        stream.close()
        await manager.shutdown()
        await watchers.close()


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


async def test_a_locked_journal_is_an_error_event_and_a_line_in_info_until_it_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(Journal, "retry_s", 0.2)
    monkeypatch.setattr(Journal, "open_timeout_s", 0.2)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[session]\nsession_path = "s"\nclient_id = "bot"\n')
    config = load_config(cfg)
    path = history_path(config)
    path.parent.mkdir(parents=True)
    (path.parent / ".watui-session").touch()
    holder = await asyncio.to_thread(_hold_lock, path)
    manager = SessionManager(config)
    await manager.start()
    stream = manager.subscribe()
    watchers = await start_watchers(config, manager)
    control = await start_control(manager, config, face="watch", history=watchers)
    try:
        event = await asyncio.wait_for(_next_error(stream), 10)
        assert f"cannot write the history {path}" in event.message and "locked" in event.message
        assert watchers.history is not None
        for _ in range(100):  # the rows of the start, kept by the writer thread
            if watchers.history.status()["pending"]:
                break
            await asyncio.sleep(0.05)
        assert await asyncio.to_thread(main, ["info", "--config", str(cfg)]) == 1  # no session: not valid
        line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("history"))
        assert f"cannot write the history {path}" in line and "waiting" in line
        await asyncio.to_thread(holder.communicate, "")  # the other program lets go
        for _ in range(100):
            if watchers.history.status()["error"] is None and watchers.history.status()["pending"] == 0:
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(main, ["info", "--config", str(cfg)]) == 1
        line = next(x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("history"))
        assert line.endswith(f"{path} (written)")
    finally:
        holder.kill()
        holder.wait()
        stream.close()
        if control is not None:
            await control.close()
        await manager.shutdown()
        await watchers.close()
    report = read_report(path, since_s=3600, down_after_s=60, gap_s=60)
    assert report["exists"] and report["skippedRows"] == 0
    kinds = [r.kind for r in read_rows(path, 0)[0]]
    assert {"start", "error", "stop"} <= set(kinds)  # the rows kept while it was locked, and what was said


def _hold_lock(path: Path) -> subprocess.Popen[str]:
    """Another program holding the journal's file locked (an exclusive SQLite transaction) until its stdin ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


async def _next_error(stream: EventStream) -> Event:
    async for event in stream:
        if event.type == "error":
            return event
    raise AssertionError("the stream ended without an error event")


async def test_an_unreadable_row_is_skipped_over_http_and_the_sampler_lives_on(tmp_path: Path) -> None:
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"), base_dir=tmp_path)
    path = history_path(config)
    earlier_run(path, time.time())
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET data = '{\"cut' WHERE state = 'TIMEOUT'")  # bit rot SQLite does not see
    conn.close()
    (tmp_path / "s" / ".watui-session").touch()
    manager = SessionManager(config)
    await manager.start()
    watchers = await start_watchers(config, manager)
    server = await start_api(manager, host="127.0.0.1", port=0, token="", history=watchers)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/api/whatsapp/history?since=3h") as res:
                assert res.status == 200
                assert (await res.json())["skippedRows"] == 1
            for since in ("inf", "1e309s", "99999999d"):
                async with http.get(f"{server.url}/api/whatsapp/history", params={"since": since}) as res:
                    assert res.status == 400, since
            metrics = ""
            for _ in range(100):  # the sampler computed the uptime from what it could read
                async with http.get(f"{server.url}/metrics") as res:
                    metrics = await res.text()
                if 'watui_uptime_ratio{window="24h"}' in metrics:
                    break
                await asyncio.sleep(0.1)
            assert 'watui_uptime_ratio{window="24h"}' in metrics
    finally:
        await server.close()
        await manager.shutdown()
        await watchers.close()
