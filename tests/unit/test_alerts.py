"""Alert rules (fake clock) and their delivery to real receivers: an HTTP server on 127.0.0.1, a real
script, Apprise's json:// to the same receiver, and the ``watui alerts test`` command."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import socket
import sqlite3
import stat
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.alert_receiver import receiver
from tests.support.alert_rules import Clock, names, rules, state
from watui.cli import main
from watui.config import AlertSettings, ConfigError, WebhookSettings, load_config
from watui.core.events import Event
from watui.core.journal.alerts import Alert, AlertRules
from watui.core.journal.channels import (
    HOST_SCHEMES,
    AppriseChannel,
    CommandChannel,
    Dispatcher,
    WebhookChannel,
    _redact,
    channels_for,
)
from watui.core.journal.journal import load_alert_memory, save_alert_memory
from watui.core.models import PROBLEM_NO_LOGIN, PROBLEM_TOO_LARGE, BrowserProcess, DiskReport, SessionInfo
from watui.core.models import (
    ConnectionState as S,
)


def test_logout_after_connected_fires_qr_needed_once_and_resolves_after_the_scan() -> None:
    r, clock = rules(down_after_s=60)
    assert state(r, S.OPENING) == []
    assert state(r, S.CONNECTED) == []
    fired = state(r, S.UNPAIRED)
    assert names(fired) == [("qr_needed", "firing")]
    assert fired[0].session == "bot" and fired[0].state == "UNPAIRED" and "logged out" in fired[0].message
    clock.t += 600  # waiting for the scan long past down_after_s: no second alert for the same stretch
    assert r.tick(SessionInfo(state=S.UNPAIRED)) == []
    assert state(r, S.UNPAIRED_IDLE) == []
    assert names(state(r, S.CONNECTED)) == [("qr_needed", "resolved")]


def test_the_first_qr_of_a_session_that_never_logged_in_is_not_an_alert() -> None:
    r, _ = rules()
    fresh = DiskReport(Path("/s"), exists=True, is_valid=False, validation_details="", problems=(PROBLEM_NO_LOGIN,))
    assert state(r, S.UNPAIRED, disk=fresh) == []
    expired = replace(fresh, problems=())  # a login on disk, yet WhatsApp asks for a QR: it expired
    r2, _ = rules()
    assert names(state(r2, S.UNPAIRED, disk=expired)) == [("qr_needed", "firing")]


def test_disconnected_fires_after_down_after_s_then_resolves_once() -> None:
    r, clock = rules(down_after_s=60)
    state(r, S.CONNECTED)
    assert state(r, S.TIMEOUT) == []
    clock.t += 30
    assert state(r, S.RECONNECTING) == []
    clock.t += 31
    fired = r.tick(SessionInfo(state=S.RECONNECTING, message="restarting the browser"))
    assert names(fired) == [("disconnected", "firing")]
    assert "61 s" in fired[0].message
    clock.t += 100
    assert r.tick(SessionInfo(state=S.RECONNECTING)) == []
    assert names(state(r, S.CONNECTED)) == [("disconnected", "resolved")]


def test_a_short_drop_is_not_an_alert() -> None:
    r, clock = rules(down_after_s=60)
    state(r, S.CONNECTED)
    state(r, S.TIMEOUT)
    clock.t += 20
    assert state(r, S.CONNECTED) == []
    clock.t += 120
    assert r.tick(SessionInfo(state=S.CONNECTED)) == []


def test_ten_drops_in_a_minute_send_at_most_two_messages() -> None:
    r, clock = rules(down_after_s=60, max_restarts_per_hour=5)
    sent = state(r, S.CONNECTED)
    for _ in range(10):
        clock.t += 3
        sent += state(r, S.TIMEOUT)
        clock.t += 3
        sent += state(r, S.CONNECTED)
    assert names(sent) == [("restarts", "firing")]
    assert "6 times" in sent[0].message
    clock.t += 3700  # the hour slides past the drops
    sent += r.tick(SessionInfo(state=S.CONNECTED))
    assert names(sent) == [("restarts", "firing"), ("restarts", "resolved")]


def test_the_same_rule_stays_quiet_within_repeat_every_s() -> None:
    r, clock = rules(repeat_every_s=3600)
    state(r, S.CONNECTED)
    assert names(state(r, S.FAILED, "gave up")) == [("failed", "firing")]
    assert names(state(r, S.CONNECTED)) == [("failed", "resolved")]
    clock.t += 600
    assert state(r, S.FAILED, "gave up again") == []  # flapping: neither firing...
    assert state(r, S.CONNECTED) == []  # ...nor resolved
    clock.t += 3600
    assert names(state(r, S.FAILED, "down for real")) == [("failed", "firing")]


def test_memory_and_too_large_fire_and_resolve_with_the_figures() -> None:
    r, _ = rules(memory_mb=100)
    mb = 1024 * 1024
    big = SessionInfo(state=S.CONNECTED, browser=BrowserProcess(pid=1, rss_bytes=150 * mb, cpu_percent=1.0))
    fired = r.on_event(Event("health", big))
    assert names(fired) == [("memory", "firing")] and "150 MB" in fired[0].message
    hovering = replace(big, browser=BrowserProcess(pid=1, rss_bytes=95 * mb, cpu_percent=1.0))
    assert r.on_event(Event("health", hovering)) == []  # under the limit, above 90 %: still the same alert
    low = replace(big, browser=BrowserProcess(pid=1, rss_bytes=50 * mb, cpu_percent=1.0))
    assert names(r.on_event(Event("health", low))) == [("memory", "resolved")]
    disk = DiskReport(Path("/s"), True, False, "Session too large (250 MB > 200 MB)", problems=(PROBLEM_TOO_LARGE,))
    fired = r.on_event(Event("disk", SessionInfo(state=S.CONNECTED, disk=disk)))
    assert names(fired) == [("too_large", "firing")] and "250 MB" in fired[0].message


def _restarted(first: AlertRules, clock: Clock, journal: Path, **settings: float) -> AlertRules:
    """``first``'s memory kept in a real journal file, and a new run's rules that read it back."""
    save_alert_memory(journal, first.memory())
    memory = load_alert_memory(journal)
    assert memory is not None
    again = AlertRules(AlertSettings(**settings), "bot", clock)  # type: ignore[arg-type]
    again.restore(memory)
    return again


def test_a_restart_repeats_no_alert_and_still_sends_the_resolve_owed(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    first, clock = rules(repeat_every_s=3600)
    state(first, S.CONNECTED)
    assert names(state(first, S.FAILED, "gave up")) == [("failed", "firing")]
    clock.t += 60  # systemd's Restart=on-failure: a new watui, the same failure
    second = _restarted(first, clock, journal, repeat_every_s=3600)
    assert state(second, S.OPENING) == [] and state(second, S.FAILED, "gave up again") == []
    assert names(state(second, S.CONNECTED)) == [("failed", "resolved")]  # the firing sent before is closed
    clock.t += 600
    third = _restarted(second, clock, journal, repeat_every_s=3600)
    assert state(third, S.FAILED, "flapping") == []  # within repeat_every_s of the last alert: quiet
    clock.t += 3600
    fourth = _restarted(third, clock, journal, repeat_every_s=3600)
    assert names(state(fourth, S.FAILED, "down for real")) == [("failed", "firing")]  # past it: said again


def test_the_drops_of_the_last_hour_outlive_a_restart(tmp_path: Path) -> None:
    first, clock = rules(max_restarts_per_hour=5)
    sent = state(first, S.CONNECTED)
    for _ in range(6):
        clock.t += 3
        sent += state(first, S.TIMEOUT) + state(first, S.CONNECTED)
    assert names(sent) == [("restarts", "firing")]
    second = _restarted(first, clock, tmp_path / "journal.sqlite", max_restarts_per_hour=5)
    assert second.tick(SessionInfo(state=S.CONNECTED)) == []  # still 6 drops in the hour: no false resolve
    clock.t += 3700
    assert names(second.tick(SessionInfo(state=S.CONNECTED))) == [("restarts", "resolved")]


def test_no_memory_or_a_journal_without_it_starts_afresh(tmp_path: Path) -> None:
    assert load_alert_memory(tmp_path / "none.sqlite") is None
    older = tmp_path / "older.sqlite"
    sqlite3.connect(older).close()  # a journal of a watui that kept no memory
    assert load_alert_memory(older) is None


async def test_a_restarted_owner_does_not_send_the_same_alert_again(tmp_path: Path) -> None:
    """The runtime every face uses, twice on the same session, with a real receiver: the session is too
    large both times; the receiver hears it once."""
    from watui.owner import session_runtime

    profile = tmp_path / "s" / "session-bot"
    profile.mkdir(parents=True, mode=0o700)
    (profile / "big.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    with receiver() as rec:
        config = tmp_path / "config.toml"
        config.write_text(
            '[session]\nsession_path = "s"\nclient_id = "bot"\nmax_session_size_mb = 1\n'
            f'[[alerts.webhook]]\nurl = "{rec.url}"\n'
        )
        for _run in range(2):
            async with session_runtime(load_config(config), face="watch") as rt:
                await rt.session.refresh_disk()  # the disk event the rules read
                await asyncio.sleep(0.3)
        await asyncio.to_thread(rec.wait_for, 2, 1.0)
        received = [(r.json["alert"], r.json["status"]) for r in rec.requests]
    assert received == [("too_large", "firing")]


# -- delivery -------------------------------------------------------------------------------------------


def alert(name: str = "qr_needed") -> Alert:
    return Alert(name, "firing", "bot", "UNPAIRED", "logged out: scan a new QR", 1_700_000_000.0)


def test_webhook_body_is_signed_with_the_secret() -> None:
    with receiver() as rec:
        result = WebhookChannel(WebhookSettings(url=rec.url, secret="s3cret")).send(alert())
        assert result.ok, result
        (got,) = rec.requests
    expected = "sha256=" + hmac.new(b"s3cret", got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-watui-signature"] == expected
    assert got.headers["x-watui-timestamp"].isdigit()
    assert got.headers["content-type"] == "application/json"
    body = got.json
    assert {k: body[k] for k in ("alert", "status", "session", "state", "message")} == {
        "alert": "qr_needed",
        "status": "firing",
        "session": "bot",
        "state": "UNPAIRED",
        "message": "logged out: scan a new QR",
    }
    assert body["time"] == "2023-11-14T22:13:20Z"


def test_a_receiver_answering_500_three_times_then_200_gets_it_delivered_once() -> None:
    with receiver([500, 500, 500, 200]) as rec:
        result = WebhookChannel(WebhookSettings(url=rec.url, secret="k"), wait_s=0.01).send(alert())
        statuses = [r.status for r in rec.requests]
    assert result.ok and result.detail == "HTTP 200"
    assert statuses == [500, 500, 500, 200]
    assert len({r.body for r in rec.requests}) == 1  # the same alert each time


def test_every_attempt_of_one_alert_carries_its_id_and_another_alert_another() -> None:
    with receiver([503, 429, 200]) as rec:
        first, second = alert(), alert()
        assert WebhookChannel(WebhookSettings(url=rec.url, secret="k"), wait_s=0.01).send(first).ok
        assert WebhookChannel(WebhookSettings(url=rec.url, secret="k"), wait_s=0.01).send(second).ok
        ids = [r.headers["x-watui-delivery"] for r in rec.requests]
        bodies = [r.json for r in rec.requests]
    assert ids == [first.id, first.id, first.id, second.id] and first.id != second.id
    assert [b["id"] for b in bodies] == ids  # in the signed body too


def test_a_refused_connection_is_retried_but_a_drop_after_sending_is_not() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        refused = WebhookChannel(WebhookSettings(url=f"http://127.0.0.1:{port}/x"), wait_s=0.01).send(alert())
    assert not refused.ok and not refused.unknown and refused.detail.endswith("(5 attempts)")
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        seen: list[bytes] = []

        def drop_after_reading() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                seen.append(conn.recv(65536))
                conn.close()  # read the request, closed without an answer

        threading.Thread(target=drop_after_reading, daemon=True).start()
        url = f"http://127.0.0.1:{server.getsockname()[1]}/x"
        dropped = WebhookChannel(WebhookSettings(url=url), wait_s=0.01).send(alert())
        time.sleep(0.3)
    assert dropped.unknown and "RemoteDisconnected" in dropped.detail
    assert len(seen) == 1


def test_a_url_refused_before_sending_is_a_failure_that_names_no_part_of_it() -> None:
    for url in ("http://127.0.0.1:1/a b?token=SECRET", "http://bad host/SECRET", "http://127.0.0.1:1/\x01SECRET"):
        result = WebhookChannel(WebhookSettings(url=url), wait_s=0.01).send(alert())
        assert not result.ok and not result.unknown, (url, result)
        assert result.detail == "not a URL it can send to: check [[alerts.webhook]] url"
        assert "SECRET" not in result.channel + result.detail


def test_the_webhook_timeout_is_configured_and_checked(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[alerts]\nwebhook_timeout_s = 42\n[[alerts.webhook]]\nurl = "http://127.0.0.1:9/x"\n')
    (channel,) = channels_for(load_config(config).alerts)
    assert channel.timeout_s == 42  # type: ignore[attr-defined]
    config.write_text("[alerts]\nwebhook_timeout_s = 0\n")
    with pytest.raises(ConfigError, match="webhook_timeout_s"):
        load_config(config)


def test_a_4xx_is_not_retried_and_a_dead_port_is_reported() -> None:
    with receiver([400]) as rec:
        result = WebhookChannel(WebhookSettings(url=rec.url), wait_s=0.01).send(alert())
        assert len(rec.requests) == 1
    assert not result.ok and "HTTP 400" in result.detail
    port = rec.port  # closed now
    dead = WebhookChannel(WebhookSettings(url=f"http://127.0.0.1:{port}/x"), wait_s=0.01).send(alert())
    assert not dead.ok and "refused" in dead.detail.lower()


async def test_a_receiver_that_never_answers_leaves_the_loop_and_its_threads_free() -> None:
    with receiver() as rec:
        rec.hang.set()
        channel = WebhookChannel(WebhookSettings(url=rec.url), timeout_s=0.5, wait_s=0.01)
        dispatcher = Dispatcher([channel])
        delivered: list[list[object]] = []
        dispatcher.on_delivered = lambda _a, results: delivered.append(list(results))
        dispatcher.submit(alert())
        assert rec.hung == 0  # submit returned at once: nothing was sent from the event loop itself
        # While the receiver hangs, the loop and the default executor (the core's disk work) still run.
        assert await asyncio.wait_for(asyncio.to_thread(lambda: 42), 5) == 42
        await asyncio.sleep(0.1)
        assert delivered == []
        await dispatcher.drain(30)
        await asyncio.sleep(1.0)  # time for a resend, were there one
        assert rec.hung == 1  # sent once: it may have arrived, so it is never sent again
    (results,) = delivered
    (result,) = results
    assert not result.ok and result.unknown  # type: ignore[attr-defined]
    assert result.detail == "no answer within 0.5 s: delivery unknown (sent once, not resent)"  # type: ignore[attr-defined]


def test_command_gets_the_alert_on_stdin_and_in_watui_alert_variables(tmp_path: Path) -> None:
    script = tmp_path / "notify.sh"
    script.write_text(f"#!/bin/sh\ncat > {tmp_path}/stdin.json\nenv | grep ^WATUI_ALERT_ | sort > {tmp_path}/env.txt\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    result = CommandChannel((str(script),), timeout_s=10).send(alert())
    assert result.ok, result
    assert json.loads((tmp_path / "stdin.json").read_text())["alert"] == "qr_needed"
    env = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines())
    assert env["WATUI_ALERT_ALERT"] == "qr_needed"
    assert env["WATUI_ALERT_STATUS"] == "firing"
    assert env["WATUI_ALERT_MESSAGE"] == "logged out: scan a new QR"


def test_a_failing_or_hanging_command_is_reported_not_raised(tmp_path: Path) -> None:
    fails = CommandChannel(("sh", "-c", "echo 'no route to pager' >&2; exit 3"), timeout_s=10).send(alert())
    assert not fails.ok and fails.detail == "exit 3: no route to pager"
    hangs = CommandChannel(("sleep", "30"), timeout_s=0.3).send(alert())
    assert not hangs.ok and "did not finish within 0.3 s" in hangs.detail
    missing = CommandChannel((str(tmp_path / "nope"),), timeout_s=1).send(alert())
    assert not missing.ok and "cannot run" in missing.detail


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def _spawner(tmp_path: Path) -> tuple[tuple[str, ...], Path]:
    """A command whose shell starts a child (``sleep 1000``), writes its pid, and waits for it."""
    pids = tmp_path / "child.pid"
    return ("sh", "-c", f"sleep 1000 & echo $! > {pids}; wait"), pids


def _child_of(pids: Path) -> int:
    deadline = time.monotonic() + 10
    while not (pids.exists() and pids.read_text().strip()):
        assert time.monotonic() < deadline, "the command never started its child"
        time.sleep(0.05)
    return int(pids.read_text())


def test_a_command_that_times_out_is_killed_with_everything_it_started(tmp_path: Path) -> None:
    argv, pids = _spawner(tmp_path)
    result = CommandChannel(argv, timeout_s=1).send(alert())
    assert not result.ok and "did not finish within 1 s (killed)" in result.detail
    child = _child_of(pids)
    deadline = time.monotonic() + 5  # SIGKILL is sent before send() returns; the reaping may lag
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's child outlived its timeout"


async def test_a_command_still_running_at_shutdown_is_killed_with_its_children(tmp_path: Path) -> None:
    argv, pids = _spawner(tmp_path)
    channel = CommandChannel(argv, timeout_s=600)
    dispatcher = Dispatcher([channel])
    delivered: list[list[Any]] = []
    dispatcher.on_delivered = lambda _alert, results: delivered.append(results)
    dispatcher.submit(alert())
    child = await asyncio.to_thread(_child_of, pids)
    await dispatcher.drain(0.2)  # what Watchers.close does when watui stops
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert not _alive(child), "the command's child outlived watui"
    while not delivered and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert [(r.ok, r.detail) for r in delivered[0]] == [(False, "killed: watui stopped")]
    assert channel.send(alert()).detail == "not run: watui is stopping"


def test_apprise_json_url_reaches_the_receiver() -> None:
    with receiver() as rec:
        result = AppriseChannel(f"json://127.0.0.1:{rec.port}/hook").send(alert())
        assert result.ok, result
        (got,) = rec.requests
    body = got.json
    assert "qr_needed firing" in body["title"]
    assert body["message"] == "logged out: scan a new QR"


def test_alerts_test_command_says_which_channel_worked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with receiver() as rec:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[alerts]\ncommand = ["sh", "-c", "exit 4"]\napprise = ["json://127.0.0.1:{rec.port}/a"]\n'
            f'[[alerts.webhook]]\nurl = "{rec.url}"\nsecret = "k"\n'
        )
        code = main(["alerts", "test", "--config", str(config)])
        out = capsys.readouterr().out
        bodies = [r.json for r in rec.requests]
    assert code == 1
    assert f"✓ webhook http://127.0.0.1:{rec.port}/…: HTTP 200" in out
    assert "✗ command sh: exit 4" in out
    assert f"✓ apprise json://127.0.0.1:{rec.port}/…: sent" in out
    assert any(b.get("alert") == "test" and b.get("test") is True for b in bodies)


def test_alerts_test_without_channels_says_what_to_set(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[alerts]\ndown_after_s = 30\n")
    assert main(["alerts", "test", "--config", str(config)]) == 1
    assert "no alert channel configured" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[alerts]\ndown_after = 3\n", "unknown key 'alerts.down_after'"),
        ('[alerts]\ncommand = "notify.sh"\n', "key 'alerts.command' must be a list of strings"),
        ("[alerts]\nrepeat_every_s = -1\n", "key 'alerts.repeat_every_s' must be between"),
        ("[history]\nkeep_days = 'x'\n", "key 'history.keep_days' must be a whole number"),
        ('[[alerts.webhook]]\nurl = "hooks.example"\n', "key 'alerts.webhook'[0]: key 'url' must be an http"),
        ('[[alerts.webhook]]\nurl = "https://h"\ntoken = "t"\n', "[0]: unknown key 'token'"),
    ],
)
def test_alert_and_history_config_mistakes_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(config, environ={})
    assert named in str(err.value)
    assert str(config) in str(err.value)


def test_watch_prints_an_alert_with_its_rule_and_status() -> None:
    from watui.cli.live import _event_line

    data = {"alert": "qr_needed", "status": "firing", "session": "bot", "state": "UNPAIRED"}
    ev = Event("alert", SessionInfo(state=S.UNPAIRED), message="logged out: scan a new QR", data=data)
    assert _event_line(ev, False).endswith(" ⚑ qr_needed firing — logged out: scan a new QR\n")
    line = json.loads(_event_line(ev, True))
    assert {k: line[k] for k in ("type", "alert", "status", "state", "message")} == {
        "type": "alert",
        "alert": "qr_needed",
        "status": "firing",
        "state": "UNPAIRED",
        "message": "logged out: scan a new QR",
    }


def test_an_unrecognised_page_fires_once_naming_the_evidence_and_resolves_when_connected() -> None:
    r, _ = rules()
    info = SessionInfo(state=S.UNRECOGNISED)
    event = Event("unrecognised", info, message="WhatsApp Web was not recognised", data={"evidence": "/s/diag/1"})
    fired = r.on_event(event)
    assert names(fired) == [("unrecognised", "firing")] and "/s/diag/1" in fired[0].message
    assert r.on_event(event) == []  # the same page again: no second alert
    assert names(state(r, S.CONNECTED)) == [("unrecognised", "resolved")]


# -- channel names never carry a secret --------------------------------------------------------------
def _apprise_services() -> list[tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]]:
    """Every service of the installed Apprise: its schemes, URL templates and tokens."""
    apprise = pytest.importorskip("apprise")
    out = []
    for service in apprise.Apprise().details()["schemas"]:
        schemes = (service.get("protocols") or ()) + (service.get("secure_protocols") or ())
        out.append((tuple(schemes), tuple(service["details"]["templates"]), service["details"]["tokens"]))
    return out


def _host_position(template: str) -> str:
    """What a URL template puts where a URL's host goes: ``{host}``, ``{bot_token}``, ..."""
    netloc = re.split(r"/|\{path\}", template.split("://", 1)[1], maxsplit=1)[0]
    return re.sub(r":\{port\}$", "", netloc.rsplit("@", 1)[-1])


def test_no_channel_name_shows_a_token_for_any_apprise_scheme() -> None:
    """Each URL template of each Apprise service, every field filled with a secret but the host and port,
    plus a query and a fragment: the channel's name keeps the host (where the host is one) and no secret."""
    services = _apprise_services()
    assert len(services) > 100
    for schemes, templates, tokens in services:
        hosty = all(_host_position(t) == "{host}" for t in templates) and not tokens.get("host", {}).get("private")
        for scheme in schemes:
            assert (scheme in HOST_SCHEMES) == hosty, scheme  # watui's table agrees with Apprise's
            for template in templates:
                fields = set(re.findall(r"\{(\w+)\}", template)) - {"schema"}
                values = {name: f"secret{name}X" for name in fields} | {"host": "relay.example", "port": "8443"}
                values["path"] = "/secretpath/"  # a template's {path} brings its own slashes
                url = template.replace("{schema}", scheme).format(**values) + "?token=secretQ#secretF"
                name = _redact(url)
                assert "secret" not in name, (url, name)
                if hosty:
                    port = ":8443" if "{port}" in template else ""
                    assert name == f"{scheme}://relay.example{port}/…", (url, name)
                else:
                    assert name == f"{scheme}://…", (url, name)


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("http://127.0.0.1:47109?token=SECRET", "http://127.0.0.1:47109/…"),
        ("https://user:SECRET@hooks.example.com/services/SECRET#SECRET", "https://hooks.example.com/…"),
        ("https://hooks.example.com", "https://hooks.example.com"),
        ("http://[::1]:8080/SECRET", "http://[::1]:8080/…"),
        ("tgram://123456789:AAHSECRET/987654321", "tgram://…"),
        ("discord://1234/SECRET", "discord://…"),
        ("ntfys://SECRETTOPIC", "ntfys://…"),
        ("mailtos://me:SECRET@mail.example.com?to=ops@example.com", "mailtos://mail.example.com/…"),
        ("http://host.example:99999/SECRET", "http://…"),  # not a port: nothing of it is shown
        ("SECRET-not-a-url", "(not a URL)"),
    ],
)
def test_a_channel_is_named_by_its_scheme_and_host_only(url: str, name: str) -> None:
    assert _redact(url) == name


def test_alerts_test_prints_no_token_of_a_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What `watui alerts test` prints (and an `error` event, stderr and the journal carry: the same name)."""
    with receiver() as rec:
        config = tmp_path / "config.toml"
        config.write_text(
            f'[alerts]\napprise = ["json://ops:SECRET1@127.0.0.1:{rec.port}/a?x=SECRET2"]\n'
            f'[[alerts.webhook]]\nurl = "http://127.0.0.1:{rec.port}?token=SECRET3"\n'
        )
        code = main(["alerts", "test", "--config", str(config)])
        out, err = capsys.readouterr()
        assert len(rec.requests) == 2  # both reached it, tokens and all
    assert code == 0
    assert f"✓ webhook http://127.0.0.1:{rec.port}/…: HTTP 200" in out
    assert f"✓ apprise json://127.0.0.1:{rec.port}/…: sent" in out
    assert "SECRET" not in out + err
