"""A SingletonLock written under another hostname (what a restarted container leaves): stale under
``[session] single_host = true`` when no process here uses the profile; refused when false."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.core import sim_config, started_manager
from tests.support.layout import LockSetter, SessionLayout
from watui.cli import main
from watui.core.disk.store import SessionStore
from watui.core.models import PROBLEM_LOCKED
from watui.core.models import ConnectionState as S
from watui.sim.server import Simulator

DEAD = 999999


@pytest.fixture
def profile_user(session_layout: SessionLayout) -> Iterator[subprocess.Popen[bytes]]:
    """A live process on this machine started with --user-data-dir=<the profile>, as a browser is."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", f"--user-data-dir={session_layout.profile}"]
    )
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_from_another_host_is_stale_and_cleaned_under_single_host(
    session_layout: SessionLayout,
    set_lock: LockSetter,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    lock = set_lock(session_layout.profile, DEAD, host="deadhost")
    report = SessionStore(session_layout.config()).inspect()
    assert report.lock.kind == "stale" and report.is_valid
    assert "from host 'deadhost'" in report.validation_details
    with caplog.at_level(logging.WARNING):
        assert main(["clean", "--config", str(session_layout.config_path)]) == 0
    assert not os.path.lexists(lock)
    assert "left by host 'deadhost'" in capsys.readouterr().out
    assert any("deadhost" in r.getMessage() for r in caplog.records)


def test_a_lock_from_another_host_is_refused_when_the_folder_is_shared(
    session_layout: SessionLayout, set_lock: LockSetter, capsys: pytest.CaptureFixture[str]
) -> None:
    session_layout.config_path.write_text(session_layout.config_path.read_text() + "single_host = false\n")
    lock = set_lock(session_layout.profile, DEAD, host="deadhost")
    report = SessionStore(session_layout.config()).inspect()
    assert report.lock.kind == "live" and PROBLEM_LOCKED in report.problems
    assert main(["clean", "--config", str(session_layout.config_path)]) == 1
    assert "another host 'deadhost'" in capsys.readouterr().err
    assert os.path.lexists(lock)


def test_a_foreign_lock_is_held_while_a_process_here_uses_the_profile(
    session_layout: SessionLayout, set_lock: LockSetter, profile_user: subprocess.Popen[bytes]
) -> None:
    lock = set_lock(session_layout.profile, DEAD, host="deadhost")
    report = SessionStore(session_layout.config()).inspect()
    assert report.lock.kind == "live" and report.lock.pid == profile_user.pid
    assert main(["clean", "--config", str(session_layout.config_path)]) == 1
    assert os.path.lexists(lock)


@pytest.mark.browser
async def test_after_a_container_restart_init_connects_without_a_scan(
    tmp_path: Path, sim: Simulator, set_lock: LockSetter
) -> None:
    config = sim_config(tmp_path, sim)
    async with started_manager(config) as (manager, rec):
        assert (await manager.smart_initialize()).needs_qr
        await sim.scan()
        await rec.state(S.CONNECTED)
    scans = sim.state()["scans"]
    set_lock(config.profile_dir, DEAD, host="deadhost")
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.success and not result.needs_qr, result
    assert sim.state()["scans"] == scans
