"""Liveness end to end: what does not answer is noticed, killed quickly, and nothing is left behind; what
is only slow is given its time. Real Chromium, the real simulator, real signals on real processes.

Heartbeats are test-sized (a few seconds) so that each test takes seconds; the figures with the default
timeouts are in ``bench/bench_liveness.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.support.core import Recorder, sim_config, started_manager
from watui.core.models import ConnectionState as S
from watui.core.session.manager import SessionManager
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser


def gone(pid: int) -> bool:
    """Dead or a zombie (a zombie holds no memory and answers nothing; its parent may be gone too)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def browser_child(manager: SessionManager, flag: str) -> psutil.Process:
    """The browser's child process whose command line has ``flag`` (a Chromium service)."""
    assert manager.slot.driver is not None and manager.slot.driver.pid is not None
    for proc in psutil.Process(manager.slot.driver.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if flag in proc.cmdline():
                return proc
    raise AssertionError(f"no child of the browser with {flag}")


@contextlib.contextmanager
def stopped(*procs: psutil.Process) -> Iterator[None]:
    """SIGSTOP ``procs``; whatever happens, none is left stopped (continued, then killed if still there)."""
    for proc in procs:
        proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)


async def connect(manager: SessionManager, rec: Recorder, sim: Simulator) -> None:
    result = await manager.smart_initialize()
    assert result.needs_qr, result
    await sim.scan()
    await rec.state(S.CONNECTED)
    await asyncio.sleep(0.5)


async def test_a_stopped_playwright_driver_is_killed_with_its_browser_and_the_session_comes_back(
    tmp_path: Path, sim: Simulator
) -> None:
    config = sim_config(tmp_path, sim, heartbeat_timeout_ms=3000)
    async with started_manager(config) as (manager, rec):
        await connect(manager, rec, sim)
        assert manager.slot.driver is not None and manager.slot.driver.driver_pid is not None
        driver = psutil.Process(manager.slot.driver.driver_pid)
        assert "run-driver" in driver.cmdline() and driver.ppid() == os.getpid()
        old_browser = manager.slot.driver.pid
        assert old_browser is not None
        scans = sim.state()["scans"]
        with stopped(driver):  # every call to the browser goes through it: nothing answers now
            await rec.until(lambda i: i.state is not S.CONNECTED, 20, "the heartbeat to give up on it")
            info = await rec.state(S.CONNECTED, 40)
            # Killed, not waited for: the stopped driver (~150 MB) and the browser it started are gone.
            assert gone(driver.pid), driver.status()
            assert gone(old_browser)
        assert info.qr is None and sim.state()["scans"] == scans  # same login, no new scan
        assert manager.slot.driver is not None and manager.slot.driver.driver_pid not in (None, driver.pid)
        new_driver = manager.slot.driver.driver_pid
    assert new_driver is not None and gone(new_driver)  # the manager's own stop leaves no driver behind


async def test_a_site_slower_than_the_heartbeat_is_waited_for_during_recovery(tmp_path: Path, sim: Simulator) -> None:
    # The page load takes longer than the heartbeat but less than session_timeout_ms: the load is pending,
    # the page is silent, and that is not a frozen browser.
    config = sim_config(tmp_path, sim, heartbeat_timeout_ms=1500, session_timeout_ms=12000)
    async with started_manager(config) as (manager, rec):
        await connect(manager, rec, sim)
        await sim.slow(4000)
        assert manager.slot.driver is not None and manager.slot.driver.pid is not None
        os.kill(manager.slot.driver.pid, signal.SIGKILL)
        await rec.until(lambda i: i.state is not S.CONNECTED, 10, "the loss to be noticed")
        await rec.state(S.CONNECTED, 40)
        replaced = [e.message for e in rec.events if "not answering" in e.message]
        assert replaced == [], replaced  # the slow loads were never killed for their silence


async def test_a_stopped_network_service_is_not_a_healthy_connection(tmp_path: Path, sim: Simulator) -> None:
    # The renderer still answers, so the page still says CONNECTED; but the site is out of reach: its
    # connection dropped and the browser cannot hear of it, nor make another.
    config = sim_config(tmp_path, sim, heartbeat_timeout_ms=3000)
    async with started_manager(config) as (manager, rec):
        await connect(manager, rec, sim)
        network = browser_child(manager, "--utility-sub-type=network.mojom.NetworkService")
        with stopped(network):
            await sim.drop()
            await rec.until(lambda i: i.state is not S.CONNECTED, 20, "watui to see the page is cut off")
            assert not manager.info.health.is_healthy
            info = await rec.state(S.CONNECTED, 40)  # a new browser, a new network service
            assert gone(network.pid)
        assert info.qr is None and info.health.is_healthy
        assert any("not answering" in e.message for e in rec.events)


async def test_a_stopped_gpu_process_does_not_hide_the_qr_of_a_canvas_page(tmp_path: Path) -> None:
    # The canvas page's QR is read from its pixels: without a compositor no screenshot comes, the QR
    # would go, and after session_timeout_ms the page would be taken for one watui does not recognise.
    simulator = Simulator(state_dir=tmp_path / "sim-state", page="canvas", qr_rotate_ms=3000, qr_rotations=20)
    await simulator.start()
    try:
        config = sim_config(tmp_path, simulator, heartbeat_timeout_ms=3000, session_timeout_ms=8000)
        async with started_manager(config) as (manager, rec):
            result = await manager.smart_initialize()
            assert result.needs_qr and manager.info.detection == "pixels", result
            gpu = browser_child(manager, "--type=gpu-process")
            with stopped(gpu):
                await rec.until(lambda i: any("not answering" in e.message for e in rec.events), 20,
                                "the heartbeat to give up on a browser that paints nothing")  # fmt: skip
                info = await rec.until(lambda i: i.qr is not None, 30, "the QR back, read from a new browser")
                assert gone(gpu.pid)
            assert info.qr == simulator.state()["qr"] and info.detection == "pixels"
            assert S.UNRECOGNISED not in rec.states() and info.evidence is None
    finally:
        await simulator.close()


async def test_a_browser_cut_off_from_the_network_is_restarted_not_reloaded_for_ever(
    tmp_path: Path, sim: Simulator
) -> None:
    # The page saw its connection go and watui is recovering; its network service is stopped, so every
    # reload would hang until session_timeout_ms (and the heartbeat does not count a pending load's
    # silence). The heartbeat is too long to help here: the attempt itself asks the browser first.
    config = sim_config(tmp_path, sim, heartbeat_timeout_ms=600_000, session_timeout_ms=6000)
    async with started_manager(config) as (manager, rec):
        await connect(manager, rec, sim)
        network = browser_child(manager, "--utility-sub-type=network.mojom.NetworkService")
        old_browser = manager.slot.driver.pid if manager.slot.driver else None
        await sim.stall()  # the page gives up on its connection: only watui's recovery brings it back
        await rec.state(S.TIMEOUT, 10)
        with stopped(network):  # within the first attempt's grace, before it reloads
            info = await rec.state(S.CONNECTED, 60)
            assert gone(network.pid)
        assert manager.slot.driver is not None and manager.slot.driver.pid != old_browser
        assert info.qr is None
        assert any("does not answer: restarting it" in e.message for e in rec.events if e.type == "state")


async def test_the_pixels_channel_follows_the_qr_as_it_rotates(tmp_path: Path) -> None:
    simulator = Simulator(state_dir=tmp_path / "sim-state", page="canvas", qr_rotate_ms=2500, qr_rotations=20)
    await simulator.start()
    try:
        async with started_manager(sim_config(tmp_path, simulator)) as (manager, rec):
            result = await manager.smart_initialize()
            assert result.needs_qr and manager.info.detection == "pixels", result
            shown = []
            for _ in range(3):  # each rotation's QR is read from the screen, not the first one kept
                current = simulator.state()["qr"]
                info = await rec.until(lambda i, c=current: i.qr == c, 15, "the QR on screen")  # type: ignore[misc]
                shown.append(info.qr)
                await rec.until(lambda i, c=current: simulator.state()["qr"] != c, 15, "the site to rotate its QR")  # type: ignore[misc]
            assert len(set(shown)) == 3 and manager.info.detection == "pixels"
            # Between two QRs the one read before stays until the new one is read: it never blinks out.
            first = rec.states().index(S.UNPAIRED)
            assert set(rec.states()[first:]) == {S.UNPAIRED}, rec.states()
            qrs = [e.qr for e in rec.events if e.type == "qr"]
            assert None not in qrs[qrs.index(shown[0]) :], qrs
    finally:
        await simulator.close()


async def test_a_driver_stopped_during_a_page_load_does_not_hold_the_recovery_for_ever(
    tmp_path: Path, sim: Simulator
) -> None:
    # The driver enforces page.goto's own timeout: stopped, it never times out, and the heartbeat does not
    # count a pending load's silence. watui bounds the load itself, then finds the browser not answering.
    config = sim_config(tmp_path, sim, heartbeat_timeout_ms=1500, session_timeout_ms=3000)
    async with started_manager(config) as (manager, rec):
        await connect(manager, rec, sim)
        await sim.slow(120_000)
        assert manager.slot.driver is not None and manager.slot.driver.pid is not None
        os.kill(manager.slot.driver.pid, signal.SIGKILL)
        for _ in range(400):  # the new browser's load of the slow page is pending (not an event: polled)
            if manager.slot.driver is not None and manager.slot.driver.navigating:
                break
            await asyncio.sleep(0.05)
        assert manager.slot.driver is not None and manager.slot.driver.driver_pid is not None
        driver = psutil.Process(manager.slot.driver.driver_pid)
        with stopped(driver):
            await sim.slow(0)
            await rec.state(S.CONNECTED, 40)
            assert gone(driver.pid)


async def test_a_page_hidden_by_a_stopped_gpu_process_is_not_taken_for_an_unknown_page(tmp_path: Path) -> None:
    # The GPU process stops as the canvas page loads: its QR cannot be read from the screen, no channel
    # recognises anything, and the heartbeat does not listen while initialize owns the browser. The page is
    # not unknown: the browser is replaced, not the session stopped with evidence that has no screenshot.
    simulator = Simulator(state_dir=tmp_path / "sim-state", page="canvas")
    await simulator.start()
    try:
        config = sim_config(tmp_path, simulator, heartbeat_timeout_ms=3000, session_timeout_ms=4000)
        async with started_manager(config) as (manager, rec):
            starting = asyncio.create_task(manager.smart_initialize())
            gpu: psutil.Process | None = None
            for _ in range(400):  # the first browser's GPU process, as soon as there is one
                with contextlib.suppress(AssertionError, psutil.Error):
                    gpu = browser_child(manager, "--type=gpu-process")
                    break
                await asyncio.sleep(0.02)
            assert gpu is not None
            with stopped(gpu):
                result = await asyncio.wait_for(starting, 60)
                assert gone(gpu.pid)
            assert result.needs_qr and manager.info.detection == "pixels", result
            assert manager.info.qr == simulator.state()["qr"]
            assert S.UNRECOGNISED not in rec.states() and manager.info.evidence is None
            assert not (config.session_root / "diagnostics").exists()
    finally:
        await simulator.close()
