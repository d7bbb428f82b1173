"""Alerts end to end: the real simulator, a real Chromium, the runtime every face uses, a real receiver."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from tests.support.alert_receiver import Receiver, receiver
from tests.support.core import Recorder, sim_config
from watui.cli.live import _event_line
from watui.config import AlertSettings, Config, WebhookSettings
from watui.core.journal.journal import history_path
from watui.core.journal.report import read_report
from watui.core.models import ConnectionState as S
from watui.owner import session_runtime
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser


def alerting(tmp_path: Path, sim: Simulator, rec: Receiver, down_after_s: float) -> Config:
    hook = WebhookSettings(url=rec.url, secret="e2e-secret")
    return replace(sim_config(tmp_path, sim), alerts=AlertSettings(down_after_s=down_after_s, webhook=(hook,)))


async def sim_control(sim: Simulator, action: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{sim.base_url}/__sim/{action}", ssl=False) as resp:
        assert resp.status == 200, await resp.text()


async def try_drop(sim: Simulator) -> bool:
    """``/__sim/drop``; False when the page's socket closed just before (409: nothing to drop)."""
    async with aiohttp.ClientSession() as http, http.post(f"{sim.base_url}/__sim/drop", ssl=False) as resp:
        assert resp.status in (200, 409), await resp.text()
        return resp.status == 200


async def live_socket(sim: Simulator) -> None:
    """The page reads CONNECTED a moment before the simulator counts its socket: wait for the socket."""
    for _ in range(200):
        if sim.state()["connections"]:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the page never opened its socket to the simulator")


async def test_logout_sends_exactly_one_qr_needed_alert(tmp_path: Path, sim: Simulator) -> None:
    with receiver() as rec:
        config = alerting(tmp_path, sim, rec, down_after_s=1)
        async with session_runtime(config) as rt:
            events = Recorder(rt.session)
            assert (await rt.session.smart_initialize()).needs_qr  # a first QR: nobody is alerted
            await sim.scan()
            await events.state(S.CONNECTED)
            await sim_control(sim, "logout")
            await events.state(S.UNPAIRED)
            await asyncio.to_thread(rec.wait_for, 1)
            # Past down_after_s: "disconnected" must not repeat what qr_needed already said.
            await asyncio.sleep(2.5)
            alert_lines = [json.loads(_event_line(e, True)) for e in events.events if e.type == "alert"]
            events.close()
        received = list(rec.requests)
    assert [(r.json["alert"], r.json["status"]) for r in received] == [("qr_needed", "firing")]
    (got,) = received
    assert got.headers["x-watui-signature"] == "sha256=" + hmac.new(b"e2e-secret", got.body, hashlib.sha256).hexdigest()
    assert got.json["session"] == config.session.client_id and got.json["state"] == "UNPAIRED"
    assert [(a["type"], a["alert"], a["status"]) for a in alert_lines] == [("alert", "qr_needed", "firing")]
    journal = read_report(history_path(config), since_s=3600, down_after_s=1, gap_s=60)
    assert [(a["alert"], a["status"]) for a in journal["alerts"]] == [("qr_needed", "firing")]


async def test_down_longer_than_down_after_s_fires_once_then_resolves_after_up(tmp_path: Path, sim: Simulator) -> None:
    with receiver() as rec:
        config = alerting(tmp_path, sim, rec, down_after_s=2)
        async with session_runtime(config) as rt:
            events = Recorder(rt.session)
            await rt.session.smart_initialize()
            await sim.scan()
            await events.state(S.CONNECTED)
            await sim_control(sim, "down")
            await events.until(lambda info: info.state is not S.CONNECTED, what="the drop")
            await asyncio.to_thread(rec.wait_for, 1, 30)
            await sim_control(sim, "up")
            await events.state(S.CONNECTED, timeout=60)
            await asyncio.to_thread(rec.wait_for, 2)
            events.close()
        received = [(r.json["alert"], r.json["status"]) for r in rec.requests]
    assert received == [("disconnected", "firing"), ("disconnected", "resolved")]
    journal = read_report(history_path(config), since_s=3600, down_after_s=2, gap_s=60)
    (incident,) = journal["incidents"]
    assert incident["resolved"] and incident["durationS"] > 2


async def test_ten_drops_in_a_minute_reach_the_receiver_at_most_twice(tmp_path: Path, sim: Simulator) -> None:
    with receiver() as rec:
        config = alerting(tmp_path, sim, rec, down_after_s=60)
        async with session_runtime(config) as rt:
            events = Recorder(rt.session)
            await rt.session.smart_initialize()
            await sim.scan()
            await events.state(S.CONNECTED)
            for _ in range(40):  # a drop that lands on a socket being replaced is not seen: drop again
                if events.states().count(S.TIMEOUT) >= 10:
                    break
                await live_socket(sim)
                seen = events.states().count(S.TIMEOUT)
                if not await try_drop(sim):
                    continue
                with contextlib.suppress(AssertionError):
                    await events.until(lambda _, n=seen: events.states().count(S.TIMEOUT) > n, 3, "a drop")  # type: ignore[misc]
                await events.state(S.CONNECTED)
            await asyncio.to_thread(rec.wait_for, 1)
            drops = events.states().count(S.TIMEOUT)
            events.close()
        received = [(r.json["alert"], r.json["status"]) for r in rec.requests]
    assert drops == 10
    assert received == [("restarts", "firing")]  # 6 drops > max_restarts_per_hour (5); the rest stay quiet
