"""Recognising WhatsApp Web through each channel: real Chromium, the real simulator in each page variant.

``modules`` is today's page (read through WhatsApp's own modules), ``dom`` the selector-era page, ``canvas``
a page whose QR only its pixels tell, ``unknown`` a page nothing recognises.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from PIL import Image

from tests.support.core import sim_config, started_manager, with_whatsapp
from watui.core.models import ConnectionState as S
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser

# The channel that must read the QR, and the one that must see the connection, per variant.
MakeSim = Callable[[str], Awaitable[Simulator]]
CHANNELS = {"modules": ("modules", "modules"), "dom": ("dom", "dom"), "canvas": ("pixels", "dom")}


@pytest.fixture
async def make_sim(tmp_path: Path) -> AsyncIterator[MakeSim]:
    sims: list[Simulator] = []

    async def make(page: str) -> Simulator:
        sim = Simulator(state_dir=tmp_path / "sim-state", page=page)
        await sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.close()


@pytest.mark.parametrize("variant", ["modules", "dom", "canvas"])
async def test_qr_scan_connect_and_restart_without_qr(tmp_path: Path, make_sim: MakeSim, variant: str) -> None:
    sim = await make_sim(variant)
    qr_channel, connected_channel = CHANNELS[variant]
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.needs_qr, result
        info = await rec.until(lambda i: i.qr is not None, 15, "the QR payload")
        assert info.qr == sim.state()["qr"]  # exactly what the phone would scan
        assert info.detection == qr_channel
        assert manager.get_detailed_session_info()["connection"]["detection"] == qr_channel
        await sim.scan()
        info = await rec.state(S.CONNECTED)
        assert info.detection == connected_channel
        assert info.account is not None and (info.account.number or "").lstrip("+") == "15550001234"
        browser = manager.get_detailed_session_info()["connection"]["browser"]
        assert browser is not None and "chrom" in browser["executable"]  # the browser in use, named
    scans = sim.state()["scans"]
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and manager.info.state is S.CONNECTED, result
        assert manager.info.detection == connected_channel
        assert all(e.qr is None for e in rec.events if e.type == "qr")
        assert sim.state()["scans"] == scans
        # A dropped connection is seen and comes back.
        await sim.drop()
        await rec.state(S.TIMEOUT, 10)
        await rec.state(S.CONNECTED, 30)
        # Logged out from the phone: a new QR, read by the same channel as the first.
        await sim.logout()
        info = await rec.until(lambda i: i.state is S.UNPAIRED and i.qr is not None, 15, "a new QR after logout")
        assert info.qr == sim.state()["qr"] and info.detection == qr_channel
        await sim.scan()
        await rec.state(S.CONNECTED)
        # Open in another window: taking over ("Use here") brings it back.
        await sim.conflict()
        await rec.state(S.CONFLICT, 10)
        result = await manager.reconnect()
        assert result.success and manager.info.state is S.CONNECTED, result


async def test_the_site_changed_overnight_the_login_is_still_recognised(tmp_path: Path, make_sim: MakeSim) -> None:
    sim = await make_sim("modules")
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await manager.smart_initialize()
        await sim.scan()
        assert (await rec.state(S.CONNECTED)).detection == "modules"
    await sim.page("dom")
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success, result
        assert manager.info.detection == "dom"
    assert sim.state()["variant"] == "dom"


async def test_unknown_page_is_unrecognised_with_evidence_and_no_retry_loop(tmp_path: Path, make_sim: MakeSim) -> None:
    sim = await make_sim("unknown")
    config = sim_config(tmp_path, sim, session_timeout_ms=3000)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.state is S.UNRECOGNISED and not result.success, result
        info = manager.info
        assert info.state is S.UNRECOGNISED and info.detection is None
        assert info.evidence is not None and info.evidence in info.message and "watui doctor" in info.message
        events = [e for e in rec.events if e.type == "unrecognised"]
        assert len(events) == 1 and events[0].data["evidence"] == info.evidence
        assert not [e for e in rec.events if e.type == "retry"]
        status = manager.get_detailed_session_info()["connection"]
        assert status["state"] == "UNRECOGNISED" and status["detection"] is None
    folder = Path(info.evidence)
    assert folder.parent == config.session_root / "diagnostics"
    with Image.open(folder / "screenshot.png") as picture:
        assert picture.size[0] > 100 and picture.size[1] > 100
    outline = (folder / "dom-outline.txt").read_text()
    assert "<body>" in outline and 'class="x9f619' in outline
    page = json.loads((folder / "page.json").read_text())
    assert page["url"].startswith("https://web.whatsapp.com") and page["debugVersion"] is None
    assert page["userAgent"] and "HeadlessChrome" not in page["userAgent"]
    probes = json.loads((folder / "probes.json").read_text())
    assert {p["channel"] for p in probes} == {"modules", "dom", "pixels"}
    assert not any(p["matched"] for p in probes)


async def test_whatsapp_blocking_states_are_said_and_not_retried(tmp_path: Path, make_sim: MakeSim) -> None:
    sim = await make_sim("modules")
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await manager.smart_initialize()
        await sim.scan()
        await rec.state(S.CONNECTED)
        await sim.block("TOS_BLOCK")
        info = await rec.state(S.BLOCKED, 10)
        assert "TOS_BLOCK" in info.message and "terms of service" in info.message
        assert S.RECONNECTING not in rec.states()


async def test_a_qr_the_modules_cannot_build_is_read_from_its_pixels(tmp_path: Path, make_sim: MakeSim) -> None:
    # As if WhatsApp renamed the signal store: the state still comes from the modules, the QR from the screen.
    sim = await make_sim("modules")
    config = with_whatsapp(sim_config(tmp_path, sim), modules={"signal_store": "WAWebSignalStoreApiRenamed"})
    async with started_manager(config) as (manager, rec):
        await manager.smart_initialize()
        info = await rec.until(lambda i: i.qr is not None, 15, "the QR read from the screen")
        assert info.qr == sim.state()["qr"] and info.detection == "pixels"
        await sim.scan()
        assert (await rec.state(S.CONNECTED)).detection == "modules"
