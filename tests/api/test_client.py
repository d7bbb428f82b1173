"""watui.client, the public Python client, on real servers: the owner's control socket (``start_control``) and
``watui serve``'s API (``running_api``), each in front of the real messaging service on real files (the tab is
the messaging tests' FakeTab; the browser and the simulator are tests/e2e/test_client_e2e.py's).

An owner "restart" here is its control socket closed and its service stopped, then a new service on the same
files behind a new socket at the same path, with messages arriving in between: what a client sees of a real
restart (tests/e2e/test_client_e2e.py kills a real one).
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from tests.support.api import running_api, wait_for
from tests.support.messaging import CONTACT, WID, FakeTab, MessagingManager, Session, config_in
from watui.api.control import ControlServer, start_control
from watui.api.paths import socket_path
from watui.client import Client, Message, MessageFailed, OwnerNotRunning, Refused, WaitTimeout
from watui.core.events import Event
from watui.core.messages.service import MessagingService
from watui.core.models import ConnectionState

S = ConnectionState


class Owner:
    """A session's owner as its clients see it: a control socket in front of a messaging service."""

    def __init__(self, tmp_path: Path, **messages: object) -> None:
        self.session = Session(config_in(tmp_path, **messages), on_disk=WID)
        self.config = self.session.config
        self.service: MessagingService | None = None
        self.server: ControlServer | None = None

    async def start(self) -> None:
        s = self.session
        self.service = s.service()
        await self.service.start()
        s.tab, s.wid = FakeTab(), WID  # a new page each run: its binding is installed once per page
        s.state(S.CONNECTED)
        await wait_for(lambda: self.service is not None and self.service.sending, what="the sender")

    async def serve(self) -> None:
        assert self.service is not None
        manager = MessagingManager(self.service)
        self.session.on_publish = lambda type_, data: manager.publish(type_, data=data)  # to the events stream
        self.server = await start_control(manager, self.config, face="watch")
        assert self.server is not None

    async def stop(self) -> None:
        self.session.on_publish = None
        if self.server is not None:
            await self.server.close()
            self.server = None
        if self.service is not None:
            await self.service.stop()
            self.service = None

    async def incoming(self, message_id: str, text: str) -> None:
        assert self.session.tab is not None
        await self.session.tab.push({"kind": "incoming", "id": message_id, "chat": CONTACT, "type": "chat",
                                     "body": text})  # fmt: skip

    async def ack(self, message_id: str, ack: int, state: str) -> None:
        assert self.session.tab is not None
        await self.session.tab.push({"kind": "ack", "id": message_id, "chat": CONTACT, "ack": ack, "state": state})


@asynccontextmanager
async def running_owner(tmp_path: Path, **messages: object) -> AsyncIterator[Owner]:
    owner = Owner(tmp_path, **messages)
    await owner.start()
    await owner.serve()
    try:
        yield owner
    finally:
        await owner.stop()


async def test_messages_yields_each_message_once_in_order_and_reads_on_after_an_owner_restart(tmp_path: Path) -> None:
    got: list[Message] = []
    async with running_owner(tmp_path) as owner, Client.connect(owner.config) as wa:
        await owner.incoming("3A01", "before the client")
        feed = wa.messages(bodies=True)

        async def collect() -> None:
            async for message in feed:
                got.append(message)

        reader = asyncio.create_task(collect())
        await wait_for(lambda: len(got) == 1, what="what was there before")
        await owner.incoming("3A02", "while it follows")  # a wake-up, well before the poll interval
        sent = await wa.send_text(CONTACT, "its own send")
        await wait_for(lambda: len(got) == 3, what="the new ones")

        await owner.stop()  # the owner goes away; the feed reconnects with backoff
        await asyncio.sleep(0.5)
        await owner.start()  # the same files; what arrives before its socket is up is read by cursor
        await owner.incoming("3A03", "while the owner was away")
        assert owner.service is not None
        later = await owner.service.send_text(CONTACT, "sent by another face")
        await owner.serve()
        await owner.incoming("3A04", "after the restart")
        await wait_for(lambda: len(got) >= 6, what="what came during and after the restart")
        await asyncio.sleep(0.3)  # a repeat would show now
        reader.cancel()

        assert [(m.id, m.direction, m.body) for m in got] == [
            ("3A01", "in", "before the client"),
            ("3A02", "in", "while it follows"),
            (sent.id, "out", "its own send"),
            ("3A03", "in", "while the owner was away"),
            (later.id, "out", "sent by another face"),
            ("3A04", "in", "after the restart"),
        ]
        assert (await wa.page(feed.cursor)).messages == ()  # the cursor is past all of it
        now = [m async for m in _first(wa.messages(since="now"), 0.5)]
        assert now == []  # "now": only what comes after


async def _first(feed: AsyncIterator[Message], seconds: float) -> AsyncIterator[Message]:
    """What ``feed`` yields within ``seconds``."""
    try:
        async with asyncio.timeout(seconds):
            async for message in feed:
                yield message
    except TimeoutError:
        return


async def test_wait_returns_at_the_ack_asked_for_and_fails_with_the_reason(tmp_path: Path) -> None:
    async with running_owner(tmp_path) as owner, Client.connect(owner.config) as wa:
        sent = await wa.send_text(CONTACT, "hello")
        assert (await wa.wait(sent.id, "sent", timeout=10)).status in ("sent", "delivered", "read")
        waiting = asyncio.create_task(wa.wait(sent.id, "delivered", timeout=10))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # sent is not delivered
        await owner.ack(sent.id, 2, "delivered")
        delivered = await waiting
        assert (delivered.id, delivered.status) == (sent.id, "delivered") and delivered.acked_at is not None
        with pytest.raises(WaitTimeout, match=rf"{sent.id} is delivered, not yet read") as timed_out:
            await wa.wait(sent.id, "read", timeout=0.5)
        assert timed_out.value.message is not None and timed_out.value.message.status == "delivered"

        other = await wa.send_text(CONTACT, "this one fails")
        await wa.wait(other.id, "sent", timeout=10)
        failing = asyncio.create_task(wa.wait(other.id, "read", timeout=10))
        await asyncio.sleep(0.2)
        await owner.ack(other.id, -1, "failed")
        with pytest.raises(MessageFailed, match=rf"message {other.id} to {CONTACT} failed: .*failed") as failed:
            await failing
        assert failed.value.message.status == "failed" and failed.value.reason == failed.value.message.reason
        with pytest.raises(Refused, match="no message '3EB0NOPE'") as unknown:
            await wa.wait("3EB0NOPE", "sent", timeout=1)
        assert unknown.value.status == 404
        await owner.incoming("3A05", "hi")
        with pytest.raises(ValueError, match="3A05 is an incoming message: only an outgoing one has acks"):
            await wa.wait("3A05", "sent", timeout=1)
        with pytest.raises(ValueError, match="ack: expected"):
            await wa.wait(sent.id, "seen", timeout=1)  # type: ignore[arg-type]


async def test_wait_waits_through_an_owner_restart(tmp_path: Path) -> None:
    async with running_owner(tmp_path) as owner, Client.connect(owner.config) as wa:
        sent = await wa.send_text(CONTACT, "hello")
        await wa.wait(sent.id, "sent", timeout=10)
        waiting = asyncio.create_task(wa.wait(sent.id, "read", timeout=20))
        await asyncio.sleep(0.2)
        await owner.stop()
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the owner away is no answer
        await owner.start()
        await owner.serve()
        await owner.ack(sent.id, 3, "read")
        assert (await waiting).status == "read"


async def test_events_come_with_their_data_and_end_saying_the_owner_went(tmp_path: Path) -> None:
    async with running_owner(tmp_path) as owner, Client.connect(owner.config) as wa:
        seen: list[Event] = []

        async def follow() -> None:
            async for event in wa.events():
                seen.append(event)

        reader = asyncio.create_task(follow())
        await asyncio.sleep(0.2)  # subscribed
        await owner.incoming("3A09", "psst")
        await wait_for(lambda: any(e.type == "message" for e in seen), what="the message event")
        event = next(e for e in seen if e.type == "message")
        assert (event.data["id"], event.data["size"], event.info.state) == ("3A09", 4, S.UNLAUNCHED)
        assert "body" not in event.data
        await owner.stop()
        with pytest.raises(OwnerNotRunning, match="events stream .* ended"):
            await asyncio.wait_for(reader, 10)


async def test_without_an_owner_connect_says_how_to_start_one(tmp_path: Path) -> None:
    config = config_in(tmp_path)
    with pytest.raises(OwnerNotRunning, match=r"no watui runs the session .* start one with 'watui watch'"):
        async with Client.connect(config):
            pass
    with pytest.raises(OwnerNotRunning, match=r"start one with 'watui --demo watch'"):
        async with Client.connect(config, demo=True):
            pass
    with pytest.raises(OwnerNotRunning, match=r"127\.0\.0\.1:9.*'watui serve'"):
        async with Client.connect(url="http://127.0.0.1:9"):  # the discard port: nothing listens
            pass


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the socket to another user")
async def test_a_socket_file_of_another_user_is_refused(tmp_path: Path) -> None:
    async with running_owner(tmp_path) as owner:
        os.chown(socket_path(owner.config), 65534, 65534)  # nobody's file now, at the owner's path
        with pytest.raises(Refused, match=r"owned by uid 65534, expected 0") as refused:
            async with Client.connect(owner.config):
                pass
        assert refused.value.status is None  # refused before any request


async def test_the_owners_refusals_carry_their_status_and_reason(tmp_path: Path) -> None:
    async with running_owner(tmp_path, max_queued=1) as owner, Client.connect(owner.config) as wa:
        with pytest.raises(Refused, match="to:") as bad:
            await wa.send_text("0612345678", "x")
        assert bad.value.status == 400
        owner.session.state(S.TIMEOUT)  # nothing sends now: the first waits, the next finds the outbox full
        await wait_for(lambda: owner.service is not None and not owner.service.sending, what="the sender stopped")
        await wa.send_text(CONTACT, "waits")
        with pytest.raises(Refused, match="max_queued") as full:
            await wa.send_text(CONTACT, "one too many")
        assert full.value.status == 429 and full.value.retry_after is not None and full.value.retry_after >= 1
        owner.session.on_disk = owner.session.wid = None
        with pytest.raises(Refused, match="scan the QR") as unlinked:
            await wa.send_text(CONTACT, "from nobody", key="k2")
        assert unlinked.value.status == 409


async def test_a_serve_url_with_its_token(tmp_path: Path) -> None:
    owner = Owner(tmp_path)
    await owner.start()
    assert owner.service is not None
    try:
        manager = MessagingManager(owner.service)
        owner.session.on_publish = lambda type_, data: manager.publish(type_, data=data)
        async with running_api(manager, token="t0ken") as api:
            async with Client.connect(url=api.url, token="t0ken") as wa:
                assert (await wa.status()).state is S.UNLAUNCHED  # the fake session's snapshot
                sent = await wa.send_text(CONTACT, "over http")
                assert (await wa.wait(sent.id, "sent", timeout=10)).status == "sent"
            with pytest.raises(Refused, match="wrong API token") as wrong:
                async with Client.connect(url=api.url, token="guess"):
                    pass
            assert wrong.value.status == 401
    finally:
        await owner.stop()


def test_the_echo_bot_of_the_docs_is_the_example_the_e2e_test_runs_and_at_most_20_lines() -> None:
    root = Path(__file__).resolve().parents[2]
    code = (root / "examples" / "echo_bot.py").read_text()
    blocks = re.findall(r"```python\n(.*?)```", (root / "docs" / "python-client.md").read_text(), re.S)
    assert code in blocks
    assert len(code.splitlines()) <= 20
