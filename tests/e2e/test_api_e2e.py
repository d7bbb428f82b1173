"""The HTTP face on the real core: real manager, the simulator, Chromium, real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
import zxingcpp
from PIL import Image
from playwright.async_api import async_playwright, expect

from tests.support.api import SseReader, running_api
from tests.support.core import sim_config, started_manager
from watui.api.app import ApiServer
from watui.core.browser.chromium import find_browser
from watui.core.session.manager import SessionManager
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser

API = "/api/whatsapp"


@pytest.fixture
async def live(
    tmp_path: Path, sim: Simulator, chromium_path: Path
) -> AsyncIterator[tuple[SessionManager, ApiServer, Path]]:
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, _), running_api(manager, simulator=sim) as api:
        yield manager, api, config.profile_dir


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    # No connection limit: the concurrency test means 100 requests at once.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        yield session


def browsers_on(profile: Path) -> list[int]:
    """Pids of Chromium main processes (not their renderers and helpers) started on ``profile``."""
    marker = f"--user-data-dir={profile}"
    pids = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if marker in cmdline and not any(arg.startswith("--type=") for arg in cmdline):
            pids.append(proc.pid)
    return pids


async def get_json(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as res:
        assert res.status == 200, await res.text()
        return await res.json()


async def post_json(http: aiohttp.ClientSession, url: str, body: Any = None) -> tuple[int, Any]:
    async with http.post(url, json=body) as res:
        return res.status, await res.json()


async def until_state(reader: SseReader, state: str, timeout: float = 30.0) -> list[dict[str, Any]]:
    """Read events until a ``state`` event with ``state``; returns what was read."""
    seen: list[dict[str, Any]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        event = await reader.data(timeout=max(0.1, deadline - loop.time()))
        seen.append(event)
        if event.get("type") == "state" and event.get("state") == state:
            return seen


async def test_initialize_over_http_shows_the_qr_then_a_scan_connects_and_clear_quarantines(
    live: tuple[SessionManager, ApiServer, Path], sim: Simulator, http: aiohttp.ClientSession
) -> None:
    manager, api, profile = live
    async with http.get(f"{api.url}{API}/events") as stream:
        reader = SseReader(stream)
        first = await reader.data()
        assert first["type"] == "snapshot" and first["info"]["connection"]["state"] == "UNLAUNCHED"

        status, result = await post_json(http, f"{api.url}{API}/smart-initialize")
        assert status == 200 and (result["success"], result["needsQR"]) == (False, True), result
        info = await get_json(http, f"{api.url}{API}/session-info")
        assert info["recommendations"]["needsQRScan"] is True and info["connection"]["state"] == "UNPAIRED"

        async with http.get(f"{api.url}{API}/qr.png") as res:
            assert res.status == 200
            image = Image.open(io.BytesIO(await res.read()))
        assert [code.text for code in zxingcpp.read_barcodes(image)] == [sim.state()["qr"]]

        await sim.scan()
        await until_state(reader, "CONNECTED")

    info = await get_json(http, f"{api.url}{API}/session-info")
    assert info["connection"]["state"] == "CONNECTED" and info["connection"]["isConnected"] is True
    assert info["connection"]["account"]["number"].lstrip("+") == "15550001234"
    assert info["recommendations"]["needsQRScan"] is False
    async with http.get(f"{api.url}{API}/qr.svg") as res:
        assert res.status == 404
    async with http.get(f"{api.url}/metrics") as res:
        text = await res.text()
    assert 'watui_state{state="CONNECTED"} 1.0' in text and "watui_healthy 1.0" in text
    # Today's page (the simulator's default) is read through WhatsApp's own modules, and says so.
    assert info["connection"]["detection"] == "modules"
    assert 'watui_page_detection{channel="modules"} 1.0' in text


async def test_clear_over_http_quarantines_a_freshly_connected_session(
    live: tuple[SessionManager, ApiServer, Path], sim: Simulator, http: aiohttp.ClientSession
) -> None:
    manager, api, profile = live
    async with http.get(f"{api.url}{API}/events") as stream:
        reader = SseReader(stream)
        await reader.data()
        status, result = await post_json(http, f"{api.url}{API}/smart-initialize")
        assert result["needsQR"] is True, result
        await sim.scan()
        await until_state(reader, "CONNECTED")
    status, report = await post_json(http, f"{api.url}{API}/clear")
    assert status == 200 and report["purged"] is False, report
    assert await asyncio.to_thread(Path(report["movedTo"]).is_dir)
    assert not await asyncio.to_thread(profile.exists)
    info = await get_json(http, f"{api.url}{API}/session-info")
    assert info["session"]["exists"] is False and info["recommendations"]["needsQRScan"] is True
    assert await asyncio.to_thread(browsers_on, profile) == []


async def test_concurrent_requests_leave_one_browser_and_a_consistent_state(
    live: tuple[SessionManager, ApiServer, Path], sim: Simulator, http: aiohttp.ClientSession
) -> None:
    manager, api, profile = live
    reads = [get_json(http, f"{api.url}{API}/session-info") for _ in range(100)]
    inits = [post_json(http, f"{api.url}{API}/smart-initialize") for _ in range(10)]
    results = await asyncio.gather(*inits, *reads)
    answers = results[:10]
    assert all(status == 200 for status, _ in answers), answers
    assert {(body["success"], body["needsQR"], body["state"]) for _, body in answers} == {(False, True, "UNPAIRED")}
    for info in results[10:]:
        assert info["connection"]["state"] in ("UNLAUNCHED", "OPENING", "UNPAIRED"), info
        assert info["connection"]["isConnected"] is False
    assert len(await asyncio.to_thread(browsers_on, profile)) == 1
    assert sim.state()["connections"] == 1
    info = await get_json(http, f"{api.url}{API}/session-info")
    assert info["connection"]["state"] == "UNPAIRED" and info["connection"]["qr"] == sim.state()["qr"]
    # A second wave while the QR is shown changes nothing either.
    again = await asyncio.gather(*(post_json(http, f"{api.url}{API}/smart-initialize") for _ in range(10)))
    assert {body["needsQR"] for _, body in again} == {True}
    assert len(await asyncio.to_thread(browsers_on, profile)) == 1


async def test_the_diagnostics_page_drives_the_real_core(
    live: tuple[SessionManager, ApiServer, Path], sim: Simulator
) -> None:
    manager, api, profile = live
    args = ["--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    async with async_playwright() as pw:
        viewer = await pw.chromium.launch(executable_path=str(find_browser()), headless=True, args=args)
        try:
            page = await viewer.new_page()
            await page.goto(f"{api.url}/whatsapp-diagnostics")
            await expect(page.locator("#state")).to_have_text("UNLAUNCHED")
            await expect(page.locator("#btn-sim-scan")).to_be_visible()  # demo mode: a simulator is attached
            await page.click("#btn-init")
            await expect(page.locator("#state")).to_have_text("UNPAIRED", timeout=30000)
            qr = page.locator("#qr")
            await expect(qr).to_have_attribute("data-payload", sim.state()["qr"], timeout=10000)
            await page.wait_for_function("document.getElementById('qr').naturalWidth > 0")
            shot = Image.open(io.BytesIO(await qr.screenshot()))
            assert [code.text for code in zxingcpp.read_barcodes(shot)] == [manager.info.qr]
            await page.click("#btn-sim-scan")
            await expect(page.locator("#state")).to_have_text("CONNECTED", timeout=30000)
            await expect(page.locator("#qr-box")).to_be_hidden()
            await expect(page.locator("#account")).to_contain_text("15550001234")
        finally:
            await viewer.close()
    assert manager.info.state.value == "CONNECTED" and sim.state()["scans"] == 1
