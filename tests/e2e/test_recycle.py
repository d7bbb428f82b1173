"""Browser recycling with the real simulator and Chromium: above recycle_above_mb, when CONNECTED and
quiet, the browser is closed and reopened on the same profile; no QR, at most once per interval."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.core import sim_config, started_manager
from watui.core.models import ConnectionState as S
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser


async def test_a_browser_above_the_memory_threshold_is_recycled_without_a_scan(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)
    config = replace(config, browser=replace(config.browser, recycle_above_mb=1, recycle_min_interval_s=3600))
    async with started_manager(config) as (manager, rec):
        assert (await manager.smart_initialize()).needs_qr
        await sim.scan()
        await rec.state(S.CONNECTED)
        scans = sim.state()["scans"]
        linked = len(rec.events)
        old_pid = manager.slot.driver.pid if manager.slot.driver else None
        await rec.until(lambda _: any(e.type == "recycle" for e in rec.events), 30, "a recycle event")
        event = next(e for e in rec.events if e.type == "recycle")
        assert "recycle_above_mb = 1" in event.data["reason"]
        assert event.data["mb_before"] > 1 and event.data["mb_after"] is not None
        assert event.data["state"] == "CONNECTED"
        assert manager.info.state is S.CONNECTED
        assert manager.slot.driver is not None and manager.slot.driver.pid != old_pid  # a new browser
        await asyncio.sleep(6)  # past the next check: at most once per recycle_min_interval_s
        restarts = [e for e in rec.events if e.type == "action" and e.data == {"verb": "reconnect", "phase": "start"}]
        assert len(restarts) == 1
        assert all(e.qr is None for e in rec.events[linked:] if e.type == "qr")  # no QR after the link
    assert sim.state()["scans"] == scans
