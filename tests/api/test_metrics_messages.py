"""The messaging metrics of /metrics, on a real aiohttp server on 127.0.0.1 over a FakeSession that declares
MESSAGES: counters from its ``message``/``ack`` events, the send latency from their times, the outbox and
webhook gauges from its scripted ``traffic()``."""

from __future__ import annotations

from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import connected_info, running_api, wait_for
from tests.support.fakes import FakeSession
from watui.core.messages.port import Traffic
from watui.core.ports import MESSAGES

Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(url: str) -> Values:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as res:
        assert res.status == 200
        text = await res.text()
    out: Values = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(values: Values, name: str, **labels: str) -> float | None:
    return values.get((name, tuple(sorted(labels.items()))))


def ack(session: FakeSession, message_id: str, status: str, **times: float) -> None:
    data: dict[str, Any] = {"id": message_id, "direction": "out", "chat": "15550001234@c.us", "status": status,
                            "size": 5, **times}  # fmt: skip
    session.publish("ack", data=data)


async def test_messages_counters_latency_and_outbox_gauges_on_a_real_server() -> None:
    traffic = Traffic(at=2000.0, queued=3, sending=1, oldest_pending_at=1990.0, webhook=True, webhook_backlog=7,
                      webhook_oldest_at=1400.0)  # fmt: skip
    session = FakeSession(connected_info(), capabilities=frozenset({MESSAGES}), results={"traffic": traffic})
    async with running_api(session) as server:
        await wait_for(lambda: len(session.streams) == 1, what="the metrics to follow the events")
        before = await scrape(server.url)
        assert value(before, "watui_messages_sent_total") == 0.0
        ack(session, "A", "queued", acceptedAt=1000.0)
        ack(session, "A", "sent", acceptedAt=1000.0, sentAt=1003.0)  # 3 s accepted -> sent
        ack(session, "A", "delivered", acceptedAt=1000.0, sentAt=1003.0, ackedAt=1010.0)  # a later ack: not a send
        ack(session, "B", "read", acceptedAt=1000.0, sentAt=1040.0, ackedAt=1040.0)  # sent and read in one ack: 40 s
        ack(session, "C", "failed", acceptedAt=1000.0)
        for n in range(4):
            session.publish("message", data={"id": f"3A{n}", "direction": "in", "chat": "c", "status": "received",
                                             "size": 1})  # fmt: skip
        session.publish("state")  # not a message event

        async def counted() -> bool:
            return value(await scrape(server.url), "watui_messages_received_total") == 4.0

        for _ in range(100):
            if await counted():
                break
        values = await scrape(server.url)
    assert value(values, "watui_messages_sent_total") == 2.0
    assert value(values, "watui_messages_received_total") == 4.0
    assert value(values, "watui_messages_failed_total") == 1.0
    assert value(values, "watui_send_latency_seconds_count") == 2.0
    assert value(values, "watui_send_latency_seconds_sum") == 43.0
    assert value(values, "watui_send_latency_seconds_bucket", le="5.0") == 1.0
    assert value(values, "watui_send_latency_seconds_bucket", le="60.0") == 2.0
    assert value(values, "watui_outbox_queued") == 3.0
    assert value(values, "watui_outbox_sending") == 1.0
    assert value(values, "watui_outbox_oldest_age_seconds") == 10.0
    assert value(values, "watui_webhook_backlog") == 7.0
    assert value(values, "watui_webhook_oldest_age_seconds") == 600.0
    assert value(values, "watui_alert_firing", alert="outbox_stuck") is None  # no journal on this server
    assert session.verbs.count("traffic") >= 2  # read per scrape, never between them
    assert session.streams == []  # the server's end closed its subscription


async def test_without_messaging_or_when_traffic_fails_the_gauges_are_absent_not_zero() -> None:
    plain = FakeSession(connected_info())
    async with running_api(plain) as server:
        values = await scrape(server.url)
    assert value(values, "watui_messages_sent_total") == 0.0  # the counters exist, at 0
    assert value(values, "watui_outbox_queued") is None
    assert "traffic" not in plain.verbs and plain.streams == []
    failing = FakeSession(connected_info(), capabilities=frozenset({MESSAGES}))
    failing.fail["traffic"] = OSError("the outbox is not open")
    async with running_api(failing) as server:
        values = await scrape(server.url)
    assert value(values, "watui_outbox_queued") is None  # unknown, not "empty"
    assert value(values, "watui_state", state="CONNECTED") == 1.0  # the rest of the scrape still answers
