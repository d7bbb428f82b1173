"""The journal on a real SQLite file: incidents, uptime, retention, kill -9, and ``watui history``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from watui.cli import main
from watui.config import Config, SessionSettings
from watui.core.events import Event
from watui.core.journal.history import History
from watui.core.journal.journal import Journal, history_path
from watui.core.journal.report import read_report
from watui.core.models import ConnectionState as S
from watui.core.models import SessionInfo

NOW = 1_800_000_000.0  # a fixed "now": every time below is relative to it


def journal(path: Path, rows: list[tuple[float, str, str | None, str]], samples: list[tuple[float, str]] = ()) -> None:  # type: ignore[assignment]
    j = Journal(path, keep_days=3650)
    j.open()
    for t, kind, state, message in rows:
        j.record(NOW + t, kind, state, message)
    for t, state in samples:
        j.sample(NOW + t, state, 50 * 1048576, 300 * 1048576, 2.0)
    j.close()


def report(path: Path, since_s: float = 86400.0, down_after_s: float = 60.0) -> dict:  # type: ignore[type-arg]
    return read_report(path, since_s=since_s, down_after_s=down_after_s, gap_s=60.0, now=NOW)


def test_a_drop_longer_than_down_after_s_is_an_incident_with_its_cause_and_uptime_counts_it(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal(
        path,
        [
            (-3600, "start", "UNLAUNCHED", "watui started"),
            (-3590, "state", "CONNECTED", "connected"),
            (-2000, "state", "TIMEOUT", "WhatsApp Web lost its connection; it is retrying"),
            (-1700, "state", "CONNECTED", "connected"),
            (-1000, "state", "TIMEOUT", "lost"),  # 20 s: shorter than down_after_s, not an incident
            (-980, "state", "CONNECTED", "connected"),
            (0, "stop", "CONNECTED", "watui stopped"),
        ],
    )
    out = report(path)
    (incident,) = out["incidents"]
    assert incident["durationS"] == 300.0
    assert incident["cause"] == "TIMEOUT: WhatsApp Web lost its connection; it is retrying"
    assert incident["resolved"] is True and incident["ongoing"] is False
    hour = out["uptime"]["1h"]
    assert hour["watchedS"] == 3600 and hour["upS"] == 3600 - 10 - 300 - 20
    assert out["uptime"]["7d"]["ratio"] == out["uptime"]["1h"]["ratio"]  # nothing watched before
    assert out["perDay"] == [{"date": "2027-01-15", "drops": 2, "retries": 0, "incidents": 1}]
    assert out["strip"]["text"].endswith("▒▒")  # the last hour: two 30-minute cells, both partly down
    assert set(out["strip"]["text"][:-2]) == {"·"}  # before: watui was not running


def test_a_kill_ends_the_run_at_its_last_sign_of_life_and_the_incident_with_it(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal(
        path,
        [
            (-7200, "start", "UNLAUNCHED", ""),
            (-7190, "state", "CONNECTED", ""),
            (-7000, "state", "RECONNECTING", "browser closed; restarting the browser"),
            (-7000, "error", "RECONNECTING", "browser closed unexpectedly"),
            # killed: no stop row; its last sample is at -6500. Started again an hour later:
            (-3000, "start", "UNLAUNCHED", ""),
            (-2995, "state", "CONNECTED", ""),
        ],
        samples=[(-6800, "RECONNECTING"), (-6500, "RECONNECTING"), (-60, "CONNECTED")],
    )
    out = report(path)
    (incident,) = out["incidents"]
    assert incident["cause"] == "browser closed unexpectedly"
    assert incident["durationS"] == 500.0  # -7000 to the last sample at -6500, not to the restart
    assert (incident["resolved"], incident["ongoing"]) == (False, False)
    day = out["uptime"]["24h"]
    assert day["watchedS"] == 700 + 3000  # the gap while watui was dead is not counted either way


def test_a_session_never_connected_has_no_incident_and_an_ongoing_one_is_marked(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal(path, [(-900, "start", "UNLAUNCHED", ""), (-890, "state", "UNPAIRED", "waiting for the QR")])
    assert report(path)["incidents"] == []
    journal(path, [(-500, "state", "CONNECTED", ""), (-200, "state", "UNPAIRED", "logged out")], [(-30, "UNPAIRED")])
    (incident,) = report(path)["incidents"]
    assert incident["ongoing"] is True and incident["durationS"] == 200.0


def test_rows_older_than_keep_days_are_removed_when_the_journal_opens(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    old = time.time() - 40 * 86400
    j = Journal(path, keep_days=365)
    j.open()
    j.record(old, "state", "CONNECTED", "old")
    j.record(time.time() - 86400, "state", "CONNECTED", "recent")
    j.sample(old, "CONNECTED", 1, 1, 0.0)
    j.close()
    j = Journal(path, keep_days=30)
    j.open()
    j.close()
    with sqlite3.connect(path) as conn:
        assert [m for (m,) in conn.execute("SELECT message FROM events")] == ["recent"]
        assert conn.execute("SELECT COUNT(*) FROM samples").fetchone() == (0,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def config_for(tmp_path: Path) -> Config:
    return Config(session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"), base_dir=tmp_path)


async def test_the_live_service_journals_events_and_samples_and_the_stop(tmp_path: Path) -> None:
    config = config_for(tmp_path)
    info = SessionInfo(state=S.CONNECTED)
    clock = [NOW]
    history = History(config, lambda: info, clock=lambda: clock[0])
    await history.start()
    for dt, state, message in ((1, S.CONNECTED, "connected"), (2, S.TIMEOUT, "lost"), (200, S.CONNECTED, "")):
        stamp = datetime.fromtimestamp(NOW + dt, UTC)
        history.on_event(Event("state", SessionInfo(state=state), message=message, state=state, time=stamp))
    history.on_event(Event("health", info))  # not journaled: samples cover it
    clock[0] = NOW + 250
    await history.close()
    assert history.path == tmp_path / "s" / ".watui-bot.history.sqlite"
    with sqlite3.connect(history.path) as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY rowid")]
        assert kinds == ["start", "state", "state", "state", "stop"]
        assert [t for (t,) in conn.execute("SELECT t FROM samples ORDER BY t")] == [NOW, NOW + 250]
    out = read_report(history.path, since_s=3600, down_after_s=60, gap_s=60, now=NOW + 300)
    assert [i["durationS"] for i in out["incidents"]] == [198.0]
    assert out["uptime"]["1h"] == {"ratio": round(52 / 250, 5), "upS": 2 + 50, "watchedS": 250}


CHILD = """
import asyncio, sys, time
from pathlib import Path
from watui.config import Config, SessionSettings
from watui.core.journal.history import History
from watui.core.models import ConnectionState as S, SessionInfo
from watui.core.events import Event
from datetime import UTC, datetime

async def main() -> None:
    t0 = float(sys.argv[2])
    clock = [t0]
    config = Config(session=SessionSettings(session_path=sys.argv[1], client_id="bot"), base_dir=Path("/"))
    history = History(config, lambda: SessionInfo(state=S.RECONNECTING), clock=lambda: clock[0])
    await history.start()
    for dt, state, message in ((5, S.CONNECTED, "connected"), (100, S.RECONNECTING, "browser crashed")):
        stamp = datetime.fromtimestamp(t0 + dt, UTC)
        history.on_event(Event("state", SessionInfo(state=state), message=message, state=state, time=stamp))
    clock[0] = t0 + 400
    history.sample_now()
    await asyncio.to_thread(history.journal.flush)
    print("written", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


def test_the_incident_survives_a_kill_9_and_watui_history_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    t0 = time.time() - 3600
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    child = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "s"), str(t0)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "written"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    (tmp_path / "config.toml").write_text('[session]\nsession_path = "s"\nclient_id = "bot"\n')
    config = str(tmp_path / "config.toml")
    assert main(["history", "--json", "--since", "7d", "--config", config]) == 0
    out = json.loads(capsys.readouterr().out)
    (incident,) = out["incidents"]
    assert incident["durationS"] == 300.0 and incident["cause"] == "RECONNECTING: browser crashed"
    assert (incident["resolved"], incident["ongoing"]) == (False, False)
    assert main(["history", "--since", "7d", "--config", config]) == 0
    text = capsys.readouterr().out
    assert "Incidents: 1" in text
    assert "5 min 00 s  watui stopped" in text and "RECONNECTING: browser crashed" in text


def test_watui_history_without_a_journal_says_where_it_will_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text('[session]\nsession_path = "s"\n')
    assert main(["history", "--config", str(tmp_path / "config.toml")]) == 0
    assert "No history yet" in capsys.readouterr().out
    assert main(["history", "--since", "yesterday", "--config", str(tmp_path / "config.toml")]) == 2
    assert "--since must be a duration" in capsys.readouterr().err


def test_a_file_that_is_not_a_journal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s")), base_dir=tmp_path)
    path = history_path(config)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not sqlite at all" * 100)
    (tmp_path / "config.toml").write_text('[session]\nsession_path = "s"\n')
    assert main(["history", "--config", str(tmp_path / "config.toml")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"watui: {path}: cannot read the history") and err.count("\n") == 1


def test_a_run_longer_than_keep_days_still_counts_after_its_start_row_was_pruned(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal(
        path,
        [(-3000, "state", "TIMEOUT", "lost"), (-2700, "state", "CONNECTED", "")],
        samples=[(-3600, "CONNECTED"), (-3000, "TIMEOUT"), (-60, "CONNECTED")],
    )
    out = report(path)
    assert out["uptime"]["1h"] == {"ratio": round(3300 / 3600, 5), "upS": 3300, "watchedS": 3600}
    (incident,) = out["incidents"]
    assert incident["durationS"] == 300.0 and incident["cause"] == "TIMEOUT: lost"


def _rot(path: Path, sql: str) -> None:
    """Damage rows the way bit rot does: SQLite's pages stay sound, the values in them do not."""
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql)
    conn.close()


def test_unreadable_rows_are_skipped_and_counted_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "config.toml").write_text('[session]\nsession_path = "s"\nclient_id = "bot"\n')
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"), base_dir=tmp_path)
    path = history_path(config)
    path.parent.mkdir(parents=True)
    now = time.time()
    j = Journal(path, keep_days=3650)
    j.open()
    j.record(now - 3000, "start", "UNLAUNCHED", "watui started")
    j.record(now - 2990, "state", "CONNECTED", "connected")
    j.record(now - 2000, "state", "TIMEOUT", "lost", {"why": "network"})
    j.record(now - 1700, "state", "CONNECTED", "connected")
    j.record(now - 1600, "alert", "CONNECTED", "fired", {"alert": "qr_needed", "status": "firing"})
    j.sample(now - 1500, "CONNECTED", 50 * 1048576, 300 * 1048576, 2.0)
    j.close()
    _rot(path, "UPDATE events SET data = '{\"why\": \"netw' WHERE kind = 'state' AND state = 'TIMEOUT'")
    _rot(path, "UPDATE events SET message = CAST(x'ff00fe' AS TEXT) WHERE kind = 'alert'")
    _rot(path, "UPDATE samples SET size_bytes = 'fifty'")
    cfg = str(tmp_path / "config.toml")

    assert main(["history", "--json", "--since", "7d", "--config", cfg]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["skippedRows"] == 3
    # What could be read still counts: connected from -2990 to the last readable row, at -1700.
    assert out["uptime"]["1h"]["upS"] == 1290 and out["uptime"]["1h"]["watchedS"] == 1300
    assert main(["history", "--since", "7d", "--config", cfg]) == 0
    captured = capsys.readouterr()
    assert "Skipped 3 unreadable row(s) of the journal" in captured.out and "Traceback" not in captured.err


@pytest.mark.parametrize("since", ["99999999d", "inf", "1e309s", "nan", "-5m", "0"])
def test_an_impossible_since_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], since: str
) -> None:
    (tmp_path / "config.toml").write_text('[session]\nsession_path = "s"\n')
    journal(tmp_path / "s" / ".watui-whatsapp-automation-pro.history.sqlite", [(-60, "start", "UNLAUNCHED", "")])
    assert main(["history", f"--since={since}", "--config", str(tmp_path / "config.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--since must be a duration" in err and repr(since) in err


def _messages(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        return [m for (m,) in conn.execute("SELECT message FROM events ORDER BY t")]


def test_a_journal_deleted_while_watui_runs_is_written_again_and_it_says_so(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    errors: list[str] = []
    j = Journal(path)
    j.on_error = errors.append
    j.open()
    try:
        j.record(time.time() - 60, "start", "UNLAUNCHED", "before")
        assert j.flush()
        path.unlink()  # `rm` of the journal while watch runs (its -wal and -shm stay)
        j.record(time.time() - 30, "state", "CONNECTED", "after")
        assert j.flush()
    finally:
        j.close()
    assert _messages(path) == ["after"]  # in the file at its path, where watui history reads
    (error,) = errors
    assert str(path) in error and "deleted" in error


HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
"""


def test_a_journal_locked_when_watui_starts_keeps_its_rows_and_writes_them_once_free(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    errors: list[str] = []
    j = Journal(path)
    j.on_error = errors.append
    j.retry_s = j.open_timeout_s = 0.2
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        j.open()
        j.record(time.time() - 60, "start", "UNLAUNCHED", "while locked")
        j.flush()
        assert j.pending == 1 and j.error is not None and "locked" in j.error
        assert errors and str(path) in errors[0]
        holder.communicate("")  # the other program lets go of the file
        deadline = time.monotonic() + 10
        while j.pending and time.monotonic() < deadline:
            j.flush()
            time.sleep(0.05)
        j.record(time.time() - 30, "state", "CONNECTED", "after")
        j.flush()
        assert j.error is None
    finally:
        j.close()
        holder.kill()
        holder.wait()
    assert _messages(path) == ["while locked", "after"]


def test_rows_that_wait_too_long_are_bounded_and_their_loss_is_said(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    errors: list[str] = []
    j = Journal(path)
    j.on_error = errors.append
    j.max_pending = 5
    j.retry_s = j.open_timeout_s = 0.2
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        j.open()
        for i in range(8):
            j.record(float(i), "state", "CONNECTED", str(i))
        j.flush()
        assert (j.pending, j.dropped) == (5, 3)
        assert any("rows lost" in e for e in errors)
        holder.communicate("")
        deadline = time.monotonic() + 10
        while j.pending and time.monotonic() < deadline:
            j.flush()
            time.sleep(0.05)
    finally:
        j.close()
        holder.kill()
        holder.wait()
    assert _messages(path) == ["3", "4", "5", "6", "7"]  # the newest kept, the oldest lost


async def test_the_sampler_outlives_a_failing_read_and_a_failing_sample_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watui.config import HistorySettings
    from watui.core.journal import history as history_module

    config = Config(
        session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"),
        history=HistorySettings(sample_interval_s=0.05),  # type: ignore[arg-type]
        base_dir=tmp_path,
    )
    failures = {"read": 1, "sample": 1}
    real_read = history_module.read_report  # type: ignore[attr-defined]  # the name history.py calls

    def read_once_broken(*args: object, **kwargs: object) -> dict:  # type: ignore[type-arg]
        if failures["read"]:
            failures["read"] -= 1
            raise ValueError("a row the reader did not expect")
        return real_read(*args, **kwargs)  # type: ignore[arg-type]

    def snapshot() -> SessionInfo:
        if failures["sample"] and not failures["read"]:
            failures["sample"] -= 1
            raise RuntimeError("a snapshot that failed once")
        return SessionInfo(state=S.CONNECTED)

    monkeypatch.setattr(history_module, "read_report", read_once_broken)
    said: list[str] = []
    history = History(config, snapshot)
    history.on_error = said.append
    await history.start()
    try:
        for _ in range(200):
            if history.uptime and not failures["sample"]:
                break
            await asyncio.sleep(0.02)
        assert history.uptime, "the sampler stopped after a failure"
        assert any("reading it back failed: a row the reader did not expect" in m for m in said), said
        assert history.status()["error"] is None  # the next read worked
        with sqlite3.connect(history.path) as conn:
            before = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        await asyncio.sleep(0.3)
        await asyncio.to_thread(history.journal.flush)
        with sqlite3.connect(history.path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] > before  # still sampling
    finally:
        await history.close()


def test_a_journal_file_made_but_not_yet_written_reads_as_no_history(tmp_path: Path) -> None:
    # Another program (or a writer waiting on a lock) made the file but no table yet: the sampler and
    # `watui history` read it as "no history yet", not as an error that outlives the first write.
    path = tmp_path / "journal.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    report = read_report(path, since_s=3600, down_after_s=60, gap_s=60)
    assert report["skippedRows"] == 0 and report["incidents"] == []


def test_a_clean_stop_is_not_a_drop_but_a_drop_just_before_it_is(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal(
        path,
        [
            (-3600, "start", "UNLAUNCHED", "watui started"),
            (-3590, "state", "CONNECTED", "connected"),
            # q in the dashboard: the manager says UNLAUNCHED as it closes the browser, then the run stops.
            (-3000, "state", "UNLAUNCHED", "watui stopped; the session is kept on disk"),
            (-2999, "stop", "UNLAUNCHED", "watui stopped"),
            (-2000, "start", "UNLAUNCHED", "watui started"),
            (-1990, "state", "CONNECTED", "connected"),
            (-1000, "state", "TIMEOUT", "WhatsApp Web lost its connection"),  # a real drop, then a stop
            (-990, "state", "UNLAUNCHED", "watui stopped; the session is kept on disk"),
            (-989, "stop", "UNLAUNCHED", "watui stopped"),
        ],
    )
    assert report(path)["perDay"] == [{"date": "2027-01-15", "drops": 1, "retries": 0, "incidents": 0}]


def test_the_wait_for_the_first_scan_is_not_down_time_but_a_later_logout_is(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal(
        path,
        [
            (-3600, "start", "UNLAUNCHED", "watui started"),
            (-3595, "state", "UNPAIRED", "waiting for the QR to be scanned"),  # a new session: 20 min to scan
            (-2400, "state", "PAIRING", "QR scanned; loading chats"),
            (-2390, "state", "CONNECTED", "connected"),
            (-600, "state", "UNPAIRED", "logged out"),  # the phone removed it: down until scanned again
            (-300, "state", "CONNECTED", "connected"),
        ],
        samples=[(-60, "CONNECTED")],
    )
    hour = report(path)["uptime"]["1h"]
    assert hour == {"ratio": round(2090 / 2390, 5), "upS": 2090, "watchedS": 2390}
    # A start of a session already logged in is not setting up: its start-up counts as down.
    journal(tmp_path / "restart.sqlite", [(-600, "start", "UNLAUNCHED", ""), (-540, "state", "CONNECTED", "")],
            [(-30, "CONNECTED")])  # fmt: skip
    assert report(tmp_path / "restart.sqlite")["uptime"]["1h"]["watchedS"] == 600
