"""`watui init` and `watui watch` as a user runs them: real processes, the real simulator, real signals."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.qr_decode import LIGHT, decode_ansi, qr_rows
from tests.support.watui_proc import WATUI, env_for, free_port, sim_call, wait_for_sim_state

pytestmark = pytest.mark.browser


def test_init_prints_a_qr_that_scans_and_exits_0_once_connected(tmp_path: Path) -> None:
    port = free_port()
    cmd = [*WATUI, "init", "--json", "--timeout", "60", "--demo", "--demo-port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        state = wait_for_sim_state(port, lambda s: s.get("state") == "UNPAIRED" and s.get("qr"))
        time.sleep(1.0)  # let watui print the QR it saw
        sim_call(port, "/__sim/scan")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    result = json.loads(out)  # stdout carries only the final object
    assert result["success"] is True and result["needsQR"] is False
    assert qr_rows(err.decode()), "no QR on stderr"
    # A pipe gets no colours: the blocks are the dark modules, as a light terminal shows them.
    assert decode_ansi(err.decode(), LIGHT) == [state["qr"]]


def test_init_exits_3_when_the_qr_is_not_scanned_in_time(tmp_path: Path) -> None:
    cmd = [*WATUI, "init", "--json", "--timeout", "2", "--demo"]
    done = subprocess.run(cmd, cwd=tmp_path, env=env_for(tmp_path), capture_output=True, timeout=90)
    assert done.returncode == 3, done.stderr.decode()
    result = json.loads(done.stdout)
    assert result["needsQR"] is True and "not scanned within 2 s" in result["message"]


def test_init_rejects_a_bad_timeout_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*WATUI, "init", "--timeout", "-1"], cwd=tmp_path, env=env_for(tmp_path), capture_output=True, timeout=30
    )
    assert done.returncode == 2
    assert done.stderr.decode().count("\n") == 1 and "--timeout" in done.stderr.decode()


def test_watch_jsonl_reports_events_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    cmd = [*WATUI, "watch", "--jsonl", "--demo", "--demo-port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_sim_state(port, lambda s: s.get("state") == "UNPAIRED" and s.get("qr"))
        sim_call(port, "/__sim/scan")
        wait_for_sim_state(port, lambda s: s.get("state") == "CONNECTED")
        time.sleep(1.0)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    events = [json.loads(line) for line in out.decode().splitlines()]
    assert all("time" in e and "type" in e for e in events)
    states = [e["state"] for e in events if e["type"] == "state"]
    assert "UNPAIRED" in states and "CONNECTED" in states
    assert states[-1] == "UNLAUNCHED"  # the browser was closed on the way out
    assert any(e["type"] == "qr" and e["qr"] for e in events)
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_init_interrupted_closes_the_browser_and_keeps_the_session(tmp_path: Path, sig: signal.Signals) -> None:
    port = free_port()
    cmd = [*WATUI, "init", "--json", "--demo", "--demo-port", str(port)]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_sim_state(port, lambda s: s.get("state") == "UNPAIRED" and s.get("qr"))
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err.decode()
    assert "interrupted" in json.loads(out)["message"]
    profile = tmp_path / "state/watui/demo/session/session-whatsapp-automation-pro"
    assert (profile / "Default").is_dir()  # the profile is kept
    assert not os.path.lexists(profile / "SingletonLock")  # Chromium was closed, not killed
    marker = f"--user-data-dir={profile}"
    assert not [p for p in psutil_processes() if marker in p], "a browser was left running"
    assert "Traceback" not in err.decode()


def psutil_processes() -> list[str]:
    import psutil

    return [" ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])]


def test_watch_exits_1_when_watui_gives_up_so_a_supervisor_restarts_it(tmp_path: Path) -> None:
    # WhatsApp unreachable (nothing listens on the port): every attempt fails, smart-initialize ends FAILED.
    (tmp_path / "config.toml").write_text(
        '[session]\nsession_path = "sessions"\nmax_init_retries = 1\n'
        f'[whatsapp]\nurl = "http://127.0.0.1:{free_port()}/"\n'
    )
    done = subprocess.run(
        [*WATUI, "watch", "--jsonl", "--config", "config.toml"],
        cwd=tmp_path,
        env=env_for(tmp_path),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr.decode()
    events = [json.loads(line) for line in done.stdout.decode().splitlines()]
    failed = [e for e in events if e["type"] == "state" and e["state"] == "FAILED"]
    assert failed and "ERR_CONNECTION_REFUSED" in failed[0]["message"] and "2 attempts" in failed[0]["message"]
    assert any(e["type"] == "retry" for e in events)
    assert events[-1]["type"] == "state" and events[-1]["state"] == "UNLAUNCHED"


def test_a_session_linked_with_watui_init_comes_back_without_a_scan_after_the_profile_is_lost(tmp_path: Path) -> None:
    # The quick start: watui init, scan, watui backup; then the profile is lost and watui init runs again.
    key = tmp_path / "id.txt"
    assert subprocess.run([*WATUI, "keygen", str(key)], cwd=tmp_path, capture_output=True, timeout=60).returncode == 0
    (tmp_path / "config.toml").write_text(
        f'[session]\nclient_id = "bot"\n[snapshots]\nidentity = "{key}"\n[demo]\nstate_dir = "demo"\n'
    )
    port = free_port()
    init = [*WATUI, "init", "--json", "--timeout", "60", "--demo", "--demo-port", str(port)]
    proc = subprocess.Popen(init, cwd=tmp_path, env=env_for(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_sim_state(port, lambda s: s.get("state") == "UNPAIRED" and s.get("qr"))
        sim_call(port, "/__sim/scan")
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    session = tmp_path / "demo" / "session"
    record = json.loads((session / ".watui-bot.run.json").read_text())
    assert record["connected"] is True and record["account"] == "15550001234:1@c.us", record
    backup = subprocess.run([*WATUI, "backup", "--demo", "--json"], cwd=tmp_path, env=env_for(tmp_path),
                            capture_output=True, timeout=60)  # fmt: skip
    assert backup.returncode == 0, backup.stderr.decode()

    shutil.rmtree(session / "session-bot")  # the profile is lost
    init = [*WATUI, "init", "--json", "--timeout", "10", "--demo", "--demo-port", str(port)]
    again = subprocess.run(init, cwd=tmp_path, env=env_for(tmp_path), capture_output=True, timeout=120)
    result = json.loads(again.stdout)
    assert again.returncode == 0 and result["success"] is True and result["needsQR"] is False, result
    assert "restored snapshot" in result["message"]
    assert not qr_rows(again.stderr.decode()), "a QR was shown"
