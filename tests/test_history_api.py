"""The journal over HTTP: ``GET /api/whatsapp/history`` and uptime in ``/metrics``, on a real manager (no
browser needed), its real watchers and a real socket."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from watui.api.server import start_api
from watui.config import Config, SessionSettings
from watui.core.history import Journal, history_path
from watui.core.manager import SessionManager
from watui.core.watchers import start_watchers


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
    server = await start_api(manager, host="127.0.0.1", port=0, token="")
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
