"""Snapshots with the real simulator and a real Chromium: taken by themselves once a login settles,
restored before a QR when the profile is lost or damaged, never after a logout; the CLI round trip."""

from __future__ import annotations

import asyncio
import io
import shutil
import signal
import sys
import tarfile
from dataclasses import replace
from pathlib import Path

import aiohttp
import psutil
import pyrage
import pytest

from tests.support.api import running_api
from tests.support.core import Recorder, sim_config, started_manager
from tests.support.layout import CLIENT_ID, SessionLayout
from watui.api.control import start_control
from watui.cli import main
from watui.config import Config, load_config
from watui.core import snapshots as sn
from watui.core.disk import leveldb
from watui.core.disk.store import SessionStore
from watui.core.events import Event
from watui.core.models import ConnectionState as S
from watui.core.session.manager import SessionManager
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser

LOCAL_STORAGE = "Default/Local Storage/leveldb"
WA_DB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
TOKEN_KEY = b"_https://web.whatsapp.com\x00\x01WAToken1"


# Chromium commits localStorage to disk about 5 s after a write: the login is on disk after that.
SETTLE_S = 7.0


def snap_config(tmp_path: Path, sim: Simulator, settle_s: float = SETTLE_S) -> tuple[Path, Config]:
    key = tmp_path / "id.txt"
    if not key.exists():
        sn.generate_identity(key)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[session]\nsession_path = "sessions"\nclient_id = "bot"\nsession_timeout_ms = 20000\n'
        f"browser_timeout_ms = 20000\nhealth_check_interval_ms = 60000\nmax_init_retries = 1\n"
        f'[snapshots]\nidentity = "{key}"\nsettle_s = {settle_s}\n'
    )
    return path, load_config(path).with_sim(sim.port)


async def connect_fresh(manager: SessionManager, rec: Recorder, sim: Simulator) -> None:
    result = await manager.smart_initialize()
    assert result.needs_qr, result
    await sim.scan()
    await rec.state(S.CONNECTED)


def _actions(rec: Recorder, verb: str) -> list[Event]:
    return [
        e for e in rec.events if e.type == "action" and e.data.get("verb") == verb and e.data.get("phase") != "start"
    ]


async def _wait_for(rec: Recorder, verb: str, timeout: float = 30.0) -> Event:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _actions(rec, verb):
        assert loop.time() < deadline, f"no '{verb}' event; events: {[e.to_json() for e in rec.events][-8:]}"
        await asyncio.sleep(0.1)
    return _actions(rec, verb)[0]


async def test_a_settled_login_is_snapshotted_by_itself_and_a_lost_profile_comes_back_without_a_scan(
    tmp_path: Path, sim: Simulator
) -> None:
    _, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        event = await _wait_for(rec, "backup")
        assert event.data["snapshot"]["source"] == "live"  # copied with the browser running
        token = leveldb.latest_value(config.profile_dir / LOCAL_STORAGE, TOKEN_KEY)
    assert token and len(token) > 20
    snap = sn.list_snapshots(config)[0]
    assert snap.verified and snap.account == "15550001234:1@c.us"
    blob = snap.path.read_bytes()
    assert token[1:] not in blob  # the simulator's login token is not in the file in clear
    identity = sn.read_identity(tmp_path / "id.txt")
    with tarfile.open(fileobj=io.BytesIO(pyrage.decrypt(blob, [identity])), mode="r:gz") as tar:
        assert f"{LOCAL_STORAGE}/CURRENT" in tar.getnames()
    scans = sim.state()["scans"]

    shutil.rmtree(config.profile_dir)  # the profile is lost
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
        assert "restored snapshot" in result.message
        assert _actions(rec, "restore")[0].data["reason"] == "no session on disk"
        assert all(e.qr is None for e in rec.events if e.type == "qr")
    assert sim.state()["scans"] == scans


@pytest.mark.parametrize(
    ("lost", "reason"),
    [
        ((".",), "no session on disk"),  # the whole profile: restored before the browser starts again
        # only the login: the browser starts on a sound profile and shows a QR, which is not a logout
        ((WA_DB, LOCAL_STORAGE), "the login came up logged out although the last run was connected"),
    ],
    ids=["profile", "login"],
)
async def test_a_profile_lost_while_watui_runs_comes_back_without_a_scan_and_is_not_a_logout(
    tmp_path: Path, sim: Simulator, lost: tuple[str, ...], reason: str
) -> None:
    _, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)  # as watch does: the operator wants a session
        await _wait_for(rec, "backup")
        scans = sim.state()["scans"]
        assert manager.slot.driver is not None and manager.slot.driver.pid is not None
        browser = psutil.Process(manager.slot.driver.pid)
        tree = [browser, *browser.children(recursive=True)]
        for proc in tree:
            proc.suspend()  # SIGSTOP: nothing of it writes into the profile while it goes
        for rel in lost:
            shutil.rmtree(config.profile_dir / rel)
        seen = len(rec.events)
        for proc in tree:
            proc.kill()  # SIGKILL: the recovery relaunches on what is left on disk
        info = await rec.until(
            lambda i: i.state is S.CONNECTED and any(e.state is S.RECONNECTING for e in rec.events[seen:]),
            60,
            "CONNECTED again after the browser was killed",
        )
        after = rec.events[seen:]
        assert info.account is not None
        restore = _actions(rec, "restore")
        assert restore and restore[0].data["reason"] == reason, [e.to_json() for e in after][-8:]
        if lost == (".",):
            assert all(e.qr is None for e in after if e.type == "qr")  # no QR shown: nothing to scan
        assert not _actions(rec, "revoke")
        assert not any(e.type == "error" and "logged out" in e.message for e in after)
    assert sim.state()["scans"] == scans
    assert not any(s.revoked for s in sn.list_snapshots(config))
    record = sn.read_record(config)
    assert record.connected and not record.logged_out and record.account == "15550001234:1@c.us"


async def test_a_garbled_login_is_quarantined_and_restored_without_a_scan(tmp_path: Path, sim: Simulator) -> None:
    _, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await _wait_for(rec, "backup")
    scans = sim.state()["scans"]
    log = sorted((config.profile_dir / LOCAL_STORAGE).glob("*.log"))[-1]
    garbled = b"\xa5" * 48 + log.read_bytes()[48:]
    log.write_bytes(garbled)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success, result
        assert result.quarantined_to is not None
        assert (result.quarantined_to / LOCAL_STORAGE / log.name).read_bytes() == garbled  # the damaged copy, kept
        reason = _actions(rec, "restore")[0].data["reason"]
        assert "LevelDB damaged" in reason  # restored because of the damage, before any QR was shown
        assert all(e.qr is None for e in rec.events if e.type == "qr")
    assert sim.state()["scans"] == scans


async def test_a_logout_revokes_the_snapshots_and_never_restores(tmp_path: Path, sim: Simulator) -> None:
    _, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await _wait_for(rec, "backup")
        await sim.logout()
        await rec.state(S.UNPAIRED)
        revoked = await _wait_for(rec, "revoke")
        assert len(revoked.data["snapshots"]) == 1
    assert sn.list_snapshots(config)[0].revoked
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.needs_qr and not _actions(rec, "restore")


@pytest.mark.parametrize("page", ["modules", "dom"])
async def test_a_logout_while_watui_was_stopped_is_noted_and_never_restored(tmp_path: Path, page: str) -> None:
    # The page starts on the login, the site refuses it, the page discards it and shows a QR: a logout,
    # whichever channel reads the page. No snapshot is restored, now or at any next start.
    sim = Simulator(state_dir=tmp_path / "sim-state", page=page)
    await sim.start()
    try:
        _, config = snap_config(tmp_path, sim)
        async with started_manager(config) as (manager, rec):
            await connect_fresh(manager, rec, sim)
            await _wait_for(rec, "backup")
        await sim.logout()  # from the phone, while watui is stopped
        for start in range(3):
            async with started_manager(config) as (manager, rec):
                result = await manager.smart_initialize()
                assert result.needs_qr and not _actions(rec, "restore"), result
                if start == 0:
                    await _wait_for(rec, "revoke")
                    assert any(e.type == "error" and "logged out" in e.message for e in rec.events)
            assert not (config.session_root / ".quarantine").exists()  # nothing moved aside, ever
            assert all(snap.revoked for snap in sn.list_snapshots(config))
            assert sn.read_record(config).logged_out
    finally:
        await sim.close()


async def test_a_restored_login_that_still_asks_for_a_qr_is_revoked_and_not_restored_again(
    session_layout: SessionLayout, sim: Simulator
) -> None:
    # A snapshot of a login the site does not know (the template's: an account, no token of this site): the
    # page keeps it and shows a QR, without a logout. The restored snapshot is what is dead.
    _, config = snap_config(session_layout.root.parent, sim)
    config = replace(config, session=replace(config.session, client_id=CLIENT_ID))  # the layout's profile
    assert config.profile_dir == session_layout.profile
    store = SessionStore(config)
    store.ensure_root()  # watui's marker: the folder stays watui's once the profile is gone
    snap = sn.Keeper(config, store).take("closed")  # also records the session as connected as its account
    shutil.rmtree(config.profile_dir)  # lost: the next start restores the snapshot
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.needs_qr, result
        assert _actions(rec, "restore")[0].data["snapshot"]["id"] == snap.id
        assert "still asks for a QR" in result.message, result.message
        assert _actions(rec, "revoke")[0].data["snapshots"] == [snap.id]
    assert sn.list_snapshots(config)[0].revoked and sn.read_record(config).logged_out
    for _ in range(2):  # each next start: no restore, nothing quarantined
        async with started_manager(config) as (manager, rec):
            result = await manager.smart_initialize()
            assert result.needs_qr and not _actions(rec, "restore"), result
        assert not (config.session_root / ".quarantine").exists()


async def test_cli_backup_clear_restore_then_init_connects_without_a_scan(tmp_path: Path, sim: Simulator) -> None:
    path, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await _wait_for(rec, "backup")
        control = await start_control(manager, config, face="watch")  # this manager owns the session
        assert control is not None
        try:
            automatic = len(_actions(rec, "backup"))
            assert await asyncio.to_thread(main, ["backup", "--config", str(path)]) == 0  # while the browser runs
            assert len(_actions(rec, "backup")) == automatic + 1  # taken by the owner, not behind its back
        finally:
            await control.close()
    scans = sim.state()["scans"]
    assert await asyncio.to_thread(main, ["clear", "--yes", "--config", str(path)]) == 0
    assert not config.profile_dir.exists()
    async with started_manager(config) as (manager, rec):  # cleared on purpose: no restore by itself
        result = await manager.smart_initialize()
        assert result.needs_qr and not _actions(rec, "restore")
    assert await asyncio.to_thread(main, ["restore", "--yes", "--config", str(path)]) == 0
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
    assert sim.state()["scans"] == scans


async def test_a_login_that_vanished_without_a_logout_is_restored_before_a_qr(tmp_path: Path, sim: Simulator) -> None:
    _, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await _wait_for(rec, "backup")
    scans = sim.state()["scans"]
    # What Chromium does with a database it cannot read: it starts an empty one. The profile is sound, logged out.
    shutil.rmtree(config.profile_dir / WA_DB)
    shutil.rmtree(config.profile_dir / LOCAL_STORAGE)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
        assert "logged out although the last run was connected" in _actions(rec, "restore")[0].data["reason"]
    assert sim.state()["scans"] == scans


async def test_the_api_takes_and_lists_snapshots(tmp_path: Path, sim: Simulator) -> None:
    _, config = snap_config(tmp_path, sim, settle_s=3600)
    async with (
        started_manager(config) as (manager, rec),
        running_api(manager) as api,
        aiohttp.ClientSession() as http,
    ):
        await connect_fresh(manager, rec, sim)
        await asyncio.sleep(SETTLE_S)  # Chromium writes the login to disk a few seconds after connecting
        async with http.post(f"{api.url}/api/whatsapp/backup") as response:
            assert response.status == 200, await response.text()
            taken = (await response.json())["snapshot"]
        assert taken["verified"] and taken["account"] == "15550001234:1@c.us" and taken["source"] == "live"
        async with http.get(f"{api.url}/api/whatsapp/snapshots") as response:
            listed = await response.json()
        assert listed["enabled"] is True and [s["id"] for s in listed["snapshots"]] == [taken["id"]]


async def test_the_api_says_when_snapshots_are_off(tmp_path: Path, sim: Simulator) -> None:
    config = sim_config(tmp_path, sim)  # no key
    async with started_manager(config) as (manager, _), running_api(manager) as api, aiohttp.ClientSession() as http:
        async with http.post(f"{api.url}/api/whatsapp/backup") as response:
            assert response.status == 409
            assert "snapshots are off" in (await response.json())["error"]
        async with http.get(f"{api.url}/api/whatsapp/snapshots") as response:
            assert (await response.json())["enabled"] is False


_KILLED_BETWEEN_RENAMES = """
import os, signal, sys
from watui.core.disk.quarantine import Quarantine
real_move = Quarantine.move_in
def move(self, folder):
    moved = real_move(self, folder)
    os.kill(os.getpid(), signal.SIGKILL)  # the profile moved aside, the restored one not yet in its place
    return moved
Quarantine.move_in = move
from watui.cli import main
main(["restore", "--yes", "--config", sys.argv[1]])
"""


async def test_a_damaged_newest_snapshot_or_an_interrupted_restore_still_connects_without_a_scan(
    tmp_path: Path, sim: Simulator
) -> None:
    path, config = snap_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        await connect_fresh(manager, rec, sim)
        await _wait_for(rec, "backup")
        newest = await manager.backup()
    older = sn.list_snapshots(config)[1]
    scans = sim.state()["scans"]
    blob = bytearray(newest.path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF  # a bad sector in the newest: same size, its sidecar cannot tell
    newest.path.write_bytes(bytes(blob))
    shutil.rmtree(config.profile_dir)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
        restored = _actions(rec, "restore")[0].data
        assert restored["snapshot"]["id"] == older.id and newest.id in restored["skipped"][0]
    assert not sn.list_snapshots(config)[0].verified  # marked: never tried first again

    # A restore killed between its two renames: the profile in quarantine, the verified copy beside it.
    done = await asyncio.create_subprocess_exec(sys.executable, "-c", _KILLED_BETWEEN_RENAMES, str(path))
    assert await done.wait() == -signal.SIGKILL
    assert not config.profile_dir.exists()
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
        assert "finished an interrupted restore" in result.message
    assert not [p for p in config.session_root.iterdir() if ".restore-" in p.name]
    assert sim.state()["scans"] == scans
