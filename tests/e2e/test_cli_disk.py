"""`watui info|clean|clear` as a user runs them: exit codes, the summary, the JSON, the refusals."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from watui.cli import main

if TYPE_CHECKING:
    from tests.support.layout import ConfigWriter, LockSetter, SessionLayout

pytestmark = pytest.mark.browser


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def info_json(capsys: pytest.CaptureFixture[str], layout: SessionLayout) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, "info", "--json", "--config", str(layout.config_path))
    return code, json.loads(out)


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_info_on_a_valid_session(session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--config", str(session_layout.config_path), "info")
    assert code == 0, out + err
    lines = dict(line.split(":", 1) for line in out.splitlines() if line and not line.startswith(" "))
    assert lines["session"].strip() == str(session_layout.profile)
    assert lines["status"].strip().startswith("✔ valid: Session valid:")
    assert "files" in lines["size"] and "limit 200.0 MB" in lines["size"]
    assert lines["lock"].strip() == "none"
    assert "UNLAUNCHED" in lines["connection"]


def test_info_json_has_the_seed_shape_and_the_extras(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    (session_layout.profile / "Default" / "old.tmp").write_bytes(os.urandom(64 * 1024))
    code, data = info_json(capsys, session_layout)
    assert code == 0
    session = data["session"]
    assert session["exists"] is True and session["isValid"] is True
    assert session["path"] == str(session_layout.profile)
    assert session["sizeMB"] > 0 and session["validationDetails"].startswith("Session valid")
    assert session["lock"] == "none" and session["fileCount"] > 50
    assert session["reclaimableBytes"] >= 64 * 1024
    assert data["connection"]["state"] == "UNLAUNCHED" and data["connection"]["isConnected"] is False
    assert data["connection"]["health"]["reconnectAttempts"] == 0
    assert data["recommendations"] == {"shouldClearSession": False, "shouldReconnect": True, "needsQRScan": False}


def test_info_missing_session_exits_1_and_asks_for_a_qr(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(session_path="nothing-here")
    code, out, _ = run(capsys, "info", "--json", "--config", str(config))
    data = json.loads(out)
    assert code == 1
    assert data["session"]["exists"] is False and data["recommendations"]["needsQRScan"] is True
    assert not (tmp_path / "nothing-here").exists()  # info reads, it creates nothing


def test_info_names_the_live_process_holding_the_profile(
    session_layout: SessionLayout,
    sleeper: subprocess.Popen[bytes],
    set_lock: LockSetter,
    capsys: pytest.CaptureFixture[str],
) -> None:
    set_lock(session_layout.profile, sleeper.pid)
    code, data = info_json(capsys, session_layout)
    assert code == 1
    assert data["session"]["lock"] == {"pid": sleeper.pid, "name": "sleep"}
    assert f"sleep (pid {sleeper.pid})" in data["connection"]["message"]
    code, out, _ = run(capsys, "info", "--config", str(session_layout.config_path))
    assert f"stop sleep (pid {sleeper.pid}) first" in out


def test_info_damaged_session_recommends_a_clear(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    (session_layout.profile / "Default/Local Storage/leveldb/CURRENT").write_bytes(b"MANIFEST-00")
    code, data = info_json(capsys, session_layout)
    assert code == 1
    assert data["recommendations"]["shouldClearSession"] is True
    assert data["session"]["problems"] == ["corrupt"]
    code, out, _ = run(capsys, "info", "--config", str(session_layout.config_path))
    assert "run 'watui clear'" in out


def test_clean_json_reports_what_was_freed(session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]) -> None:
    (session_layout.profile / "Default" / "Cache" / "Cache_Data" / "blob").write_bytes(os.urandom(256 * 1024))
    code, out, _ = run(capsys, "clean", "--json", "--config", str(session_layout.config_path))
    assert code == 0
    data = json.loads(out)
    assert data["freedBytes"] >= 256 * 1024 and "Default/Cache" in data["removed"]
    code, out, _ = run(capsys, "clean", "--config", str(session_layout.config_path))
    assert code == 0 and out.startswith("freed:")


def test_clean_refuses_while_another_watui_owns_the_session(
    session_layout: SessionLayout,
    capsys: pytest.CaptureFixture[str],
    other_owner: subprocess.Popen[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This owner never answers on a control socket (an older watui): after the wait for one that is
    # starting up, the verbs are refused as before.
    monkeypatch.setattr("watui.cli.reach.OWNER_STARTUP_WAIT_S", 0.2)
    (session_layout.profile / "Default" / "x.tmp").write_bytes(b"x")
    for command in (["clean"], ["clear", "--yes"]):
        code, out, err = run(capsys, *command, "--config", str(session_layout.config_path))
        assert code == 1
        sock = session_layout.profile.parent / ".watui-testbot.sock"
        assert err.strip() == (
            f"watui: session {session_layout.profile} is in use by watui (pid {other_owner.pid}); "
            f"watui (pid {other_owner.pid}) runs but serves no control socket: no socket at {sock}"
        )
    assert (session_layout.profile / "Default" / "x.tmp").exists()


def test_clear_without_a_terminal_needs_yes(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))  # piped input is not a confirmation
    code, out, err = run(capsys, "clear", "--config", str(session_layout.config_path))
    assert code == 2
    assert "--yes" in err and len(err.strip().splitlines()) == 1
    assert session_layout.profile.is_dir()


def test_clear_asks_on_a_terminal(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", FakeTerminal("n\n"))
    code, _, err = run(capsys, "clear", "--config", str(session_layout.config_path))
    assert code == 1 and "[y/N]" in err and session_layout.profile.is_dir()
    monkeypatch.setattr(sys, "stdin", FakeTerminal("y\n"))
    code, out, _ = run(capsys, "clear", "--config", str(session_layout.config_path))
    assert code == 0 and not session_layout.profile.exists()
    assert "a QR scan is needed" in out
    assert len(list((session_layout.root / ".quarantine").iterdir())) == 1


def test_clear_yes_json_and_purge(session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "clear", "--yes", "--json", "--config", str(session_layout.config_path))
    data = json.loads(out)
    assert code == 0 and data["purged"] is False
    assert Path(data["movedTo"]).parent == session_layout.root / ".quarantine"
    assert (Path(data["movedTo"]) / "Local State").exists()
    code, out, _ = run(capsys, "clear", "--yes", "--json", "--config", str(session_layout.config_path))
    assert code == 0 and json.loads(out)["message"].startswith("nothing to clear")


def test_clean_refuses_a_dangerous_session_path(write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "clean", "--config", str(write_config(session_path="/")))
    assert code == 2 and out == ""
    assert err.startswith("watui: [session] session_path / is the filesystem root")
    assert len(err.strip().splitlines()) == 1


def test_a_disk_error_is_one_line_not_a_traceback(
    session_layout: SessionLayout, capsys: pytest.CaptureFixture[str]
) -> None:
    (session_layout.root / ".quarantine").write_text("a file where the quarantine folder should be")
    code, out, err = run(capsys, "clear", "--yes", "--config", str(session_layout.config_path))
    assert code == 1 and out == ""
    assert err.startswith("watui: clear: ") and len(err.strip().splitlines()) == 1
    assert session_layout.profile.is_dir()


def test_info_names_the_browser_a_start_would_launch(
    write_config: ConfigWriter, chromium_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = write_config(session_path="s", raw=f'[browser]\nexecutable = "{chromium_path}"\n')
    code, out, _ = run(capsys, "info", "--config", str(good))
    assert f"browser:     {chromium_path} (started on demand)" in out.splitlines()
    code, out, _ = run(capsys, "info", "--json", "--config", str(good))
    assert json.loads(out)["browserToLaunch"] == {"executable": str(chromium_path), "error": None}
    missing = write_config(session_path="s", raw='[browser]\nexecutable = "/nonexistent/chrome"\n')
    code, out, _ = run(capsys, "info", "--config", str(missing))
    expected = "browser:     none: [browser] executable '/nonexistent/chrome'"
    assert any(line.startswith(expected) for line in out.splitlines()), out
