"""Webhooks through watui itself: a `watch` owner on `watui sim`, a receiver that checks the signature and is
down for a while, and a kill -9 of watui in between. Every incoming message reaches it once, in order."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.support.alert_receiver import receiver
from tests.support.messaging_e2e import CONFIG, CONTACTS, Site, connected_owner, wait_until
from tests.support.watui_proc import free_port

pytestmark = pytest.mark.browser
SECRET = "a webhook secret for the test"


def _inbox_ids(owner: Any) -> list[str]:
    status, page = owner.api("GET", "/api/whatsapp/messages?limit=1000")
    assert status == 200
    return [m["id"] for m in page["messages"] if m["direction"] == "in"]


def test_incoming_messages_reach_a_receiver_down_across_a_kill_9_of_watui_once_each_in_order(
    tmp_path: Path, site: Site, chromium_path: Path
) -> None:
    port = free_port()  # nobody listens there yet: the receiver is down
    config = CONFIG + (
        f'\n[messages.webhook]\nurl = "http://127.0.0.1:{port}/hook"\nsecret = "{SECRET}"\nevents = ["message"]\n'
        "timeout_s = 2\nbackoff_initial_s = 0.1\nbackoff_max_s = 0.5\n"
    )
    with connected_owner(tmp_path / "work", site, config) as owner:
        for n in range(3):
            site.call("/__sim/incoming", "POST", {"from": CONTACTS[n % 2], "text": f"while down {n}"})
        wait_until(lambda: len(_inbox_ids(owner)) >= 3, "the 3 messages in the inbox")
        owner.kill9()  # undelivered, with watui gone: only the files know
        for n in range(2):
            site.call("/__sim/incoming", "POST", {"from": CONTACTS[n % 2], "text": f"while stopped {n}"})
        owner.start()  # the same files; the two written meanwhile arrive at its next connect
        wait_until(lambda: owner.state() == "CONNECTED", "watui connected again")
        wait_until(lambda: len(_inbox_ids(owner)) >= 5, "the 5 messages in the inbox")
        expected = _inbox_ids(owner)
        with receiver(secret=SECRET, port=port) as rec:  # the receiver is back where it was
            wait_until(lambda: len(rec.requests) >= 5, "5 deliveries", timeout=30)
            time.sleep(1.0)  # anything delivered twice would show now
    assert all(r.status == 200 for r in rec.requests)  # each signed with the secret (a bad one gets 401)
    delivered = [r.json for r in rec.requests]
    assert [d["id"] for d in delivered] == expected  # once each, in the order they were received
    assert [d["event"] for d in delivered] == ["message"] * 5
    assert [d["body"] for d in delivered] == [
        "while down 0",
        "while down 1",
        "while down 2",
        "while stopped 0",
        "while stopped 1",
    ]
    assert {r.headers["x-watui-delivery"] for r in rec.requests} == {d["delivery"] for d in delivered}
