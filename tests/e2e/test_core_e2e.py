"""The live core end to end: real Chromium, the real simulator over real sockets, real signals."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

from tests.support.core import Recorder, sim_config, started_manager, with_whatsapp
from watui.config import SessionSettings
from watui.core.browser.chromium import find_browser_processes
from watui.core.disk.store import SessionStore
from watui.core.errors import ActionUnavailable, SessionBusyError
from watui.core.models import ConnectionState as S
from watui.core.session.manager import SessionManager
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser


async def connect_fresh(manager: SessionManager, rec: Recorder, sim: Simulator) -> None:
    result = await manager.smart_initialize()
    assert result.needs_qr and not result.success, result
    await sim.scan()
    await rec.state(S.CONNECTED)


async def test_fresh_profile_shows_the_simulators_qr_then_connects_after_scan(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        result = await manager.smart_initialize()
        assert (result.success, result.needs_qr) == (False, True)
        assert manager.info.state is S.UNPAIRED
        assert manager.info.qr == sim.state()["qr"]
        assert manager.info.qr is not None and manager.info.qr.startswith("2@") and len(manager.info.qr) > 150
        assert manager.get_detailed_session_info()["recommendations"]["needsQRScan"] is True
        await sim.scan()
        info = await rec.state(S.CONNECTED)
        assert info.account is not None and (info.account.number or "").lstrip("+") == "15550001234"
        assert info.qr is None and info.health.is_healthy
        assert rec.states()[-2:] == [S.PAIRING, S.CONNECTED]  # scanned, chats loaded, connected
    profile = sim_config(tmp_path, sim).profile_dir
    assert (profile / "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb").is_dir()


async def test_restart_comes_back_connected_without_a_qr(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
    scans = sim.state()["scans"]
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
        assert manager.info.state is S.CONNECTED
        assert all(e.qr is None for e in rec.events if e.type == "qr")
    assert sim.state()["scans"] == scans


async def test_kill_9_of_the_browser_comes_back_connected_by_itself(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await asyncio.sleep(0.5)
        old_pid = manager.slot.driver.pid if manager.slot.driver else None
        assert old_pid is not None and psutil.pid_exists(old_pid)
        os.kill(old_pid, signal.SIGKILL)
        await rec.until(lambda i: i.state is not S.CONNECTED, 10, "the loss to be noticed")
        info = await rec.state(S.CONNECTED, 30)
        assert S.RECONNECTING in rec.states()
        new_pid = manager.slot.driver.pid if manager.slot.driver else None
        assert new_pid is not None and new_pid != old_pid
        assert info.health.reconnect_attempts == 0  # reset once connected


async def test_dropped_connection_is_detected_and_recovered(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        pid = manager.slot.driver.pid if manager.slot.driver else None
        scans = sim.state()["scans"]
        await sim.stall()  # the page gives up: it never reconnects by itself, only a reload helps
        await rec.state(S.TIMEOUT, 10)
        info = await rec.state(S.CONNECTED, 30)
        assert rec.states()[-3:] == [S.TIMEOUT, S.RECONNECTING, S.CONNECTED]  # watui reloaded the page
        assert manager.slot.driver is not None and manager.slot.driver.pid == pid  # a reload, not a new browser
        assert info.qr is None and sim.state()["scans"] == scans  # same login, no new scan


async def test_server_down_for_10_s_reconnects_with_backoff(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await sim.down()  # closes the live connection and refuses new ones
        await rec.until(lambda i: i.state in (S.TIMEOUT, S.RECONNECTING), 10, "TIMEOUT or RECONNECTING")
        await asyncio.sleep(10)
        assert manager.info.state is not S.CONNECTED
        retries = [e for e in rec.events if e.type == "retry"]
        assert retries, "no reconnect attempt was scheduled while WhatsApp was down"
        assert manager.info.health.reconnect_attempts >= 1
        await sim.up()
        info = await rec.state(S.CONNECTED, 40)
        assert info.health.reconnect_attempts == 0


async def test_logout_goes_to_qr_and_does_not_loop(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await sim.logout()
        info = await rec.state(S.UNPAIRED, 10)
        assert info.needs_qr_scan and info.account is None
        await asyncio.sleep(3)
        assert manager.info.state is S.UNPAIRED
        assert not [e for e in rec.events if e.type == "retry"]
        assert manager.info.health.reconnect_attempts == 0


async def test_conflict_without_takeover_waits_for_the_operator(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await sim.conflict()
        await rec.state(S.CONFLICT, 10)
        await asyncio.sleep(2)
        assert manager.info.state is S.CONFLICT
        result = await manager.reconnect()
        assert result.success, result
        after = manager.info  # a new snapshot (mypy would keep the narrowing of the one above)
        assert after.state is S.CONNECTED


async def test_conflict_with_takeover_presses_use_here(tmp_path: Path, sim: Simulator) -> None:
    config = with_whatsapp(sim_config(tmp_path, sim), takeover_on_conflict=True, takeover_delay_ms=300)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await sim.conflict()
        await rec.state(S.CONFLICT, 10)
        await rec.state(S.CONNECTED, 15)


async def test_another_tab_in_watuis_browser_is_not_the_session(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        assert manager.slot.driver is not None and manager.slot.driver._context is not None
        other = await manager.slot.driver._context.new_page()  # a second WhatsApp Web tab in watui's browser
        await other.goto("https://web.whatsapp.com/")
        # That tab is told the login is open in another window (watui's own tab).
        await other.wait_for_function(
            "() => typeof window.require === 'function'"
            " && window.require('WAWebSocketModel').Socket.state === 'CONFLICT'"
        )
        await asyncio.sleep(1.0)  # its report would have come at once
        assert manager.info.state is S.CONNECTED and S.CONFLICT not in rec.states()
        await other.close()
        # A frame inside watui's own tab is not the session either (the init script runs in it too).
        own = manager.slot.driver._page
        assert own is not None
        await own.evaluate("document.body.append(Object.assign(document.createElement('iframe'), {src: '/'}))")
        iframe = await own.wait_for_selector("iframe")
        assert iframe is not None
        frame = await iframe.content_frame()
        assert frame is not None
        await frame.wait_for_function(
            "() => typeof window.require === 'function'"
            " && window.require('WAWebSocketModel').Socket.state === 'CONFLICT'"
        )
        await asyncio.sleep(1.0)
        assert manager.info.state is S.CONNECTED and S.CONFLICT not in rec.states()
        # watui's own tab still reports: a dropped connection is seen and comes back.
        await sim.drop()
        await rec.state(S.TIMEOUT, 10)
        await rec.state(S.CONNECTED, 30)


async def test_truncated_leveldb_current_is_quarantined_and_a_fresh_qr_shown(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
    current = config.profile_dir / "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/CURRENT"
    current.write_bytes(current.read_bytes()[:3])
    async with started_manager(config) as (manager, rec):
        assert manager.info.should_clear_session
        result = await manager.smart_initialize()
        assert result.needs_qr, result
        assert "quarantine" in result.message
        assert manager.info.state is S.UNPAIRED
    quarantined = list((config.session_root / ".quarantine").iterdir())
    assert len(quarantined) == 1
    assert (quarantined[0] / "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/CURRENT").exists()


async def test_a_torn_last_log_record_is_cut_back_and_the_session_stays_valid_run_after_run(
    tmp_path: Path, sim: Simulator
) -> None:
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await rec.state(S.CONNECTED)
    db = config.profile_dir / "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
    log = max(db.glob("*.log"), key=lambda p: p.stat().st_size)
    os.truncate(log, log.stat().st_size - 5)  # `truncate -s -5`: a crash in the middle of the last write
    for _ in range(2):  # `init`, `init`: the second finds what the first left
        async with started_manager(config) as (manager, rec):
            assert manager.info.disk is not None and manager.info.disk.is_valid, manager.info.disk
            result = await manager.smart_initialize()
            assert result.success and result.quarantined_to is None, result
    assert SessionStore(config).inspect().is_valid
    (kept,) = (config.session_root / ".quarantine").glob(f"{config.profile_dir.name}-torn-*")
    assert (kept / db.relative_to(config.profile_dir) / log.name).is_file()
    assert sim.state()["scans"] == 1  # never scanned twice


async def test_page_slower_than_the_timeout_retries_then_fails_clearly(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim, session_timeout_ms=2000, max_init_retries=1)
    await sim.slow(8000)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert not result.success and not result.needs_qr
        assert manager.info.state is S.FAILED
        assert "did not load within 2 s" in result.message and "session_timeout_ms" in result.message
        assert [e for e in rec.events if e.type == "retry"], "no retry before giving up"


async def test_a_second_watui_on_the_same_session_is_refused(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)
    async with started_manager(config):
        second = SessionManager(replace(config))
        with pytest.raises(SessionBusyError) as err:
            await second.start()
        assert str(os.getpid()) in str(err.value)


async def test_an_expired_qr_is_reloaded_then_watui_stops_asking(tmp_path: Path) -> None:
    simulator = Simulator(state_dir=tmp_path / "sim-state", qr_rotate_ms=400, qr_rotations=1)
    await simulator.start()
    try:
        config = with_whatsapp(sim_config(tmp_path, simulator), qr_max_retries=2)
        async with started_manager(config) as (manager, rec):
            result = await manager.smart_initialize()
            assert result.needs_qr
            info = await rec.until(lambda i: i.qr_gave_up, 30, "watui to stop reloading the QR")
            assert info.state is S.UNPAIRED_IDLE and info.needs_qr_scan
            assert "QR not scanned after 2 reloads" in info.message
            expired = [s for s in rec.states() if s is S.UNPAIRED_IDLE]
            assert len(expired) == 3  # the first expiry and one after each of the 2 reloads
            await asyncio.sleep(2)
            assert manager.info.state is S.UNPAIRED_IDLE  # no further reload
            again = await manager.smart_initialize()  # the operator asks again: a fresh QR
            assert again.needs_qr and manager.info.qr is not None and not manager.info.qr_gave_up
    finally:
        await simulator.close()


async def test_cleanup_while_connected_restarts_the_browser_and_keeps_the_login(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        scans = sim.state()["scans"]
        report = await manager.cleanup()
        assert report.freed_bytes > 0 and report.removed  # Chromium's caches were there to remove
        assert not any("IndexedDB" in path or "Local Storage" in path for path in report.removed)
        info = await rec.state(S.CONNECTED, 30)  # back by itself, no QR
        assert info.qr is None and sim.state()["scans"] == scans
        assert S.UNLAUNCHED in rec.states()  # the browser was really closed for the cleanup


async def test_verbs_that_cannot_act_are_refused_with_the_reason(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(sim_config(tmp_path, sim)) as (manager, rec):
        assert not manager.can("clear")  # nothing on disk yet
        starting = asyncio.create_task(manager.smart_initialize())
        await asyncio.sleep(0)
        assert manager.busy == "initialize"
        assert not manager.can("cleanup") and not manager.can("clear")
        with pytest.raises(ActionUnavailable, match="cannot cleanup now: 'initialize' is running"):
            await manager.cleanup()
        second = await manager.smart_initialize()  # joins the run in progress: one browser
        assert second == await starting
        assert manager.busy is None and manager.can("cleanup") and manager.can("clear")


def browser_tree(manager: SessionManager) -> list[psutil.Process]:
    """Every Chromium process on the manager's profile: the main one, its children, and any other."""
    assert manager.slot.driver is not None and manager.slot.driver.pid is not None
    main = psutil.Process(manager.slot.driver.pid)
    procs = {p.pid: p for p in [main, *main.children(recursive=True)]}
    procs.update((p.pid, p) for p in find_browser_processes(manager.config.profile_dir))
    return list(procs.values())


async def test_a_frozen_browser_is_noticed_by_the_heartbeat_and_replaced(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)  # the default heartbeat; the health check only every 60 s
    assert config.session.heartbeat_timeout_ms == SessionSettings().heartbeat_timeout_ms
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        frozen = browser_tree(manager)
        frozen_pid = frozen[0].pid
        for proc in frozen:  # alive but answering nothing: every process of the browser stopped
            proc.send_signal(signal.SIGSTOP)
        try:
            # Well before the 60 s health check: only the heartbeat can notice in this time.
            await rec.until(lambda i: i.state is S.RECONNECTING, 25, "the heartbeat to give up on it")
            info = await rec.state(S.CONNECTED, 40)
        finally:
            for proc in frozen:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(signal.SIGCONT)
        new_pid = manager.slot.driver.pid if manager.slot.driver else None
        assert new_pid is not None and new_pid != frozen_pid
        assert not psutil.pid_exists(frozen_pid) or psutil.Process(frozen_pid).status() == psutil.STATUS_ZOMBIE
        assert info.qr is None  # same login, no new scan
        assert any("not answering" in e.message for e in rec.events if e.message)
