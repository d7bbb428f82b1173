"""The session's messaging service on real files, and the HTTP messages API on a real socket.

The tab is a fake behind the adapter's small ``TabLike`` interface (the browser is the end-to-end tests'
job, tests/e2e/test_messages_e2e.py): it takes sends, answers finds and pushes the page's events through the
binding exactly as Playwright calls it. The session's events are the real EventHub.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.alert_receiver import receiver
from tests.support.api import SseReader, running_api, wait_for
from tests.support.fakes import FakeSession
from tests.support.messaging import ACCOUNT, CONTACT, WID, FakeTab, MessagingManager, S, Session, config_in
from tests.support.webhook import SECRET, fast
from watui.core.events import Event
from watui.core.messages import NotLinked, State, StoreError
from watui.core.messages.inbox import InboxRow, Incoming, inbox_path
from watui.core.messages.outbox import outbox_path
from watui.core.messages.outbox_rows import OutboxRow
from watui.core.messages.port import Cursor, Message, MessagePage, MessagingPort, Traffic, page_of
from watui.core.messages.service import MessagingService, account_of
from watui.core.models import SessionInfo


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[tuple[Session, MessagingService]]:
    s = Session(config_in(tmp_path))
    service = s.service()
    await service.start()
    try:
        yield s, service
    finally:
        await service.stop()


async def test_a_send_while_down_is_for_the_stored_login_and_goes_once_connected(
    session: tuple[Session, MessagingService],
) -> None:
    s, service = session
    s.on_disk = WID  # the login on disk; no browser yet
    accepted = await service.send_text("+1 555 000 2001", "hello there", key="k1")
    assert (accepted.status, accepted.account, accepted.chat) == ("queued", ACCOUNT, CONTACT)
    assert (await service.send_text("15550002001", "hello there", key="k1")).id == accepted.id  # same key
    s.tab, s.wid = FakeTab(), WID
    s.state(S.CONNECTED)
    await wait_for(lambda: len(s.tab.sent) == 1 if s.tab else False, what="the send")
    assert s.tab.sent == [(accepted.id, CONTACT, "hello there")]
    await wait_for(lambda: any(e["status"] == "sent" for e in s.of("ack")), what="the sent event")
    found = await service.message(accepted.id)
    assert found is not None and found.status == "sent" and found.sent_at is not None
    assert [e["status"] for e in s.of("ack")] == ["queued", "sent"]  # the repeat of the key: no new event
    assert all("body" not in e and e["size"] == len("hello there") for e in s.of("ack"))  # never a body


async def test_without_a_linked_account_a_send_is_refused_saying_to_scan(
    session: tuple[Session, MessagingService],
) -> None:
    s, service = session
    with pytest.raises(NotLinked, match="scan the QR"):
        await service.send_text(CONTACT, "hi")
    s.on_disk, s.logged_out = WID, True  # the phone logged it out: the disk's account is not asked
    with pytest.raises(NotLinked):
        await service.send_text(CONTACT, "hi")
    assert (await service.messages()).messages == ()


async def test_the_sender_runs_only_while_connected_and_resumes_after_a_reconnect(
    session: tuple[Session, MessagingService],
) -> None:
    s, service = session
    s.tab, s.wid = FakeTab(), WID
    s.state(S.CONNECTED)
    await wait_for(lambda: service.sending, what="the sender")
    s.state(S.TIMEOUT)
    await wait_for(lambda: not service.sending, what="the sender stopped")
    queued = await service.send_text(CONTACT, "while away")
    await asyncio.sleep(0.3)
    assert s.tab.sent == []
    s.tab = FakeTab()  # a new browser after the reconnect: the sender follows the new tab
    s.state(S.CONNECTED)
    await wait_for(lambda: bool(s.tab and s.tab.sent), what="the send after the reconnect")
    assert [m[0] for m in s.tab.sent] == [queued.id]


async def test_connected_before_the_account_is_known_starts_sending_once_it_is(
    session: tuple[Session, MessagingService],
) -> None:
    s, service = session
    s.on_disk = WID
    queued = await service.send_text(CONTACT, "early")
    s.tab = FakeTab()
    s.state(S.CONNECTED)  # the page said CONNECTED before it reported whose it is
    await asyncio.sleep(0.2)
    assert not service.sending
    s.wid = WID  # reported a moment later, with no new state
    await wait_for(lambda: bool(s.tab and s.tab.sent), timeout=10, what="the send once the account is known")
    assert s.tab is not None and [m[0] for m in s.tab.sent] == [queued.id]


async def test_a_message_past_its_time_to_live_while_nothing_sends_fails_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from watui.core.messages import service as service_module

    monkeypatch.setattr(service_module, "RETRY_S", 0.02)  # the housekeeping's pace, not what it does
    now = [1_800_000_000.0]
    s = Session(config_in(tmp_path, ttl_s=60.0), on_disk=WID)
    service = s.service(clock=lambda: now[0])
    await service.start()
    try:
        queued = await service.send_text(CONTACT, "too late")
        now[0] += 61

        def expired() -> bool:
            row = service.outbox.get(queued.id) if service.outbox is not None else None
            return row is not None and row.state is State.FAILED

        await wait_for(expired, what="the expiry")
        found = await service.message(queued.id)
        assert found is not None and (found.status, found.reason) == ("failed", "expired")
    finally:
        await service.stop()


async def test_a_send_cut_in_flight_is_checked_before_anything_else_goes(
    session: tuple[Session, MessagingService],
) -> None:
    s, service = session
    first_tab = FakeTab()
    first_tab.hold = True  # the page never answers this send: it may or may not have gone
    s.tab, s.wid = first_tab, WID
    s.state(S.CONNECTED)
    one = await service.send_text(CONTACT, "one")
    await wait_for(lambda: service.outbox is not None and bool(service.outbox.claimed(ACCOUNT)), what="a claim")
    s.state(S.TIMEOUT)  # the browser died under the send
    await wait_for(lambda: not service.sending, what="the sender stopped")
    two = await service.send_text(CONTACT, "two")
    # The contact did get "one" (the server took it before the tab died): the next tab finds it in the chat.
    second = FakeTab()
    second.sent.append((one.id, CONTACT, "one"))
    s.tab = second
    s.state(S.CONNECTED)
    await wait_for(lambda: len(second.sent) == 2, what="the second message")
    assert [m[0] for m in second.sent] == [one.id, two.id]  # one once (found, not sent again), then two
    found = await service.message(one.id)
    assert found is not None and found.status == "sent"


async def test_an_incoming_message_is_committed_before_its_event(
    session: tuple[Session, MessagingService], tmp_path: Path
) -> None:
    s, service = session
    path = inbox_path(s.config)
    seen_on_disk: list[bool] = []

    def check(type_: str, data: dict[str, Any]) -> None:
        if type_ == "message":  # another connection, as another process would read it
            with sqlite3.connect(path) as other:
                seen_on_disk.append(other.execute("SELECT 1 FROM inbox WHERE id = ?", (data["id"],)).fetchone()
                                    is not None)  # fmt: skip

    s.on_publish = check
    s.tab, s.wid = FakeTab(), WID
    s.state(S.CONNECTED)
    await wait_for(lambda: service.sending, what="the sender")
    assert s.tab is not None
    event = {"kind": "incoming", "id": "3A01", "chat": CONTACT, "t": 1700000000, "type": "chat", "body": "hi you"}
    await s.tab.push(event)
    await s.tab.push(event)  # the page pushes what it has again at each load: kept once, announced once
    assert seen_on_disk == [True]
    assert s.of("message") == [{"id": "3A01", "direction": "in", "chat": CONTACT, "status": "received", "size": 6}]
    page = await service.messages(bodies=True)
    assert [(m.id, m.body, m.direction) for m in page.messages] == [("3A01", "hi you", "in")]
    assert (await service.messages(since=page.cursor)).messages == ()


async def test_acks_move_the_status_forward_and_a_failed_ack_fails_a_sent_message(
    session: tuple[Session, MessagingService],
) -> None:
    s, service = session
    s.tab, s.wid = FakeTab(), WID
    s.state(S.CONNECTED)
    a = await service.send_text(CONTACT, "a")
    b = await service.send_text(CONTACT, "b")
    await wait_for(lambda: bool(s.tab) and len(s.tab.sent) == 2, what="two sends")
    await wait_for(lambda: [e["status"] for e in s.of("ack") if e["id"] == b.id][-1:] == ["sent"], what="b sent")
    assert s.tab is not None
    for ack, state in ((2, "delivered"), (3, "read"), (1, "sent")):  # the last one is stale: no move
        await s.tab.push({"kind": "ack", "id": a.id, "chat": CONTACT, "ack": ack, "state": state})
    await s.tab.push({"kind": "ack", "id": b.id, "chat": CONTACT, "ack": -1, "state": "failed"})
    found_a, found_b = await service.message(a.id), await service.message(b.id)
    assert found_a is not None and found_a.status == "read" and found_a.acked_at is not None
    assert found_b is not None and found_b.status == "failed" and "failed" in (found_b.reason or "")
    assert [e["status"] for e in s.of("ack") if e["id"] == a.id] == ["queued", "sent", "delivered", "read"]
    assert [e["status"] for e in s.of("ack") if e["id"] == b.id] == ["queued", "sent", "failed"]
    # A "failed" ack never undoes a delivered message.
    await s.tab.push({"kind": "ack", "id": a.id, "chat": CONTACT, "ack": -1, "state": "failed"})
    found_a = await service.message(a.id)
    assert found_a is not None and found_a.status == "read"


async def test_a_phone_logout_fails_what_is_queued(session: tuple[Session, MessagingService]) -> None:
    s, service = session
    s.tab, s.wid = FakeTab(), WID
    s.state(S.CONNECTED)
    await wait_for(lambda: service.sending, what="the sender")
    s.state(S.TIMEOUT)
    await wait_for(lambda: not service.sending, what="the sender stopped")
    queued = [await service.send_text(CONTACT, f"m{n}") for n in range(3)]
    s.logged_out, s.wid = True, None  # what the manager knows after WhatsApp's logout
    s.state(S.UNPAIRED)
    await wait_for(lambda: len([e for e in s.of("ack") if e["status"] == "failed"]) == 3, what="three failures")
    for message in queued:
        found = await service.message(message.id)
        assert found is not None and (found.status, found.reason) == ("failed", "logged out")
    s.logged_out, s.wid = False, "15550009999:1@c.us"  # another account is scanned in the same tab
    s.state(S.CONNECTED)
    await wait_for(lambda: service.sending, what="the sender of the new account")
    await asyncio.sleep(0.2)
    assert s.tab is not None and s.tab.sent == []  # nothing of the first account goes from the second
    other = await service.send_text(CONTACT, "from the new account")
    await wait_for(lambda: bool(s.tab and s.tab.sent), what="the new account's send")
    assert [m[0] for m in s.tab.sent] == [other.id] and other.account == "15550009999@c.us"


async def test_a_damaged_outbox_is_one_error_naming_it_and_the_inbox_still_works(tmp_path: Path) -> None:
    s = Session(config_in(tmp_path))
    path = outbox_path(s.config)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not a database" * 100)
    service = s.service()
    await service.start()
    try:
        errors = s.of("error")
        assert len(errors) == 1 and errors[0]["path"] == str(path)
        assert str(path) in s.events[0][1] and "damaged" in s.events[0][1]
        s.on_disk = WID
        with pytest.raises(StoreError, match=str(path)):
            await service.send_text(CONTACT, "hi")
        assert path.read_bytes().startswith(b"this is not a database")  # left as it is
        s.tab, s.wid = FakeTab(), WID
        s.state(S.CONNECTED)
        await asyncio.sleep(0.1)
        assert not service.sending
    finally:
        await service.stop()


async def test_a_full_outbox_file_refuses_the_send_over_http_naming_it_and_keeps_what_it_took(tmp_path: Path) -> None:
    s = Session(config_in(tmp_path, max_queued=100_000), on_disk=WID)
    service = s.service()
    await service.start()
    path = outbox_path(s.config)
    assert service.outbox is not None
    service.outbox.db._conn.execute("PRAGMA max_page_count = 40")  # noqa: SLF001 - what a full disk does to SQLite
    manager = MessagingManager(service)
    kept: list[str] = []
    try:
        async with running_api(manager) as api, aiohttp.ClientSession() as http:
            url = f"{api.url}/api/whatsapp/messages"
            for n in range(500):
                async with http.post(url, json={"to": CONTACT, "text": f"{n} " + "x" * 2000}) as resp:
                    answer = await resp.json()
                    if resp.status != 202:
                        break
                    kept.append(answer["id"])
            assert resp.status == 503, answer
            assert str(path) in answer["error"] and "the disk is full" in answer["error"]
            assert "\n" not in answer["error"] and kept
            # The session runs on: what was taken is there, and reading still works.
            async with http.get(f"{url}/{kept[-1]}") as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "queued"
    finally:
        await service.stop()
    with sqlite3.connect(path) as other:
        assert [r[0] for r in other.execute("SELECT id FROM outbox ORDER BY seq")] == kept


def test_the_port_values_survive_json_and_a_page_skips_nothing() -> None:
    out = [OutboxRow(seq=n, id=f"3EB0{n}", account=ACCOUNT, chat=CONTACT, body=f"o{n}", accepted_at=float(n * 2),
                     expires_at=9e9, state=State.SENT, sent_at=float(n * 2 + 1)) for n in range(1, 6)]  # fmt: skip
    inc = [InboxRow(seq=n, id=f"3A{n}", account=ACCOUNT, chat=CONTACT, sender=None, t=1.0, received_at=float(n * 2 + 1),
                    kind="chat", body=f"i{n}") for n in range(1, 6)]  # fmt: skip
    seen: list[str] = []
    cursor = Cursor()
    for _ in range(10):
        page = page_of([r for r in out if r.seq > cursor.out_seq], [r for r in inc if r.seq > cursor.in_seq],
                       cursor, 3, bodies=True)  # fmt: skip
        assert MessagePage.from_json(json.loads(json.dumps(page.to_json()))) == page
        seen.extend(m.body or "" for m in page.messages)
        cursor = Cursor.parse(page.cursor)
    assert seen == ["o1", "i1", "o2", "i2", "o3", "i3", "o4", "i4", "o5", "i5"]  # all, once, by time
    quiet = Message.from_outbox(out[0])
    assert quiet.body is None and "body" not in quiet.to_json() and Message.from_json(quiet.to_json()) == quiet
    assert account_of(WID) == ACCOUNT
    with pytest.raises(Exception, match="since"):
        Cursor.parse("yesterday")


# -- the HTTP face ----------------------------------------------------------------------------------------
async def test_traffic_counts_what_waits_went_failed_and_came_and_the_http_face_says_it(tmp_path: Path) -> None:
    """What the dashboard, the metrics and the alerts read: the outbox now, the last hour, the newest in."""
    now = [1_800_000_000.0]
    s = Session(config_in(tmp_path), on_disk=WID)
    service = s.service(clock=lambda: now[0])
    await service.start()
    try:
        assert await service.traffic() == Traffic(at=now[0])
        old = await service.send_text(CONTACT, "sent long ago")
        assert service.outbox is not None and service.inbox is not None
        service.outbox.claim_next(ACCOUNT, now[0])
        service.outbox.mark_sent(old.id, now[0])
        now[0] += 2 * 3600  # two hours later: that send is out of the last hour
        first = await service.send_text(CONTACT, "waits")
        now[0] += 60
        for text in ("goes", "fails", "waits too"):
            await service.send_text("15550002002", text)
        accepted_at = now[0]
        now[0] += 10  # past the pacing's gap before each claim
        went = service.outbox.claim_next(ACCOUNT, now[0])
        assert went is not None and went.id == first.id
        service.outbox.mark_sent(went.id, now[0])
        now[0] += 10
        claimed = service.outbox.claim_next(ACCOUNT, now[0])  # sending: claimed, not yet confirmed
        assert claimed is not None and claimed.body == "goes"
        queued = [m for m in (await service.messages()).messages if m.status == "queued"]
        service.outbox.fail(queued[0].id, "refused by the page", now[0])
        service.inbox.record_incoming(Incoming(ACCOUNT, CONTACT, "3A01", "hi", t=now[0]), now[0])
        traffic = await service.traffic()
        assert (traffic.queued, traffic.sending, traffic.sent, traffic.failed, traffic.received) == (1, 1, 1, 1, 1)
        assert traffic.oldest_pending_at == accepted_at  # "goes" and "waits too", accepted together
        assert traffic.last_received_at == now[0] and traffic.webhook is False
        assert Traffic.from_json(json.loads(json.dumps(traffic.to_json()))) == traffic
        async with (
            running_api(MessagingManager(service)) as api,
            aiohttp.ClientSession() as http,
            http.get(f"{api.url}/api/whatsapp/traffic") as resp,
        ):
            assert resp.status == 200
            assert Traffic.from_json(await resp.json()) == traffic
        async with (
            running_api(FakeSession()) as api,  # no MESSAGES declared
            aiohttp.ClientSession() as http,
            http.get(f"{api.url}/api/whatsapp/traffic") as resp,
        ):
            assert resp.status == 501
    finally:
        await service.stop()


async def test_the_http_messages_api_accepts_reads_and_refuses_clearly(tmp_path: Path) -> None:
    s = Session(config_in(tmp_path, max_queued=2), on_disk=WID)
    service = s.service()
    await service.start()
    manager = MessagingManager(service)
    _port: MessagingPort = manager  # mypy: the fake with MESSAGES is a MessagingPort
    try:
        async with (
            running_api(FakeSession()) as api,  # no MESSAGES declared
            aiohttp.ClientSession() as http,
            http.post(f"{api.url}/api/whatsapp/messages", json={"to": CONTACT, "text": "x"}) as resp,
        ):
            assert resp.status == 501 and "does not send" in (await resp.json())["error"]
        async with running_api(manager) as api, aiohttp.ClientSession() as http:
            url = f"{api.url}/api/whatsapp/messages"
            async with http.post(url, json={"to": "+1 555 000 2001", "text": "hi", "key": "k"}) as resp:
                assert resp.status == 202
                sent = await resp.json()
                assert sent["status"] == "queued" and sent["chat"] == CONTACT and "body" not in sent
                assert resp.headers["Location"].endswith(sent["id"])
            async with http.get(f"{url}/{sent['id']}") as resp:
                assert resp.status == 200 and (await resp.json())["id"] == sent["id"]
            async with http.get(f"{url}/3EB0NOPE") as resp:
                assert resp.status == 404 and "3EB0NOPE" in (await resp.json())["error"]
            for body, status, words in (
                (b"not json", 400, "JSON object"),
                (json.dumps({"to": CONTACT}).encode(), 400, "'text'"),
                (json.dumps({"to": 15550002001, "text": "x"}).encode(), 400, "'to' must be a string"),
                (json.dumps({"to": "0612345678", "text": "x"}).encode(), 400, "to:"),
                (json.dumps({"to": CONTACT, "text": "x", "ttl": 3}).encode(), 400, "unknown field 'ttl'"),
                (json.dumps({"to": CONTACT, "text": "x" * 70000}).encode(), 400, "body: at most"),
                (json.dumps({"to": CONTACT, "text": "x" * 400_000}).encode(), 413, "too large"),
            ):
                async with http.post(url, data=body) as resp:
                    answer = await resp.json()
                    assert (resp.status, answer["ok"]) == (status, False), answer
                    assert words in answer["error"], answer
            async with http.post(url, json={"to": CONTACT, "text": "second"}) as resp:
                assert resp.status == 202
            async with http.post(url, json={"to": CONTACT, "text": "third"}) as resp:  # max_queued = 2
                assert resp.status == 429 and int(resp.headers["Retry-After"]) >= 1
                assert "max_queued" in (await resp.json())["error"]
            async with http.get(url, params={"bodies": "1"}) as resp:
                page = await resp.json()
                assert [m["body"] for m in page["messages"]] == ["hi", "second"]
            async with http.get(url, params={"since": page["cursor"]}) as resp:
                assert (await resp.json())["messages"] == []
            async with http.get(url, params={"since": "last tuesday"}) as resp:
                assert resp.status == 400 and "since" in (await resp.json())["error"]
            s.on_disk = None
            async with http.post(url, json={"to": CONTACT, "text": "x", "key": "k2"}) as resp:
                assert resp.status == 409 and "scan the QR" in (await resp.json())["error"]
    finally:
        await service.stop()


async def test_the_events_stream_carries_message_and_ack_events_and_the_token_rule_holds(tmp_path: Path) -> None:
    s = Session(config_in(tmp_path), on_disk=WID)

    manager: MessagingManager

    def publish(type_: Any, *, message: str = "", data: dict[str, Any] | None = None) -> None:
        s.events.append((type_, message, dict(data or {})))
        manager.publish(type_, message=message, data=data or {})

    service = MessagingService(
        s.config, page=lambda: s.tab, wid=lambda: s.wid, logout_seen=lambda: False, subscribe=s.hub.subscribe,
        publish=publish, stored_account=lambda: s.on_disk,
    )  # fmt: skip
    await service.start()
    manager = MessagingManager(service)
    try:
        async with running_api(manager, token="t0ken") as api, aiohttp.ClientSession() as http:
            url = f"{api.url}/api/whatsapp/messages"
            async with http.post(url, json={"to": CONTACT, "text": "hi"}) as resp:
                assert resp.status == 401
            auth = {"Authorization": "Bearer t0ken"}
            async with http.get(f"{api.url}/api/whatsapp/events", headers=auth) as stream:
                reader = SseReader(stream)
                assert (await reader.data())["type"] == "snapshot"
                async with http.post(url, json={"to": CONTACT, "text": "hi"}, headers=auth) as resp:
                    assert resp.status == 202
                    sent = await resp.json()
                event = await reader.data()
                assert (event["type"], event["id"], event["status"], event["size"]) == ("ack", sent["id"], "queued", 2)
                s.tab, s.wid = FakeTab(), WID
                s.state(S.CONNECTED)
                await wait_for(lambda: service.sending, what="the sender")
                await s.tab.push({"kind": "incoming", "id": "3A77", "chat": CONTACT, "type": "chat", "body": "yo"})
                kinds = [(await reader.data()) for _ in range(2)]
                assert {(k["type"], k["status"]) for k in kinds} == {("ack", "sent"), ("message", "received")}
                assert all("body" not in k and "yo" not in json.dumps(k) for k in kinds)
    finally:
        await service.stop()


async def test_with_a_webhook_url_the_service_delivers_incoming_messages_and_acks(tmp_path: Path) -> None:
    from dataclasses import replace

    with receiver(secret=SECRET) as rec:
        base = config_in(tmp_path)
        s = Session(replace(base, messages=replace(base.messages, webhook=fast(rec.url))), on_disk=WID)
        service = s.service()
        await service.start()
        try:
            assert service.webhook is not None
            s.tab, s.wid = FakeTab(), WID
            s.state(S.CONNECTED)
            sent = await service.send_text(CONTACT, "out")
            await wait_for(lambda: bool(s.tab and s.tab.sent), what="the send")
            assert s.tab is not None
            await s.tab.push({"kind": "incoming", "id": "3A99", "chat": CONTACT, "type": "chat", "body": "in"})
            await wait_for(lambda: len(rec.requests) >= 2, what="two deliveries")
        finally:
            await service.stop()
    got = {(r.json["event"], r.json["id"]) for r in rec.requests}
    assert {("ack", sent.id), ("message", "3A99")} <= got
    assert all(r.status == 200 for r in rec.requests)  # signed with the secret


async def test_with_a_webhook_what_is_recorded_right_after_the_start_is_delivered(tmp_path: Path) -> None:
    """The webhook's first run starts at the end of the inbox: that end is taken when the service starts, so
    a message recorded at once after (before the deliverer's task ever ran) is not taken for the past."""
    from dataclasses import replace

    with receiver(secret=SECRET) as rec:
        base = config_in(tmp_path)
        s = Session(replace(base, messages=replace(base.messages, webhook=fast(rec.url))), on_disk=WID)
        service = s.service()
        await service.start()
        try:
            assert service.inbox is not None
            # No await between the start and the record: the deliverer's task has not run yet.
            service.inbox.record_incoming(Incoming(ACCOUNT, CONTACT, "3A77", "right away"))
            assert service.webhook is not None
            service.webhook.wake()
            await wait_for(lambda: len(rec.requests) >= 1, what="the delivery")
        finally:
            await service.stop()
    assert [(r.json["event"], r.json["id"]) for r in rec.requests] == [("message", "3A77")]


def test_the_journal_keeps_no_message_event() -> None:
    from watui.core.journal.history import JOURNALED

    assert not {"message", "ack"} & JOURNALED  # bodies never, and not even the ids: the inbox has them
    # Only their counts per hour are kept (one row an hour): tests/unit/test_history_messages.py checks the file.


def test_watch_prints_a_line_per_message_event_with_its_id_and_never_its_text() -> None:
    from watui.cli.live import _event_line

    info = SessionInfo(state=S.CONNECTED)
    got = Event(type="message", info=info, data={"id": "3A01", "direction": "in", "chat": CONTACT,
                                                 "status": "received", "size": 6})  # fmt: skip
    failed = Event(type="ack", info=info, data={"id": "3EB0AA", "direction": "out", "chat": CONTACT,
                                                "status": "failed", "size": 2, "reason": "expired"})  # fmt: skip
    assert _event_line(got, False).endswith(f" ✉ received 3A01 from {CONTACT} (6 chars)\n")
    assert _event_line(failed, False).endswith(f" ✉ failed 3EB0AA to {CONTACT}: expired\n")
    assert json.loads(_event_line(failed, True))["status"] == "failed"
