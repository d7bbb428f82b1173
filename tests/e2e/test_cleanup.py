"""Cleanup keeps the login, quarantine keeps the newest copies, and nothing outside session_path is touched."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from watui.cli import main
from watui.config import load_config
from watui.core.disk.cleanup import CACHE_PATHS, remove_inside
from watui.core.disk.folders import MARKER
from watui.core.disk.store import SessionStore
from watui.core.errors import SessionBusyError, UnsafePathError

if TYPE_CHECKING:
    from tests.support.layout import ConfigWriter, LockSetter, SessionLayout

pytestmark = pytest.mark.browser


def store_for(layout: SessionLayout, **overrides: Any) -> SessionStore:
    config = layout.config()
    return SessionStore(replace(config, session=replace(config.session, **overrides)))


# Written out here, not taken from watui.core.disk.cleanup: a keep-list emptied or shortened there must fail.
LOGIN = (
    "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb",
    "Default/Local Storage/leveldb",
    "Local State",
    "Default/Preferences",
)
# Other sites' databases and Local Storage as a whole: cleanup never reaches inside them either.
KEPT_WHOLE = ("Default/IndexedDB", "Default/Local Storage")
# Cache and temp names planted inside kept folders: they belong to the databases there.
PLANTED_IN_KEPT = (
    "Default/Local Storage/leveldb/000007.tmp",
    "Default/Local Storage/leveldb/.org.chromium.Chromium.q9Z8y7",
    "Default/Local Storage/leveldb/Cache/data_0",
    "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/000004.tmp",
    "Default/IndexedDB/https_example.com_0.indexeddb.leveldb/000003.tmp",
    "Default/IndexedDB/https_example.com_0.indexeddb.leveldb/Code Cache/js/x_0",
    "Default/IndexedDB/https_example.com_0.indexeddb.blob/1/00/7.tmp",
    "Default/IndexedDB/https_example.com_0.indexeddb.blob/GPUCache/data_1",
)


def login_digest(profile: Path) -> dict[str, str]:
    """sha256 of every file under the login paths and the folders kept whole, by relative path."""
    out: dict[str, str] = {}
    for rel in LOGIN + KEPT_WHOLE:
        top = profile / rel
        files = [top] if top.is_file() else sorted(p for p in top.rglob("*") if p.is_file())
        for path in files:
            out[str(path.relative_to(profile))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def add_junk(profile: Path) -> None:
    """What a long-running profile accumulates: cache data and temp files (real bytes, not sparse)."""
    junk = {
        "Default/Cache/Cache_Data/f_000001": 512 * 1024,
        "Default/Code Cache/js/abc_0": 256 * 1024,
        "GrShaderCache/data_0": 128 * 1024,
        "Default/Service Worker/CacheStorage/x/blob": 64 * 1024,
        "Default/leftover.tmp": 8192,
        "Default/.org.chromium.Chromium.a1B2c3": 100,
        "TransportSecurity.TMP": 4096,
    }
    for rel, size in junk.items():
        (profile / rel).parent.mkdir(parents=True, exist_ok=True)
        (profile / rel).write_bytes(os.urandom(size))


def test_cleanup_removes_caches_and_temp_files_and_keeps_the_login(session_layout: SessionLayout) -> None:
    profile = session_layout.profile
    add_junk(profile)
    for rel in PLANTED_IN_KEPT:
        (profile / rel).parent.mkdir(parents=True, exist_ok=True)
        (profile / rel).write_bytes(b"leveldb compaction output")
    store = store_for(session_layout)
    login_before = login_digest(profile)
    before = store.inspect()
    assert before.reclaimable_bytes >= 960 * 1024

    report = store.cleanup()

    assert login_digest(profile) == login_before
    for rel in PLANTED_IN_KEPT:
        assert (profile / rel).exists(), f"cleanup removed {rel} from a kept folder"
    for rel in LOGIN:
        assert (profile / rel).exists(), rel
    for rel in ("Default/Cache", "Default/Code Cache", "GrShaderCache", "Default/Service Worker/CacheStorage"):
        assert not (profile / rel).exists(), rel
        assert rel in report.removed
    for rel in ("Default/leftover.tmp", "Default/.org.chromium.Chromium.a1B2c3", "TransportSecurity.TMP"):
        assert not (profile / rel).exists(), rel
    assert report.freed_bytes == before.reclaimable_bytes
    after = store.inspect()
    assert after.is_valid, after.validation_details
    assert after.reclaimable_bytes == 0
    assert after.size_bytes == before.size_bytes - report.freed_bytes
    assert "freed" in report.message


def test_stale_locks_are_removed_live_ones_refuse(
    session_layout: SessionLayout, dead_pid: int, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    profile = session_layout.profile
    store = store_for(session_layout)
    set_lock(profile, dead_pid)
    os.symlink("/tmp/.org.chromium.Chromium.gone/SingletonSocket", profile / "SingletonSocket")
    os.symlink("/tmp/.org.chromium.Chromium.gone/SingletonCookie", profile / "SingletonCookie")
    report = store.cleanup()
    assert {"SingletonLock", "SingletonSocket", "SingletonCookie"} <= set(report.removed)
    assert not any(os.path.lexists(profile / n) for n in ("SingletonLock", "SingletonSocket", "SingletonCookie"))

    add_junk(profile)
    set_lock(profile, sleeper.pid)
    with pytest.raises(SessionBusyError) as refused:
        store.cleanup()
    assert f"pid {sleeper.pid}" in str(refused.value) and "sleep" in str(refused.value)
    assert (profile / "Default" / "Cache").exists()  # nothing removed
    assert os.path.lexists(profile / "SingletonLock")


def test_cleanup_while_our_own_browser_runs_leaves_the_profile_alone(
    session_layout: SessionLayout, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    profile = session_layout.profile
    add_junk(profile)
    set_lock(profile, sleeper.pid)
    report = store_for(session_layout).cleanup(own_pids=frozenset({sleeper.pid}))
    assert report.freed_bytes == 0 and report.removed == ()
    assert "browser is running" in report.message
    assert (profile / "Default" / "Cache").exists() and (profile / "Default" / "leftover.tmp").exists()


def test_symlinks_out_of_the_tree_are_unlinked_never_followed(session_layout: SessionLayout, tmp_path: Path) -> None:
    profile = session_layout.profile
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "keep.me").write_text("not watui's")
    shutil.rmtree(profile / "Default" / "GPUCache")
    os.symlink(outside, profile / "Default" / "GPUCache")  # a cache path that is a link out
    os.symlink(outside / "keep.me", profile / "Default" / "link.tmp")  # a temp name that is a link
    report = store_for(session_layout).cleanup()
    assert "Default/GPUCache" in report.removed
    assert not os.path.lexists(profile / "Default" / "GPUCache")
    assert (outside / "keep.me").read_text() == "not watui's"
    assert os.path.lexists(profile / "Default" / "link.tmp")  # not a regular file: left alone


def test_a_profile_subfolder_linked_outside_is_not_cleaned_through(
    session_layout: SessionLayout, tmp_path: Path
) -> None:
    profile = session_layout.profile
    elsewhere = tmp_path / "elsewhere-Default"
    shutil.move(profile / "Default", elsewhere)
    os.symlink(elsewhere, profile / "Default")
    store_for(session_layout).cleanup()
    assert (elsewhere / "Cache").is_dir() and (elsewhere / "GPUCache").is_dir()


def test_remove_inside_refuses_a_path_outside(session_layout: SessionLayout, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("x")
    with pytest.raises(UnsafePathError):
        remove_inside(session_layout.profile, victim)
    with pytest.raises(UnsafePathError):
        remove_inside(session_layout.profile, session_layout.profile / ".." / "victim")
    with pytest.raises(UnsafePathError):
        remove_inside(session_layout.profile, session_layout.profile)
    assert victim.exists() and session_layout.profile.exists()


def test_old_session_folders_are_moved_aside_never_deleted(session_layout: SessionLayout) -> None:
    root = session_layout.root
    old = root / "whatsapp-session-v1"
    (old / "session").mkdir(parents=True)
    (old / "session" / "Local State").write_text("{}")
    other_client = root / "session-other-bot"
    other_client.mkdir()
    report = store_for(session_layout).cleanup()
    assert not old.exists()
    assert len(report.moved_aside) == 1 and report.moved_aside[0].startswith("whatsapp-session-v1 -> ")
    moved = list((root / ".quarantine").glob("whatsapp-session-v1-*"))
    assert len(moved) == 1 and (moved[0] / "session" / "Local State").read_text() == "{}"
    assert other_client.is_dir()  # another client's session is not ours to move
    assert "session-other-bot" in report.message


def test_clear_quarantines_and_keeps_the_newest_three(
    session_layout: SessionLayout, chromium_profile_template: Path
) -> None:
    store = store_for(session_layout, quarantine_keep=3)
    profile = session_layout.profile
    login = login_digest(profile)
    (session_layout.root / "whatsapp-session-old").mkdir()
    store.cleanup()  # moves the old folder aside: it must survive the pruning below
    for round_no in range(1, 6):
        if round_no > 1:
            shutil.copytree(chromium_profile_template, profile, symlinks=True)
        (profile / "round.txt").write_text(str(round_no))
        result = store.clear()
        assert result.moved_to is not None and result.moved_to.parent == session_layout.root / ".quarantine"
        assert not profile.exists()
    kept = sorted((session_layout.root / ".quarantine").glob(f"{profile.name}-*"))
    assert sorted(int((p / "round.txt").read_text()) for p in kept) == [3, 4, 5]
    assert login_digest(kept[0]) == login  # the login is intact in quarantine
    assert "reason: watui clear" in (kept[0] / "WATUI-QUARANTINE.txt").read_text()
    assert len(list((session_layout.root / ".quarantine").glob("whatsapp-session-old-*"))) == 1
    assert stat.S_IMODE((session_layout.root / ".quarantine").stat().st_mode) == 0o700


def test_purge_deletes_only_the_profile(session_layout: SessionLayout) -> None:
    root = session_layout.root
    (root / "notes.txt").write_text("mine")
    result = store_for(session_layout).clear(purge=True)
    assert result.purged and result.moved_to is None
    assert not session_layout.profile.exists()
    assert (root / "notes.txt").read_text() == "mine"
    assert not (root / ".quarantine").exists()


def test_clear_refuses_while_a_live_process_holds_the_profile(
    session_layout: SessionLayout, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    set_lock(session_layout.profile, sleeper.pid)
    with pytest.raises(SessionBusyError):
        store_for(session_layout).clear(purge=True)
    assert (session_layout.profile / "Local State").exists()


def test_dangerous_session_paths_are_refused(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.txt").write_text("years of work")
    monkeypatch.setenv("HOME", str(home))
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    for path, expected in (("/", "filesystem root"), (str(home), "home folder"), (str(foreign), "holds neither")):
        store = SessionStore(load_config(write_config(session_path=path)))
        for action in (store.ensure_root, store.cleanup, store.clear, store.acquire_owner):
            with pytest.raises(UnsafePathError) as refused:
                action()
            assert expected in str(refused.value) and "session_path" in str(refused.value)
    assert (home / "thesis.txt").exists() and (foreign / "cat.jpg").exists()
    assert not (foreign / MARKER).exists()


def test_new_roots_are_private_and_marked(tmp_path: Path, write_config: ConfigWriter) -> None:
    store = SessionStore(load_config(write_config(session_path="deep/new/sessions")))
    store.ensure_root()
    for folder in (tmp_path / "deep", tmp_path / "deep/new", tmp_path / "deep/new/sessions"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert (tmp_path / "deep/new/sessions" / MARKER).is_file()
    store.check_root()  # marked: accepted from now on
    empty = tmp_path / "empty"
    empty.mkdir()
    SessionStore(load_config(write_config(session_path=str(empty)))).ensure_root()  # empty: fine
    assert (empty / MARKER).is_file()


def test_a_session_path_of_another_uid_or_writable_by_others_is_refused(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever else owns or may write session_path can put their own socket at the owner's path (and
    their QR in front of this user): refused with the fix, by every verb and the command line."""
    root = tmp_path / "sessions"
    config_path = write_config(session_path=str(root))
    store = SessionStore(load_config(config_path))
    store.ensure_root()
    me, other = os.geteuid(), os.geteuid() + 1
    theirs = SessionStore(store.config, uid=other)  # as if run by another user: the folder is not theirs
    for action in (theirs.ensure_root, theirs.cleanup, theirs.clear, theirs.acquire_owner):
        with pytest.raises(UnsafePathError) as refused:
            action()
        assert str(refused.value) == (
            f"[session] session_path {root}: owned by uid {me}, expected {other}; fix: chown {other} {root} "
            f"(or run watui as uid {me})"
        )
    for mode in (0o770, 0o707, 0o1777):  # group- or world-writable; sticky like /tmp is no better
        os.chmod(root, mode)
        writable = rf"{root}: writable by group or others \(mode {mode:o}\); fix: chmod go-w {root}$"
        with pytest.raises(UnsafePathError, match=writable):
            store.acquire_owner()
    assert main(["clean", "--config", str(config_path)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"watui: [session] session_path {root}: writable by group or others (mode 1777); fix: chmod go-w {root}"
    )
    os.chmod(root, 0o755)
    store.acquire_owner().release()  # readable by others is fine: the socket and files in it are 0600


async def test_a_snapshot_folder_others_may_write_is_refused_at_start(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever may write the snapshot folder may plant a snapshot for a restore: refused when the owner starts."""
    from watui.core.session.manager import SessionManager

    assert main(["keygen", str(tmp_path / "id.txt")]) == 0
    capsys.readouterr()
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    raw = f'[snapshots]\nidentity = "{tmp_path / "id.txt"}"\ndir = "{shared}"\n'
    manager = SessionManager(load_config(write_config(session_path="sessions", raw=raw)))
    writable = rf"^\[snapshots\] dir {shared}: writable by group or others \(mode 777\)"
    with pytest.raises(UnsafePathError, match=writable):
        await manager.start()
    await manager.shutdown()
    os.chmod(shared, 0o700)
    manager = SessionManager(load_config(write_config(session_path="sessions", raw=raw)))
    await manager.start()
    await manager.shutdown()


def test_cache_table_never_overlaps_the_login() -> None:
    for cache in CACHE_PATHS:
        for login in LOGIN:
            assert not (cache == login or cache.startswith(login + "/") or login.startswith(cache + "/"))


def test_a_profile_that_is_a_link_is_measured_but_never_cleaned_through_and_clear_drops_only_the_link(
    session_layout: SessionLayout, tmp_path: Path
) -> None:
    real = tmp_path / "big-disk" / "profile"
    real.parent.mkdir()
    shutil.move(session_layout.profile, real)
    os.symlink(real, session_layout.profile)
    add_junk(real)
    store = store_for(session_layout)
    report = store.inspect()
    assert report.is_valid and report.size_bytes > 1024 * 1024 and report.reclaimable_bytes > 900 * 1024
    with pytest.raises(UnsafePathError, match="outside session_path"):
        store.cleanup()  # its caches lie outside session_path: nothing there is watui's to delete
    assert (real / "Default" / "Cache").is_dir()
    assert store.clear(purge=True).purged
    assert not os.path.lexists(session_layout.profile)
    assert (real / "Local State").exists()  # the link went, the folder it pointed at did not
