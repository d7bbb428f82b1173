"""Messaging through watui itself: a `watch` owner on a simulator that outlives it (`watui sim`), sends
POSTed to the owner's control socket, and what the contacts received counted in `/__sim/messages`.

Real processes, real sockets, a real Chromium, real signals: kill -9 of watui and of Chromium with a send
in flight (Chromium stopped with SIGSTOP, so the send is certainly cut after its claim was committed),
the site down while sends are accepted, contacts writing while watui is stopped, a phone logout with
messages waiting. The pace is lifted to
600 a minute in the test config (one every 0.1 s), so a batch takes seconds.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.messaging_e2e import CONTACTS, SOCKET, Owner, Site, connected_owner, wait_until
from watui.core.messages.port import Message, MessagePage
from watui.core.ports import MESSAGES
from watui.remote.client import OwnerClient
from watui.remote.session import RemoteSession

pytestmark = pytest.mark.browser


def _ids(received: list[dict[str, Any]]) -> list[str]:
    return [m["id"] for m in received]


def test_100_messages_posted_to_the_owner_reach_the_contacts_once_each_in_order(owner: Owner, site: Site) -> None:
    site.call("/__sim/ack?freeze=1", "POST")  # the contacts' phones answer only when the test says
    accepted = [owner.send(CONTACTS[n % 3], f"message {n}") for n in range(100)]
    assert {m["status"] for m in accepted} == {"queued"}
    wait_until(lambda: len(site.received()) >= 100, "100 messages at the contacts")
    time.sleep(0.5)  # anything sent twice would show now
    received = site.received()
    assert _ids(received) == [m["id"] for m in accepted]  # watui's ids, each once, in the order accepted
    assert [m["body"] for m in received] == [f"message {n}" for n in range(100)]
    assert [m["to"] for m in received] == [f"{CONTACTS[n % 3]}@c.us" for n in range(100)]

    # The contact's phone acks: delivered, then read, and the message's status follows.
    first = accepted[0]["id"]
    wait_until(lambda: owner.message(first)["status"] == "sent", "sent")
    site.call(f"/__sim/ack?id={first}&ack=2", "POST")
    wait_until(lambda: owner.message(first)["status"] == "delivered", "delivered")
    site.call(f"/__sim/ack?id={first}&ack=3", "POST")
    wait_until(lambda: owner.message(first)["status"] == "read", "read")
    assert owner.message(first)["ackedAt"] >= owner.message(first)["sentAt"]
    assert owner.message(accepted[1]["id"])["status"] == "sent"  # frozen: still only the server's
    # What the owner answers is what a remote client rebuilds (MessagingPort's JSON), field for field.
    read = Message.from_json(owner.message(first))
    assert (read.id, read.status, read.chat, read.size) == (first, "read", f"{CONTACTS[0]}@c.us", len("message 0"))
    assert Message.from_json(read.to_json()) == read
    _status, listing = owner.api("GET", "/api/whatsapp/messages?limit=1000")
    assert [m.id for m in MessagePage.from_json(listing).messages] == [m["id"] for m in accepted]

    # Another watui process drives the same port through the owner (RemoteSession over the socket).
    async def remotely() -> tuple[Message, Message | None, Message | None, MessagePage, MessagePage]:
        async with OwnerClient(owner.cwd / SOCKET) as client:
            await client.hello()
            remote = RemoteSession(client, await client.status())
            assert MESSAGES in remote.capabilities
            sent = await remote.send_text(f"+{CONTACTS[1]}", "from another process", key="remote-1")
            head = await remote.messages()  # the first 100, then what came after them
            rest = await remote.messages(since=head.cursor)
            return sent, await remote.message(sent.id), await remote.message("3EB0UNKNOWN"), head, rest

    sent, again, unknown, head, rest = asyncio.run(remotely())
    assert (sent.status, again and again.id, unknown) == ("queued", sent.id, None)
    assert [m.id for m in head.messages] == [m["id"] for m in accepted] and [m.id for m in rest.messages] == [sent.id]
    wait_until(lambda: _ids(site.received())[-1:] == [sent.id], "the remote send at the contact")

    # The events stream said so, with ids and sizes, never a body.
    wait_until(lambda: ("read", first) in {(e.get("status"), e.get("id")) for e in owner.events()}, "the read event")
    acks = [e for e in owner.events() if e["type"] == "ack"]
    assert [e["status"] for e in acks if e["id"] == first] == ["queued", "sent", "delivered", "read"]
    assert {e["id"] for e in acks if e["status"] == "sent"} == {m["id"] for m in accepted} | {sent.id}
    assert not any("message 1" in json.dumps(e) for e in owner.events())


def _assert_each_once_in_order_per_chat(received: list[dict[str, Any]], accepted: list[str]) -> None:
    """Every accepted message once, none else, and each chat's in the order accepted (a chat whose send was
    cut waits for its check while the other chats go on, so the chats may interleave differently)."""
    got = _ids(received)
    assert sorted(got) == sorted(accepted) and len(got) == len(set(got)), (got, accepted)
    chat_of = {m["id"]: m["to"] for m in received}
    for chat in set(chat_of.values()):
        assert [i for i in got if chat_of[i] == chat] == [i for i in accepted if chat_of[i] == chat]


def _kill_with_a_send_in_flight(owner: Owner, site: Site, batch: int, kill: Callable[[], None]) -> list[str]:
    """Accept ``batch`` messages, freeze Chromium (SIGSTOP) once a few went, wait until the outbox holds a
    claimed one (asked of the page, never answered), then ``kill``. The ids accepted."""
    accepted = [owner.send(CONTACTS[n % 3], f"batch {n}")["id"] for n in range(batch)]
    wait_until(lambda: len(site.received()) >= 3, "the first sends")
    owner.signal_browsers(signal.SIGSTOP)

    def claimed() -> bool:
        status, page = owner.api("GET", "/api/whatsapp/messages?limit=1000")
        return status == 200 and any(m["status"] == "claimed" for m in page["messages"])

    wait_until(claimed, "a send in flight")
    in_flight = len(site.received())
    kill()
    assert in_flight < batch
    return accepted


def test_kill_9_of_watui_with_a_send_in_flight_then_a_restart_sends_each_exactly_once(owner: Owner, site: Site) -> None:
    def kill() -> None:
        owner.kill9()
        owner.signal_browsers(signal.SIGKILL)  # the frozen browser it left

    accepted = _kill_with_a_send_in_flight(owner, site, 20, kill)
    owner.start()  # the login is kept: no QR
    wait_until(lambda: len(site.received()) >= 20, "all 20 at the contacts after the restart")
    time.sleep(0.5)
    _assert_each_once_in_order_per_chat(site.received(), accepted)
    assert {owner.message(i)["status"] for i in accepted} <= {"sent", "delivered", "read"}


def test_kill_9_of_chromium_with_a_send_in_flight_sends_each_exactly_once(owner: Owner, site: Site) -> None:
    accepted = _kill_with_a_send_in_flight(owner, site, 20, lambda: owner.signal_browsers(signal.SIGKILL))
    wait_until(lambda: len(site.received()) >= 20, "all 20 at the contacts after watui's own recovery", timeout=90)
    time.sleep(0.5)
    _assert_each_once_in_order_per_chat(site.received(), accepted)
    assert owner.proc is not None and owner.proc.poll() is None  # the same watui, its browser relaunched


def test_sends_accepted_while_the_site_is_down_go_when_it_is_back(owner: Owner, site: Site) -> None:
    site.call("/__sim/down", "POST")
    wait_until(lambda: owner.state() != "CONNECTED", "the session to notice")
    accepted = [owner.send(CONTACTS[0], f"while down {n}")["id"] for n in range(5)]
    time.sleep(1.0)
    assert site.received() == []
    assert {owner.message(i)["status"] for i in accepted} == {"queued"}
    site.call("/__sim/up", "POST")
    wait_until(lambda: len(site.received()) >= 5, "the 5 sent once the site is back", timeout=90)
    assert _ids(site.received()) == accepted

    # Once more with the same idempotency key: one message. A number not on WhatsApp: failed, naming it.
    status, first = owner.api("POST", "/api/whatsapp/messages", {"to": CONTACTS[1], "text": "once", "key": "k-1"})
    status2, second = owner.api("POST", "/api/whatsapp/messages", {"to": CONTACTS[1], "text": "once", "key": "k-1"})
    assert (status, status2) == (202, 202) and first["id"] == second["id"]
    stranger = owner.send("15559990000", "who are you?")["id"]
    wait_until(lambda: owner.message(stranger)["status"] == "failed", "the stranger's message failed")
    assert owner.message(stranger)["reason"] == "15559990000 is not on WhatsApp"
    wait_until(lambda: len(site.received()) >= 6, "the keyed message")
    time.sleep(0.3)
    assert _ids(site.received()) == [*accepted, first["id"]]


def test_messages_written_while_watui_was_stopped_are_in_its_inbox_after_the_restart(owner: Owner, site: Site) -> None:
    site.call("/__sim/incoming", "POST", {"from": CONTACTS[1], "text": "before"})
    wait_until(lambda: any(e["type"] == "message" for e in owner.events()), "the first message event")
    owner.kill9()
    owner.signal_browsers(signal.SIGKILL)
    wait_until(lambda: site.call("/__sim/state")["connections"] == 0, "the dead browser's connection to go")
    for n in range(3):
        assert site.call("/__sim/incoming", "POST", {"from": CONTACTS[0], "text": f"away {n}"})["pages"] == 0
    owner.start()

    def inbox() -> list[dict[str, Any]]:
        status, page = owner.api("GET", "/api/whatsapp/messages?bodies=1")
        return [m for m in page["messages"] if m["direction"] == "in"] if status == 200 else []

    wait_until(lambda: len(inbox()) >= 4, "the 4 incoming messages in the inbox")
    assert [m["body"] for m in inbox()] == ["before", "away 0", "away 1", "away 2"]
    assert [m["chat"] for m in inbox()][1:] == [f"{CONTACTS[0]}@c.us"] * 3
    # A reader with the cursor of the first answer gets nothing again; the events said it without the bodies.
    _status, first = owner.api("GET", "/api/whatsapp/messages")
    _status, again = owner.api("GET", f"/api/whatsapp/messages?since={first['cursor']}")
    assert again["messages"] == []
    events = [e for e in owner.events() if e["type"] == "message"]
    assert len(events) == 4 and not any("away" in json.dumps(e) for e in events)


SLOW = """
[messages]
max_per_minute = 1
min_gap_per_chat_s = 0
"""


def test_a_phone_logout_fails_what_is_queued_and_a_send_after_it_is_refused(tmp_path: Path, site: Site) -> None:
    with connected_owner(tmp_path / "slow", site, SLOW) as owner:  # one send a minute: the rest waits
        first, *waiting = (owner.send(CONTACTS[0], f"paced {n}")["id"] for n in range(3))
        wait_until(lambda: _ids(site.received()) == [first], "the first send")
        site.call("/__sim/logout", "POST")
        wait_until(lambda: {owner.message(i)["status"] for i in waiting} == {"failed"}, "the queue failed")
        assert {owner.message(i)["reason"] for i in waiting} == {"logged out"}
        status, answer = owner.api("POST", "/api/whatsapp/messages", {"to": CONTACTS[0], "text": "after"})
        assert status == 409 and "scan the QR" in answer["error"]
        assert _ids(site.received()) == [first]


def test_groups_through_watui_a_send_lands_once_a_member_writes_with_its_author_an_unknown_group_fails(
    owner: Owner, site: Site
) -> None:
    group = site.call("/__sim/groups", "POST", {"name": "Ops on-call", "members": list(CONTACTS[:2])})["id"]
    sent = owner.send(group, "deploy at 5")
    wait_until(lambda: _ids(site.received()) == [sent["id"]], "the group send at the site")
    wait_until(lambda: owner.message(sent["id"])["status"] in ("sent", "delivered", "read"), "the send sent")
    time.sleep(0.5)  # a second send would show now
    [received] = site.received()
    assert (received["to"], received["body"]) == (group, "deploy at 5")
    assert received["members"] == [f"{n}@c.us" for n in CONTACTS[:2]]  # every member's phone has it
    assert owner.message(sent["id"])["chat"] == group

    # A member writes in the group; another sends a photo with a caption (no media download: the caption).
    site.call("/__sim/incoming", "POST", {"group": group, "from": CONTACTS[1], "text": "on it"})
    site.call("/__sim/incoming", "POST", {"from": CONTACTS[0], "type": "image", "caption": "the dashboard"})

    def inbox() -> list[dict[str, Any]]:
        status, page = owner.api("GET", "/api/whatsapp/messages?bodies=1")
        return [m for m in page["messages"] if m["direction"] == "in"] if status == 200 else []

    wait_until(lambda: len(inbox()) >= 2, "the two incoming messages in the inbox")
    got = [(m["chat"], m.get("sender"), m["kind"], m["body"]) for m in inbox()]
    assert got == [
        (group, f"{CONTACTS[1]}@c.us", "chat", "on it"),
        (f"{CONTACTS[0]}@c.us", None, "image", "the dashboard"),
    ]

    # A group this account is not in: failed at once, the reason naming it, nothing at the site.
    missing = "120363000000000009@g.us"
    stray = owner.send(missing, "anyone?")
    wait_until(lambda: owner.message(stray["id"])["status"] == "failed", "the send to an unknown group failed")
    assert missing in owner.message(stray["id"])["reason"] and "not a group" in owner.message(stray["id"])["reason"]
    assert _ids(site.received()) == [sent["id"]]
