"""The messaging alert rules (outbox_stuck, webhook_backlog, silent), pure, on a fake clock, and the journal
service that feeds them the session's Traffic on its events (a FakeSession's scripted traffic)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.support.alert_rules import Clock, names, rules, state
from tests.support.fakes import FakeSession
from watui.config import AlertSettings, ConfigError, load_config
from watui.core.events import Event
from watui.core.journal.alerts import Alert, AlertRules
from watui.core.messages.port import Traffic
from watui.core.models import ConnectionState as S
from watui.core.models import SessionInfo


def traffic(r: AlertRules, clock: Clock, to: S = S.CONNECTED, **figures: Any) -> list[Alert]:
    return r.on_traffic(Traffic(at=clock.t, **figures), SessionInfo(state=to))


def tick(r: AlertRules, to: S = S.CONNECTED) -> list[Alert]:
    return r.tick(SessionInfo(state=to))


def ack(status: str, **times: float) -> Event:
    data: dict[str, Any] = {"id": "3EB0A", "direction": "out", "chat": "1@c.us", "status": status, "size": 2}
    return Event("ack", SessionInfo(state=S.CONNECTED), data={**data, **times})


# -- outbox_stuck -----------------------------------------------------------------------------------


def test_outbox_stuck_fires_after_n_seconds_while_connected_not_before_and_resolves_once() -> None:
    r, clock = rules(outbox_stuck_s=300)
    state(r, S.CONNECTED)
    accepted = clock.t
    assert traffic(r, clock, queued=1, oldest_pending_at=accepted) == []
    clock.t += 299
    assert tick(r) == []  # not before N s
    clock.t += 2
    fired = tick(r)
    assert names(fired) == [("outbox_stuck", "firing")]
    assert "1 message(s) waiting" in fired[0].message and "301 s" in fired[0].message
    clock.t += 600
    assert tick(r) == []  # fires once
    assert names(traffic(r, clock, queued=0)) == [("outbox_stuck", "resolved")]  # the outbox drained
    assert traffic(r, clock, queued=0) == []  # resolves once


def test_a_message_queued_while_down_counts_from_the_connection_not_from_its_acceptance() -> None:
    r, clock = rules(outbox_stuck_s=300, down_after_s=10_000)
    state(r, S.CONNECTED)
    state(r, S.TIMEOUT)
    accepted = clock.t
    assert traffic(r, clock, S.TIMEOUT, queued=3, oldest_pending_at=accepted) == []
    clock.t += 3600
    assert tick(r, S.TIMEOUT) == []  # not connected: not the outbox's fault
    state(r, S.CONNECTED)
    clock.t += 200
    assert tick(r) == []  # 200 s connected, not yet N
    clock.t += 101
    assert names(tick(r)) == [("outbox_stuck", "firing")]


def test_a_long_queue_that_flows_is_not_stuck() -> None:
    r, clock = rules(outbox_stuck_s=300)
    state(r, S.CONNECTED)
    accepted = clock.t
    traffic(r, clock, queued=500, oldest_pending_at=accepted)  # a burst: 500 accepted at once, paced out
    for _ in range(20):
        clock.t += 60
        assert r.on_event(ack("sent", acceptedAt=accepted, sentAt=clock.t)) == []
        assert traffic(r, clock, queued=400, oldest_pending_at=accepted) == []
    clock.t += 301  # then nothing goes
    assert names(tick(r)) == [("outbox_stuck", "firing")]


def test_outbox_stuck_keeps_its_status_away_from_connected_and_is_off_at_zero() -> None:
    r, clock = rules(outbox_stuck_s=60, down_after_s=10_000)
    state(r, S.CONNECTED)
    traffic(r, clock, sending=1, oldest_pending_at=clock.t)
    clock.t += 61
    assert names(tick(r)) == [("outbox_stuck", "firing")]
    assert state(r, S.TIMEOUT) == []  # neither resolved nor fired again: disconnected says the rest
    assert "outbox_stuck" in r.firing()
    off, clock = rules(outbox_stuck_s=0)
    state(off, S.CONNECTED)
    traffic(off, clock, queued=1, oldest_pending_at=clock.t - 86_400)
    assert tick(off) == []


# -- webhook_backlog --------------------------------------------------------------------------------


def test_webhook_backlog_fires_after_n_seconds_whatever_the_state_and_resolves_once() -> None:
    r, clock = rules(webhook_backlog_s=600)
    oldest = clock.t
    hook = {"webhook": True, "webhook_backlog": 4, "webhook_oldest_at": oldest, "webhook_error": "HTTP 503"}
    assert traffic(r, clock, S.TIMEOUT, **hook) == []
    clock.t += 600
    assert tick(r, S.TIMEOUT) == []  # not before N s
    clock.t += 1
    fired = tick(r, S.TIMEOUT)
    assert names(fired) == [("webhook_backlog", "firing")]
    assert "4 webhook delivery(ies) waiting" in fired[0].message and "HTTP 503" in fired[0].message
    assert tick(r, S.TIMEOUT) == []
    assert names(traffic(r, clock, S.TIMEOUT, webhook=True)) == [("webhook_backlog", "resolved")]
    assert traffic(r, clock, S.TIMEOUT, webhook=True) == []


def test_without_a_webhook_or_traffic_the_messaging_rules_stay_quiet() -> None:
    r, clock = rules(outbox_stuck_s=1, webhook_backlog_s=1, silent_h=0.001)
    state(r, S.CONNECTED)
    clock.t += 86_400
    assert tick(r) == []  # no Traffic ever read: a session without messaging
    quiet, clock = rules(webhook_backlog_s=1)
    assert traffic(quiet, clock, webhook=False, webhook_backlog=9, webhook_oldest_at=0.0) == []  # no webhook set


# -- silent ---------------------------------------------------------------------------------------------


def test_silent_is_off_by_default() -> None:
    r, clock = rules()
    state(r, S.CONNECTED)
    traffic(r, clock, last_received_at=clock.t - 30 * 86_400)
    clock.t += 30 * 86_400
    assert tick(r) == []


def test_silent_fires_after_n_hours_without_an_incoming_message_and_resolves_when_one_comes() -> None:
    r, clock = rules(silent_h=2)
    state(r, S.CONNECTED)
    clock.t += 3600
    heard = clock.t
    assert traffic(r, clock, last_received_at=heard) == []
    clock.t += 2 * 3600
    assert tick(r) == []  # exactly N hours: not yet
    clock.t += 1
    fired = tick(r)
    assert names(fired) == [("silent", "firing")] and "no incoming message for 2.0 h" in fired[0].message
    assert tick(r) == []
    incoming = Event("message", SessionInfo(state=S.CONNECTED), data={"id": "3A1", "direction": "in", "chat": "c"})
    assert names(r.on_event(incoming)) == [("silent", "resolved")]  # the event, before the next Traffic read


def test_silent_counts_from_the_connection_when_nothing_ever_came() -> None:
    r, clock = rules(silent_h=1)
    clock.t += 10 * 3600  # watui was up, not connected: that time does not count
    state(r, S.CONNECTED)
    traffic(r, clock, last_received_at=None)
    clock.t += 3599
    assert tick(r) == []
    clock.t += 2
    assert names(tick(r)) == [("silent", "firing")]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[alerts]\noutbox_stuck_s = -1\n", "key 'alerts.outbox_stuck_s' must be between"),
        ("[alerts]\nwebhook_backlog_s = 'soon'\n", "key 'alerts.webhook_backlog_s' must be a number"),
        ("[alerts]\nsilent_h = 100000\n", "key 'alerts.silent_h' must be between"),
    ],
)
def test_messaging_thresholds_mistakes_name_the_key(tmp_path: Path, text: str, named: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_config(config, environ={})
    assert named in str(err.value) and str(config) in str(err.value)
    assert "\n" not in str(err.value).strip()


# -- the journal service feeds the rules the session's Traffic ----------------------------------------------


class TrafficSource:
    """The session's traffic() as the service reads it: counts reads, can be held, answers what is set."""

    def __init__(self, figures: Traffic) -> None:
        self.figures = figures
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def __call__(self) -> Traffic:
        self.reads += 1
        await self.gate.wait()
        return self.figures


async def test_the_service_reads_traffic_on_message_events_one_read_at_a_time(tmp_path: Path) -> None:
    from watui.config import Config, HistorySettings, SessionSettings
    from watui.core.journal.service import Watchers

    config = Config(
        session=SessionSettings(session_path=str(tmp_path)),
        history=HistorySettings(enabled=False),
        alerts=AlertSettings(outbox_stuck_s=0.3),
    )
    session = FakeSession(SessionInfo(state=S.CONNECTED))
    source = TrafficSource(Traffic(at=0.0, queued=1, oldest_pending_at=1.0))  # waiting for ages
    watchers = Watchers(config, session, traffic=source)  # type: ignore[arg-type]
    alerts: list[Event] = []
    session.announce = lambda type_, **fields: alerts.append(Event(type_, session.info, **fields))  # type: ignore[attr-defined]
    await watchers.start()
    try:
        await asyncio.sleep(0.05)
        assert source.reads == 1  # once at the start
        source.gate.clear()  # a slow disk: the next read hangs
        session.publish("state", state=S.CONNECTED)
        await asyncio.sleep(0.05)
        assert source.reads == 2  # the state event: a read, now in flight
        for _ in range(50):
            session.publish("ack", data={"id": "x", "direction": "out", "status": "queued", "chat": "c", "size": 1})
        await asyncio.sleep(0.05)
        assert source.reads == 2  # the 50 events wait for the read in flight, not 50 reads queued up
        session.publish("health", message="not a messaging event")
        source.gate.set()
        await asyncio.sleep(1.3)
        assert source.reads == 3  # the events seen during the slow read: one more read after it
        assert [e.data["alert"] for e in alerts if e.type == "alert"] == ["outbox_stuck"]
    finally:
        for stream in list(session.streams):
            stream.close()  # as the manager's shutdown ends its stream
        await watchers.close()
