"""The message webhook (watui/core/messages/webhook.py) on real files and a real HTTP receiver on 127.0.0.1
that checks the signature: every incoming message (and ack) delivered, once, in order; through a receiver
that is down then failing; through a kill -9 of the deliverer's process; a hanging receiver; a wrong secret."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tenacity import Future, RetryCallState

from tests.support.alert_receiver import Receiver, receiver
from tests.support.webhook import SECRET, fast
from watui.config import ConfigError, MessagesSettings, MessageWebhookSettings, apply_env, build_config
from watui.core.messages import Inbox, Incoming, Outbox
from watui.core.messages.webhook import CURSOR, WebhookBusy, WebhookDeliverer, _NotDelivered, deliverer_for
from watui.core.messages.webhook_post import Answer, test_delivery

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "15550001111@c.us"
CHATS = ("15550002222@c.us", "15550003333@c.us", "120363000000000001@g.us")
GROUP_AUTHOR = "15550004444@c.us"


def _incoming(n: int) -> Incoming:
    chat = CHATS[n % len(CHATS)]
    sender = GROUP_AUTHOR if chat.endswith("@g.us") else None
    return Incoming(ACCOUNT, chat, f"in-{n:03d}", f"hello {n} ✓", sender=sender, t=1_796_000_000.0 + n)


def _inbox(tmp_path: Path, *, from_start: bool = True) -> Inbox:
    inbox = Inbox.open(tmp_path / "inbox.sqlite")
    if from_start:
        inbox.set_cursor(CURSOR, 0)  # deliver everything it will hold (a first run would start at the end)
    return inbox


@asynccontextmanager
async def running(deliverer: WebhookDeliverer) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(deliverer.run())
    try:
        await until(lambda: deliverer.status.running or task.done(), "the deliverer to start")
        yield task
    finally:
        deliverer.close()
        await asyncio.wait_for(task, 10)


async def until(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def accepted(rec: Receiver, event: str = "message") -> list[dict[str, Any]]:
    """The deliveries the receiver answered with a 2xx, in the order it got them."""
    return [r.json for r in list(rec.requests) if r.status < 300 and r.headers.get("x-watui-event") == event]


async def record(inbox: Inbox, deliverer: WebhookDeliverer | None, numbers: range) -> list[str]:
    ids = []
    for n in numbers:
        row = await inbox.record_incoming_async(_incoming(n))
        assert row is not None
        ids.append(row.id)
        if deliverer is not None:
            deliverer.wake()
    return ids


def per_chat(payloads: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in payloads:
        out.setdefault(p["chat"], []).append(p["id"])
    return out


def expected_per_chat(numbers: range) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n in numbers:
        m = _incoming(n)
        out.setdefault(m.chat, []).append(m.id)
    return out


# -- delivered once, in order -------------------------------------------------------------------------


async def test_every_incoming_message_is_delivered_once_in_order_signed_with_its_body(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver(secret=SECRET) as rec:
        deliverer = WebhookDeliverer(fast(rec.url), inbox, session="bot-1", idle_s=60)  # only wake() moves it
        async with running(deliverer):
            await record(inbox, deliverer, range(30))
            await until(lambda: len(rec.requests) >= 30, "30 deliveries")
            await asyncio.sleep(0.3)  # anything more would be a repeat
        got = [r.json for r in rec.requests]
        assert [r.status for r in rec.requests] == [200] * 30  # every signature checked out
    assert [p["id"] for p in got] == [f"in-{n:03d}" for n in range(30)]  # once each, in the inbox's order
    assert per_chat(got) == expected_per_chat(range(30))
    first, group = got[0], got[2]
    assert first["event"] == "message" and first["session"] == "bot-1" and first["account"] == ACCOUNT
    assert first["body"] == "hello 0 ✓" and first["size"] == len("hello 0 ✓") and first["type"] == "chat"
    assert first["time"] == "2026-11-30T00:53:20.000Z" and first["sender"] is None and first["from"] == CHATS[0]
    assert group["sender"] == group["from"] == GROUP_AUTHOR and group["chat"] == CHATS[2]
    headers = rec.requests[0].headers
    assert headers["x-watui-delivery"] == first["delivery"] and headers["x-watui-attempt"] == "1"
    assert len({p["delivery"] for p in got}) == 30
    assert inbox.cursor(CURSOR) == 30  # committed: a restart resumes after the last one
    assert (await deliverer.backlog()).count == 0 and deliverer.status.delivered == 30
    shown = deliverer.status.to_json(time.time())
    assert shown["receiver"] == f"http://127.0.0.1:{rec.port}/…" and shown["running"] is False  # no path shown
    assert shown["backlog"] == {"messages": 0, "acks": 0, "oldestAgeS": 0.0} and shown["lastError"] is None


def test_the_sessions_deliverer_exists_only_with_a_url(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    assert deliverer_for(build_config({}, "x"), inbox) is None
    config = build_config(
        {"session": {"client_id": "bot-7"}, "messages": {"webhook": {"url": "http://127.0.0.1:9/h", "secret": "x"}}},
        "x",
    )
    deliverer = deliverer_for(config, inbox)
    assert deliverer is not None and deliverer.session == "bot-7" and deliverer.settings.url == "http://127.0.0.1:9/h"


async def test_bodies_false_sends_the_metadata_only(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver(secret=SECRET) as rec:
        deliverer = WebhookDeliverer(fast(rec.url, bodies=False), inbox)
        async with running(deliverer):
            await record(inbox, deliverer, range(1))
            await until(lambda: len(rec.requests) >= 1, "a delivery")
    sent = rec.requests[0]
    assert "body" not in sent.json and sent.json["size"] == len("hello 0 ✓") and b"hello" not in sent.body


async def test_a_first_run_starts_at_the_end_and_a_restart_resumes_where_it_stopped(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path, from_start=False)
    await record(inbox, None, range(3))  # before the webhook was configured: not sent
    with receiver(secret=SECRET) as rec:
        deliverer = WebhookDeliverer(fast(rec.url), inbox)
        async with running(deliverer):
            await until(lambda: inbox.stored_cursor(CURSOR) is not None, "the first cursor")
            await record(inbox, deliverer, range(3, 5))
            await until(lambda: len(rec.requests) >= 2, "2 deliveries")
        await record(inbox, None, range(5, 8))  # while watui is stopped (recorded at its restart)
        again = WebhookDeliverer(fast(rec.url), inbox)
        async with running(again):
            await until(lambda: len(rec.requests) >= 5, "5 deliveries")
            await asyncio.sleep(0.2)
    assert [p["id"] for p in accepted(rec)] == [f"in-{n:03d}" for n in range(3, 8)]


# -- a receiver down, then failing, then up -----------------------------------------------------------


async def test_a_receiver_down_then_failing_then_up_gets_everything_in_order(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver() as gone:
        port = gone.port  # closed at the end of the block: connection refused from then on
    url = f"http://127.0.0.1:{port}/hook"
    deliverer = WebhookDeliverer(fast(url), inbox)
    async with running(deliverer):
        await record(inbox, deliverer, range(12))
        await until(lambda: deliverer.status.attempt >= 3, "retries against a receiver that is down")
        assert deliverer.status.last_error == "connection refused" and deliverer.status.failing_since is not None
        backlog = await deliverer.backlog()
        assert backlog.messages == 12 and backlog.oldest_at is not None
        seen = deliverer.status.backlog  # as of the pass in hand: the oldest one, failing since it began
        assert seen.messages >= 1 and seen.oldest_at == backlog.oldest_at and seen.age_s(time.time()) > 0
        with receiver([500, 500, 503, 500, 200], secret=SECRET, port=port) as rec:  # up, failing, then fine
            await until(lambda: len(accepted(rec)) >= 12, "12 deliveries")
            await asyncio.sleep(0.2)
            answers = [r.status for r in rec.requests]
            got = accepted(rec)
    assert answers[:5] == [500, 500, 503, 500, 200]
    assert {r.json["id"] for r in rec.requests[:5]} == {"in-000"}  # the first one, until the receiver took it
    assert [p["id"] for p in got] == [f"in-{n:03d}" for n in range(12)]  # none lost, none twice, in order
    assert deliverer.status.last_error is None and deliverer.status.failing_since is None
    assert inbox.cursor(CURSOR) == 12


async def test_the_backoff_grows_and_stops_at_its_maximum(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver([500], secret=SECRET) as rec:
        settings = fast(rec.url, backoff_initial_s=0.05, backoff_max_s=0.2)
        deliverer = WebhookDeliverer(settings, inbox)
        async with running(deliverer):
            await record(inbox, deliverer, range(1))
            started = time.monotonic()
            await until(lambda: len(rec.requests) >= 6, "6 attempts")
            took = time.monotonic() - started
    assert took >= 0.05 + 0.1 + 0.2 + 0.2 + 0.2  # waits between the attempts: the receiver is not hammered
    assert [r.headers["x-watui-attempt"] for r in rec.requests[:6]] == ["1", "2", "3", "4", "5", "6"]
    assert len({r.headers["x-watui-delivery"] for r in rec.requests}) == 1
    assert len({r.body for r in rec.requests}) == 1  # the same bytes in every attempt


def test_the_backoff_doubles_follows_retry_after_and_stops_at_its_maximum(tmp_path: Path) -> None:
    deliverer = WebhookDeliverer(fast("http://127.0.0.1:9/", backoff_initial_s=0.5, backoff_max_s=4), _inbox(tmp_path))

    def wait_after(attempt: int, retry_after: float | None = None) -> float:
        state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
        state.attempt_number = attempt
        failed: Future = Future(attempt)
        failed.set_exception(_NotDelivered(Answer(503, 0.0, "HTTP 503", retry_after)))
        state.outcome = failed
        return deliverer._wait(state)

    assert [wait_after(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert wait_after(1, retry_after=3.0) == 3.0  # the receiver asks for longer: it gets it
    assert wait_after(1, retry_after=3600.0) == 4.0  # never past backoff_max_s


# -- kill -9 of the deliverer's process ---------------------------------------------------------------


def _child(inbox: Path, url: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "support" / "webhook.py"), str(inbox), url, SECRET],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdout is not None and child.stdout.readline().strip() == "running", child.stderr
    return child


def test_a_deliverer_killed_mid_delivery_loses_nothing_when_restarted(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    for n in range(20):
        assert inbox.record_incoming(_incoming(n)) is not None
    with receiver(secret=SECRET, hang_after=7) as rec:  # takes 7, then holds the 8th without an answer
        first = _child(inbox.path, rec.url)
        try:
            deadline = time.monotonic() + 15
            while rec.hung < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert rec.hung >= 1, "the receiver never got the 8th delivery"
        finally:
            os.kill(first.pid, signal.SIGKILL)  # mid-delivery: the 8th is out, its answer never came
            first.wait(10)
        assert first.returncode == -signal.SIGKILL
        rec.hang_after = None
        rec.hang.clear()
        second = _child(inbox.path, rec.url)
        try:
            deadline = time.monotonic() + 15
            while len({p["id"] for p in accepted(rec)}) < 20 and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            second.terminate()
            second.wait(10)
        got = accepted(rec)
    ids = [p["id"] for p in got]
    assert sorted(set(ids)) == [f"in-{n:03d}" for n in range(20)]  # nothing lost
    assert list(dict.fromkeys(ids)) == [f"in-{n:03d}" for n in range(20)]  # in order
    deliveries: dict[str, set[str]] = {}
    for p in got:
        deliveries.setdefault(p["id"], set()).add(p["delivery"])
    assert all(len(d) == 1 for d in deliveries.values())  # a repeat carries the same delivery id


# -- a hanging receiver -------------------------------------------------------------------------------


async def test_a_hanging_receiver_times_out_and_the_loop_goes_on(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    ticks = [0]
    seen: dict[str, int] = {}

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0.005)

    def sample(rec: Receiver) -> None:
        """From another thread, once a POST is held: did the loop go on while it was?"""
        while rec.hung < 1:
            time.sleep(0.005)
        seen["start"] = ticks[0]
        time.sleep(0.2)
        seen["later"] = ticks[0]

    with receiver(secret=SECRET) as rec:
        rec.hang.set()
        deliverer = WebhookDeliverer(fast(rec.url, timeout_s=0.5), inbox)
        beat = asyncio.create_task(ticker())
        sampler = threading.Thread(target=sample, args=(rec,), daemon=True)
        sampler.start()
        try:
            async with running(deliverer):
                await record(inbox, deliverer, range(1))
                await until(lambda: deliverer.status.last_error == "no answer within 0.5 s", "the timeout")
                assert await inbox.record_incoming_async(_incoming(1)) is not None  # the inbox goes on too
                sampler.join(5)
                rec.hang.clear()
                await until(lambda: len(accepted(rec)) >= 2, "both delivered once the receiver answers")
        finally:
            beat.cancel()
    assert seen["later"] > seen["start"]  # the loop ran while the POST was held
    assert [p["id"] for p in accepted(rec)] == ["in-000", "in-001"]


async def test_close_returns_at_once_even_while_a_post_hangs(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver(secret=SECRET) as rec:
        rec.hang.set()
        deliverer = WebhookDeliverer(fast(rec.url, timeout_s=30), inbox)
        task = asyncio.create_task(deliverer.run())
        await record(inbox, deliverer, range(1))
        await until(lambda: rec.hung >= 1, "a held POST")
        deliverer.close()
        await asyncio.wait_for(task, 2)  # not the 30 s of the timeout
    assert inbox.cursor(CURSOR) == 0  # not answered: delivered again at the next run


# -- the signature -------------------------------------------------------------------------------------


async def test_a_wrong_secret_is_refused_and_nothing_moves_until_it_is_right(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver(secret="the receiver's secret") as rec:
        deliverer = WebhookDeliverer(fast(rec.url, secret="another secret"), inbox)
        async with running(deliverer):
            await record(inbox, deliverer, range(1))
            await until(lambda: len(rec.requests) >= 3, "3 refused attempts")
            assert deliverer.status.last_error == "HTTP 401: bad signature"
        assert {r.status for r in rec.requests} == {401}
        assert inbox.cursor(CURSOR) == 0 and (await deliverer.backlog()).messages == 1
        right = WebhookDeliverer(fast(rec.url, secret="the receiver's secret"), inbox)
        async with running(right):
            await until(lambda: len(accepted(rec)) >= 1, "the delivery with the right secret")
    assert accepted(rec)[0]["id"] == "in-000"


def test_the_signature_is_the_hmac_sha256_of_the_body_and_test_delivery_says_what_the_receiver_answered() -> None:
    with receiver(secret=SECRET) as rec:
        wrong = test_delivery(fast(rec.url, secret="not it"), "bot-1")
        right = test_delivery(fast(rec.url), "bot-1")
    assert (wrong.ok, wrong.status, wrong.reason) == (False, 401, "HTTP 401: bad signature")
    assert (right.ok, right.status, right.reason) == (True, 200, "") and right.elapsed_s > 0
    sent = rec.requests[1]
    expected = "sha256=" + hmac.new(SECRET.encode(), sent.body, hashlib.sha256).hexdigest()
    assert sent.headers["x-watui-signature"] == expected  # computed here, as a receiver would
    assert sent.headers["x-watui-event"] == "test" and sent.json["test"] is True and sent.json["session"] == "bot-1"
    assert sent.headers["x-watui-delivery"] == sent.json["delivery"]


def test_test_delivery_names_what_went_wrong() -> None:
    with receiver() as gone:
        url = gone.url
    refused = test_delivery(fast(url))
    assert (refused.ok, refused.status, refused.reason) == (False, None, "connection refused")
    with receiver([302, 500]) as rec:
        moved = test_delivery(fast(rec.url))
        failing = test_delivery(fast(rec.url))
    assert not moved.ok and moved.status == 302 and "redirect" in moved.reason and "not followed" in moved.reason
    assert (failing.ok, failing.reason) == (False, "HTTP 500")
    assert test_delivery(MessageWebhookSettings()).reason == "no webhook: [messages.webhook] url is not set"


# -- acks ----------------------------------------------------------------------------------------------


async def test_acks_are_delivered_in_order_from_the_outbox(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    outbox = Outbox.open(tmp_path / "outbox.sqlite")
    outbox.set_ack_cursor(CURSOR, 0)
    with receiver(secret=SECRET) as rec:
        deliverer = WebhookDeliverer(fast(rec.url), inbox, outbox)
        async with running(deliverer):
            first = outbox.accept("+15550002222", "one", account=ACCOUNT)
            second = outbox.accept("+15550003333", "two", account=ACCOUNT, ttl_s=10)
            claimed = outbox.claim_next(ACCOUNT)
            assert claimed is not None and claimed.id == first.id
            outbox.mark_sent(first.id)
            outbox.record_ack(first.id, "delivered")
            outbox.record_ack(first.id, "read")
            outbox.expire(now=time.time() + 60)  # the second one: failed, "expired"
            await record(inbox, deliverer, range(1))
            await until(lambda: len(accepted(rec, "ack")) >= 4 and accepted(rec), "4 acks and a message")
            await asyncio.sleep(0.2)
    acks = [(p["id"], p["ack"], p["reason"]) for p in accepted(rec, "ack")]
    assert acks == [
        (first.id, "sent", None),
        (first.id, "delivered", None),
        (first.id, "read", None),
        (second.id, "failed", "expired"),
    ]
    assert all("body" not in p for p in accepted(rec, "ack"))
    assert accepted(rec, "ack")[0]["chat"] == "15550002222@c.us"
    assert outbox.ack_cursor(CURSOR) == 4


async def test_events_message_only_sends_no_ack_and_keeps_the_ack_cursor_at_the_end(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    outbox = Outbox.open(tmp_path / "outbox.sqlite")
    with receiver(secret=SECRET) as rec:
        deliverer = WebhookDeliverer(fast(rec.url, events=("message",)), inbox, outbox)
        async with running(deliverer):
            row = outbox.accept("+15550002222", "one", account=ACCOUNT)
            outbox.claim_next(ACCOUNT)
            outbox.mark_sent(row.id)
            await record(inbox, deliverer, range(1))
            await until(lambda: outbox.ack_cursor(CURSOR) == 1 and accepted(rec), "the message, the ack skipped")
    assert [r.headers["x-watui-event"] for r in rec.requests] == ["message"]


async def test_a_history_sync_of_hundreds_and_acks_between_go_out_in_time_order(tmp_path: Path) -> None:
    clock = [1_796_000_000.0]
    inbox = Inbox.open(tmp_path / "inbox.sqlite", clock=lambda: clock[0])
    inbox.set_cursor(CURSOR, 0)
    unpaced = MessagesSettings(max_per_minute=600_000.0, min_gap_per_chat_s=0.0)
    outbox = Outbox.open(tmp_path / "outbox.sqlite", unpaced, clock=lambda: clock[0])
    outbox.set_ack_cursor(CURSOR, 0)
    sent = []
    for n in range(250):  # more than a batch of each, interleaved in time
        clock[0] += 1
        inbox.record_incoming(_incoming(n))
        if n % 2 == 0:
            row = outbox.accept("+15550002222", f"reply {n}", account=ACCOUNT, now=clock[0] - 0.5)
            assert outbox.claim_next(ACCOUNT, now=clock[0] + 0.5) is not None
            outbox.mark_sent(row.id, now=clock[0] + 0.5)
            sent.append(row.id)
    with receiver(secret=SECRET) as rec:
        deliverer = WebhookDeliverer(fast(rec.url), inbox, outbox)
        async with running(deliverer):
            await until(lambda: len(rec.requests) >= 375, "375 deliveries", timeout=30)
    got = [r.json for r in rec.requests]
    assert [p["id"] for p in got if p["event"] == "message"] == [f"in-{n:03d}" for n in range(250)]
    assert [p["id"] for p in got if p["event"] == "ack"] == sent
    recorded = [p["t"] if p["event"] == "ack" else datetime.fromisoformat(p["receivedAt"]).timestamp() for p in got]
    assert recorded == sorted(recorded)  # incoming messages and acks interleaved as they were recorded


# -- one deliverer per inbox, and the configuration ----------------------------------------------------


async def test_a_second_deliverer_on_the_same_inbox_is_refused(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    with receiver(secret=SECRET) as rec:
        async with running(WebhookDeliverer(fast(rec.url), inbox)):
            with pytest.raises(WebhookBusy, match="another webhook deliverer"):
                await WebhookDeliverer(fast(rec.url), inbox).run()


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"url": "ftp://example.com/hook", "secret": "x"}, "key 'messages.webhook.url' must be an http:// or https"),
        ({"url": "https://example.com/hook"}, "key 'messages.webhook.secret' must be set when url is"),
        ({"events": ["message", "acks"]}, "key 'messages.webhook.events' must list each of 'message', 'ack'"),
        ({"timeout_s": 0}, "key 'messages.webhook.timeout_s' must be between 0.1 and 600"),
        ({"backoff_initial_s": 10, "backoff_max_s": 5}, "key 'messages.webhook.backoff_initial_s' must be at most"),
        ({"bodies": "yes"}, "key 'messages.webhook.bodies' must be true or false"),
        ({"retries": 3}, "unknown key 'messages.webhook.retries'"),
    ],
)
def test_a_bad_webhook_setting_is_one_line_naming_the_key(table: dict[str, Any], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_config({"messages": {"webhook": table}}, "/etc/watui/config.toml")
    text = str(caught.value)
    assert text.startswith("/etc/watui/config.toml: ") and says in text and "\n" not in text


def test_the_secret_can_come_from_the_environment() -> None:
    config = build_config({"messages": {"max_queued": 5, "webhook": {"events": ["ack"]}}}, "config.toml")
    config = apply_env(
        config, {"WATUI_MESSAGES__WEBHOOK__URL": "https://example.com/h", "WATUI_MESSAGES__WEBHOOK__SECRET": "abc"}
    )
    hook = config.messages.webhook
    assert (hook.url, hook.secret, hook.events, config.messages.max_queued) == ("https://example.com/h", "abc",
                                                                                ("ack",), 5)  # fmt: skip
    with pytest.raises(ConfigError, match="WATUI_MESSAGES__WEBHOOK__URL: key 'messages.webhook.secret'"):
        apply_env(build_config({}, "x"), {"WATUI_MESSAGES__WEBHOOK__URL": "https://example.com/h"})


def test_payloads_keep_bodies_out_of_reprs(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    inbox.record_incoming(_incoming(0))
    deliverer = WebhookDeliverer(fast("http://127.0.0.1:9/hook"), inbox)
    deliverer.start_cursors()
    items = deliverer._pending()
    assert items and "hello" not in repr(items) and json.loads(items[0].body)["body"] == "hello 0 ✓"


# -- the docs' snippets, run as written -----------------------------------------------------------------


def _doc_blocks(language: str) -> list[str]:
    page = (ROOT / "docs" / "webhooks.md").read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```$", page, flags=re.M | re.S)


def test_the_docs_python_check_accepts_a_real_delivery_and_refuses_a_wrong_secret() -> None:
    (snippet,) = [b for b in _doc_blocks("python") if "def verified" in b]
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # noqa: S102 - the docs' own code
    assert len(snippet.strip().splitlines()) <= 6  # the 5 lines promised (and the blank one)
    with receiver() as rec:
        assert test_delivery(fast(rec.url)).ok
    sent = rec.requests[0]
    assert scope["verified"](SECRET, sent.body, sent.headers["x-watui-signature"])
    assert not scope["verified"]("another secret", sent.body, sent.headers["x-watui-signature"])
    assert not scope["verified"](SECRET, sent.body + b" ", sent.headers["x-watui-signature"])


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_docs_node_check_and_receiver_work_against_real_deliveries(tmp_path: Path) -> None:
    (check,) = [b for b in _doc_blocks("js") if "function verified" in b]
    with receiver() as rec:
        assert test_delivery(fast(rec.url)).ok
    sent = rec.requests[0]
    script = check + (
        "const body = Buffer.from(process.argv[1], 'base64');\n"
        "console.log(verified(process.argv[2], body, process.argv[3]), verified('nope', body, process.argv[3]));\n"
    )
    out = subprocess.run(
        ["node", "-e", script, base64.b64encode(sent.body).decode(), SECRET, sent.headers["x-watui-signature"]],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert out.stdout.split() == ["true", "false"], out.stderr

    (server,) = [b for b in _doc_blocks("js") if "createServer" in b]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    node = subprocess.Popen(
        ["node", "-e", server.replace(".listen(8080)", f".listen({port}, '127.0.0.1')")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "WATUI_WEBHOOK_SECRET": SECRET},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 15
        while (answer := test_delivery(fast(url))).status is None and time.monotonic() < deadline:
            time.sleep(0.05)  # node starting
        assert (answer.ok, answer.status) == (True, 204)
        assert test_delivery(fast(url, secret="wrong")).status == 401
        inbox = _inbox(tmp_path)
        inbox.record_incoming(_incoming(0))

        async def deliver() -> None:
            deliverer = WebhookDeliverer(fast(url), inbox)
            async with running(deliverer):
                await until(lambda: inbox.cursor(CURSOR) == 1, "the delivery to the Node receiver")

        asyncio.run(deliver())
    finally:
        node.terminate()
        stdout, _ = node.communicate(timeout=10)
    assert stdout.splitlines() == ["test undefined undefined", f"message {CHATS[0]} hello 0 ✓"]
