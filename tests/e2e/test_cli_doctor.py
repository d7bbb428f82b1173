"""`watui doctor` as a user runs it: a real process, a real Chromium, the simulator in two page variants."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.support.watui_proc import WATUI

pytestmark = pytest.mark.browser


def run_doctor(tmp_path: Path, page: str, *extra: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    config.write_text(f'[demo]\nstate_dir = "./demo"\npage = "{page}"\n[session]\nsession_timeout_ms = 6000\n')
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "xdg")}
    return subprocess.run([*WATUI, "--config", str(config), "doctor", "--demo", *extra],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)  # fmt: skip


def test_doctor_on_todays_page_names_the_modules_channel_and_exits_0(tmp_path: Path) -> None:
    result = run_doctor(tmp_path, "modules", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["recognised"] and report["detection"] == "modules" and report["state"] == "UNPAIRED"
    assert report["channels"]["modules"].startswith("recognises the page")
    probes = {(p["channel"], p["probe"]): p for p in report["probes"]}
    assert probes[("modules", "require('WAWebSocketModel')")]["matched"]
    assert probes[("modules", "window.Debug.VERSION")]["value"]
    assert not probes[("dom", "connected")]["matched"]


def test_doctor_on_an_unknown_page_says_so_keeps_evidence_and_exits_1(tmp_path: Path) -> None:
    result = run_doctor(tmp_path, "unknown")
    assert result.returncode == 1, result.stderr
    assert "NOT recognised by any channel" in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["channel", "probe", "matched", "value"]
    assert any(line.startswith("dom") and " no " in line for line in lines)
    folder = Path(next(line for line in lines if line.startswith("evidence: ")).split(": ", 1)[1])
    assert folder.parent.name == "diagnostics"
    with Image.open(folder / "screenshot.png") as picture:
        assert picture.width > 100


def test_doctor_usage_mistake_exits_2(tmp_path: Path) -> None:
    result = subprocess.run([*WATUI, "doctor", "--jsn"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_doctor_on_a_session_held_without_a_socket_says_so_in_json_with_its_own_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from watui.cli import main, reach
    from watui.config import load_config
    from watui.core.disk.store import SessionStore

    monkeypatch.setattr(reach, "OWNER_STARTUP_WAIT_S", 0.5)
    config = tmp_path / "config.toml"
    config.write_text('[session]\nsession_path = "s"\n')
    with SessionStore(load_config(config)).acquire_owner():  # an owner that serves no socket
        code = main(["doctor", "--json", "--config", str(config)])
    out, err = capsys.readouterr()
    assert code == 4, err
    answer = json.loads(out)
    assert answer["recognised"] is None and f"in use by watui (pid {os.getpid()})" in answer["error"]
    assert err.startswith("watui doctor: ") and len(err.splitlines()) == 1 and "Traceback" not in err
