"""Validity rules, locks and the owner lock, on copies of a real Chromium profile."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import pytest

from watui.cli import main
from watui.core.disk.store import SessionStore
from watui.core.errors import SessionBusyError
from watui.core.models import (
    PROBLEM_CORRUPT,
    PROBLEM_LOCKED,
    PROBLEM_LOGIN_MISSING,
    PROBLEM_MISSING,
    PROBLEM_NO_LOGIN,
    PROBLEM_TOO_LARGE,
    ConnectionState,
    DiskReport,
    SessionInfo,
)
from watui.present import mb_over

if TYPE_CHECKING:
    from tests.support.layout import LockSetter, SessionLayout

pytestmark = pytest.mark.browser

WA_DB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
LOCAL_STORAGE = "Default/Local Storage/leveldb"


def store_for(layout: SessionLayout, **overrides: Any) -> SessionStore:
    config = layout.config()
    if overrides:
        config = replace(config, session=replace(config.session, **overrides))
    return SessionStore(config)


def offline(report: DiskReport) -> SessionInfo:
    return SessionInfo(state=ConnectionState.UNLAUNCHED, disk=report)


def test_a_real_logged_in_profile_is_valid(session_layout: SessionLayout) -> None:
    report = store_for(session_layout).inspect()
    assert report.is_valid, report.validation_details
    assert report.problems == ()
    assert report.validation_details.startswith("Session valid:")
    assert report.file_count > 50
    assert report.lock.kind == "none"
    recommendations = offline(report).to_json()["recommendations"]
    assert recommendations == {"shouldClearSession": False, "shouldReconnect": True, "needsQRScan": False}


def test_size_is_bytes_on_disk_like_du(session_layout: SessionLayout) -> None:
    report = store_for(session_layout).inspect()
    du = subprocess.run(["du", "-s", "-B1", str(session_layout.profile)], capture_output=True, text=True)
    assert report.size_bytes == int(du.stdout.split()[0])
    find = subprocess.run(["find", str(session_layout.profile), "!", "-type", "d"], capture_output=True, text=True)
    assert report.file_count == len(find.stdout.splitlines())


def test_symlinks_are_not_followed_by_the_size_scan(session_layout: SessionLayout, tmp_path: Path) -> None:
    big = tmp_path / "outside"
    big.mkdir()
    (big / "blob").write_bytes(os.urandom(3 * 1024 * 1024))
    before = store_for(session_layout).inspect().size_bytes
    os.symlink(big, session_layout.profile / "Default" / "linked-outside")
    after = store_for(session_layout).inspect().size_bytes
    assert after - before < 64 * 1024


def test_missing_folder_needs_a_qr(session_layout: SessionLayout) -> None:
    store = store_for(session_layout, client_id="nobody")
    report = store.inspect()
    assert not report.exists and not report.is_valid
    assert report.problems == (PROBLEM_MISSING,)
    assert "Session folder not found" in report.validation_details
    assert offline(report).needs_qr_scan and not offline(report).should_clear_session


def test_profile_that_never_logged_in_needs_a_qr_not_a_clear(session_layout: SessionLayout) -> None:
    shutil.rmtree(session_layout.profile / WA_DB)
    report = store_for(session_layout).inspect()
    assert not report.is_valid
    assert report.problems == (PROBLEM_NO_LOGIN,)
    assert "no WhatsApp login stored (a QR scan is needed)" in report.validation_details
    info = offline(report)
    assert info.needs_qr_scan and not info.should_clear_session and not info.should_reconnect


def test_half_deleted_login_is_damaged(session_layout: SessionLayout) -> None:
    shutil.rmtree(session_layout.profile / LOCAL_STORAGE)
    report = store_for(session_layout).inspect()
    assert not report.is_valid
    assert PROBLEM_LOGIN_MISSING in report.problems
    assert f"login files missing: {LOCAL_STORAGE}" in report.validation_details
    assert offline(report).should_clear_session


@pytest.mark.parametrize("rel", ["Local State", "Default/Preferences"])
def test_chromium_files_written_late_are_not_damage(session_layout: SessionLayout, rel: str) -> None:
    # A freshly linked profile, or one whose browser was killed, may not have them yet.
    (session_layout.profile / rel).unlink()
    report = store_for(session_layout).inspect()
    assert report.is_valid and not report.is_damaged, report.validation_details


def _no_current(db: Path) -> None:
    (db / "CURRENT").unlink()


def _empty_current(db: Path) -> None:
    (db / "CURRENT").write_bytes(b"")


def _truncated_current(db: Path) -> None:
    (db / "CURRENT").write_bytes(b"MANIFEST-0000")


def _current_names_missing_manifest(db: Path) -> None:
    (db / "CURRENT").write_bytes(b"MANIFEST-000042\n")


def _empty_manifest(db: Path) -> None:
    name = (db / "CURRENT").read_text().strip()
    (db / name).write_bytes(b"")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_no_current, "no CURRENT file"),
        (_empty_current, "CURRENT is empty"),
        (_truncated_current, "CURRENT is truncated or garbled"),
        (_current_names_missing_manifest, "CURRENT names MANIFEST-000042, which does not exist"),
        (_empty_manifest, "is empty"),
    ],
)
@pytest.mark.parametrize("db", [WA_DB, LOCAL_STORAGE])
def test_damaged_leveldb_is_reported(
    session_layout: SessionLayout, db: str, damage: Callable[[Path], None], expected: str
) -> None:
    damage(session_layout.profile / db)
    report = store_for(session_layout).inspect()
    assert not report.is_valid
    assert report.problems[0] == PROBLEM_CORRUPT
    assert f"LevelDB damaged: {db}: " in report.validation_details
    assert expected in report.validation_details
    assert offline(report).should_clear_session


def test_too_large_compares_the_right_way_round(session_layout: SessionLayout) -> None:
    store = store_for(session_layout, max_session_size_mb=3)
    assert store.inspect().is_valid  # ~2 MB under a 3 MB cap: valid, no "x > y" message
    cache = session_layout.profile / "Default" / "Cache" / "Cache_Data"
    for i in range(4):
        (cache / f"f_{i:06d}").write_bytes(os.urandom(1024 * 1024))
    report = store.inspect()
    assert not report.is_valid
    assert report.problems == (PROBLEM_TOO_LARGE,)
    size_mb = round(report.size_bytes / (1024 * 1024))
    assert f"Session too large: {size_mb}MB > 3MB" in report.validation_details
    assert "watui clean would free" in report.validation_details
    assert not offline(report).should_clear_session
    store.cleanup()
    assert store.inspect().is_valid


def test_too_large_message_never_reads_as_equal() -> None:
    mib = 1024 * 1024
    assert mb_over(250 * mib, 200) == "250MB"
    assert mb_over(200 * mib + 300 * 1024, 200) == "200.3MB"
    assert mb_over(200 * mib + 1, 200) == f"{200 * mib + 1} bytes"


def test_live_lock_names_pid_and_process(
    session_layout: SessionLayout, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    set_lock(session_layout.profile, sleeper.pid)
    store = store_for(session_layout)
    report = store.inspect()
    assert report.lock.kind == "live" and report.lock.pid == sleeper.pid and report.lock.name == "sleep"
    assert report.problems == (PROBLEM_LOCKED,)
    assert f"in use by sleep (pid {sleeper.pid})" in report.validation_details
    assert report.lock.to_json() == {"pid": sleeper.pid, "name": "sleep"}


def test_lock_of_our_own_browser_or_its_children_is_not_a_problem(
    session_layout: SessionLayout, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    set_lock(session_layout.profile, sleeper.pid)
    store = store_for(session_layout)
    assert store.inspect(frozenset({sleeper.pid})).is_valid
    # sleep is a child of this test process: a lock held by a child of an own pid is ours too.
    assert store.inspect(frozenset({os.getpid()})).is_valid


def test_lock_of_a_dead_process_is_stale_and_the_session_stays_valid(
    session_layout: SessionLayout, dead_pid: int, set_lock: LockSetter
) -> None:
    set_lock(session_layout.profile, dead_pid)
    report = store_for(session_layout).inspect()
    assert report.is_valid
    assert report.lock.kind == "stale" and report.lock.pid == dead_pid
    assert "stale lock" in report.validation_details
    assert report.lock.to_json() == "stale"


def test_lock_whose_pid_was_reused_by_a_newer_process_is_stale(
    session_layout: SessionLayout, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    lock = set_lock(session_layout.profile, sleeper.pid)
    an_hour_ago = time.time() - 3600
    os.utime(lock, (an_hour_ago, an_hour_ago), follow_symlinks=False)
    report = store_for(session_layout).inspect()
    assert report.lock.kind == "stale"
    assert report.is_valid


def test_lock_from_another_host_is_held_not_guessed(
    session_layout: SessionLayout, sleeper: subprocess.Popen[bytes], set_lock: LockSetter
) -> None:
    lock = set_lock(session_layout.profile, sleeper.pid, host="some-other-host")
    store = store_for(session_layout, single_host=False)  # a shared network volume: another machine may use it
    report = store.inspect()
    assert report.lock.kind == "live" and report.lock.host == "some-other-host"
    assert PROBLEM_LOCKED in report.problems
    assert "another host 'some-other-host'" in report.validation_details
    with pytest.raises(SessionBusyError):
        store.cleanup()
    assert os.path.lexists(lock)


def test_a_real_chromium_holds_the_lock_until_it_crashes(session_layout: SessionLayout, chromium_path: Path) -> None:
    args = [
        str(chromium_path),
        "--headless",
        f"--user-data-dir={session_layout.profile}",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    browser = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = store_for(session_layout)
    try:
        lock = session_layout.profile / "SingletonLock"
        for _ in range(300):
            if os.path.lexists(lock):
                break
            time.sleep(0.05)
        report = store.inspect()
        assert report.lock.kind == "live" and report.lock.pid is not None
        holder_pid = report.lock.pid
        holder = psutil.Process(report.lock.pid)
        assert report.lock.name == holder.name() and "chrom" in holder.name()
        assert f"(pid {report.lock.pid})" in report.validation_details
        with pytest.raises(SessionBusyError) as refused:
            store.cleanup()
        assert str(report.lock.pid) in str(refused.value) and holder.name() in str(refused.value)
        with pytest.raises(SessionBusyError):
            store.clear()
    finally:
        os.killpg(browser.pid, signal.SIGKILL)  # a crash: the lock stays behind
        browser.wait()
        _wait_gone(holder_pid)
    after = store.inspect()
    assert after.lock.kind == "stale"
    assert after.is_valid, after.validation_details
    cleaned = store.cleanup()
    assert "SingletonLock" in cleaned.removed
    assert not os.path.lexists(session_layout.profile / "SingletonLock")
    assert store.inspect().lock.kind == "none"


def _wait_gone(pid: int) -> None:
    for _ in range(200):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.05)


def test_second_owner_is_refused_with_the_first_owners_pid(
    session_layout: SessionLayout, other_owner: subprocess.Popen[str]
) -> None:
    store = store_for(session_layout)
    assert store.owner_pid() == other_owner.pid
    with pytest.raises(SessionBusyError) as refused:
        store.acquire_owner()
    assert f"is in use by watui (pid {other_owner.pid})" in str(refused.value)
    other_owner.kill()
    other_owner.wait()
    # The kernel released the flock when the holder died: the session can be taken now.
    owner = store.acquire_owner()
    assert store_for(session_layout).owner_pid() is not None
    owner.release()
    assert store.owner_pid() is None


def test_a_browser_newer_than_its_lock_is_still_live(session_layout: SessionLayout, set_lock: LockSetter) -> None:
    """A clock step after the browser started makes it look newer than its lock: it must stay live."""
    browser_like = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"--user-data-dir={session_layout.profile}"]
    )
    try:
        lock = set_lock(session_layout.profile, browser_like.pid)
        an_hour_ago = time.time() - 3600
        os.utime(lock, (an_hour_ago, an_hour_ago), follow_symlinks=False)
        report = store_for(session_layout).inspect()
        assert report.lock.kind == "live" and report.lock.pid == browser_like.pid
        with pytest.raises(SessionBusyError):
            store_for(session_layout).cleanup()
    finally:
        browser_like.kill()
        browser_like.wait()


def _wait_for(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_browser_that_writes_no_lock_is_seen_and_nothing_acts_under_it(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    shell = shutil.which("chromium-headless-shell")
    if shell is None:
        pytest.skip("Debian's chromium-headless-shell is not installed")
    args = [shell, f"--user-data-dir={session_layout.profile}", "--no-first-run", "about:blank"]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    browser = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    store = store_for(session_layout)
    cfg = str(session_layout.config_path)
    try:
        # Debian's wrapper script starts the browser itself: wait for it, then for it to open the profile.
        tree = psutil.Process(browser.pid)
        _wait_for(lambda: any("headless" in p.name() for p in [tree, *tree.children(recursive=True)]), "the browser")
        time.sleep(1.0)
        assert not os.path.lexists(session_layout.profile / "SingletonLock")  # no lock to go by
        report = store.inspect()
        assert PROBLEM_LOCKED in report.problems and report.lock.kind == "live", report.validation_details
        holder = psutil.Process(report.lock.pid)
        assert f"--user-data-dir={session_layout.profile}" in holder.cmdline()
        assert f"in use by {holder.name()} (pid {holder.pid})" in report.validation_details
        with pytest.raises(SessionBusyError):
            store.cleanup()
        with pytest.raises(SessionBusyError):
            store.quarantine("watui restore")  # what restore does first
        for argv in (["clean"], ["clear", "--yes"], ["init", "--json", "--timeout", "3"]):
            code = main([*argv, "--config", cfg])
            out, err = capsys.readouterr()
            assert code == 1, (argv, out, err)
            assert f"pid {holder.pid}" in out + err and "Traceback" not in err, argv
        assert session_layout.profile.is_dir() and not (session_layout.root / ".quarantine").exists()
    finally:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.wait()
    _wait_for(lambda: store.inspect().lock.kind == "none", "the browser to be gone")
    store.cleanup()  # free again: nothing refuses


def test_a_process_on_another_folder_with_the_same_prefix_or_relative_name_is_not_the_holder(
    session_layout: SessionLayout, tmp_path: Path
) -> None:
    profile = session_layout.profile
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    others = [
        subprocess.Popen([*sleep, f"--user-data-dir={profile}-old"]),  # a prefix of another folder
        subprocess.Popen([*sleep, f"--user-data-dir={profile.name}"], cwd=tmp_path),  # relative, elsewhere
    ]
    try:
        time.sleep(0.3)
        assert store_for(session_layout).inspect().lock.kind == "none"
        relative_here = subprocess.Popen([*sleep, f"--user-data-dir={profile.name}"], cwd=session_layout.root)
        others.append(relative_here)
        time.sleep(0.3)
        lock = store_for(session_layout).inspect().lock
        assert (lock.kind, lock.pid) == ("live", relative_here.pid)
    finally:
        for proc in others:
            proc.kill()
            proc.wait()
