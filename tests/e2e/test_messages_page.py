"""The page side of messaging on a real Chromium and the real simulator (``modules`` page).

Sends carry watui's own id to the contact (``/__sim/messages``); ``find`` answers from WhatsApp's store and
says "unknown" before it is synced; a number not on WhatsApp is refused for good, naming it; acks advance
(and a frozen one stays); a contact's message reaches the callback; only the tab's main frame is heard.
Then the three together: the outbox's Sender, this adapter and a Chromium killed with SIGKILL mid-batch,
relaunched on the same profile: every message reaches the contact once, in order, none handed twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from tests.support.sim_page import WA_URL, chromium_flags, until
from watui.config import DESKTOP_USER_AGENT, MessagesSettings
from watui.core.messages import Found, Inbox, Incoming, NotSent, Outbox, OutboxRow, Sender, State, new_message_id
from watui.core.messages.page import Ack, PageMessaging, page_script
from watui.sim.server import Simulator

ACCOUNT = "15550001234@c.us"  # the simulator's account
CONTACT = "15550002001"
STRANGER = "15559990000"
FAST = MessagesSettings(max_per_minute=600_000.0, min_gap_per_chat_s=0.0)


@pytest.fixture
async def msim(tmp_path: Path) -> AsyncIterator[Simulator]:
    simulator = Simulator(page="modules", state_dir=tmp_path / "simstate", ack_step_ms=150)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()


@contextlib.asynccontextmanager
async def chromium(sim: Simulator, profile: Path, executable: Path) -> AsyncIterator[BrowserContext]:
    """A headless Chromium on ``profile`` seeing ``sim`` as web.whatsapp.com; closing tolerates one killed."""
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile), executable_path=str(executable), headless=True, args=chromium_flags(sim),
            ignore_https_errors=True, user_agent=DESKTOP_USER_AGENT,
        )  # fmt: skip
        try:
            yield context
        finally:
            with contextlib.suppress(Exception):
                await context.close()


async def wa_socket(page: Page, expression: str, timeout_ms: float = 15000) -> None:
    await page.wait_for_function(
        "(e) => typeof window.require === 'function' && new Function('S', 'return ' + e)"
        "(window.require('WAWebSocketModel').Socket)",
        arg=expression, timeout=timeout_ms,
    )  # fmt: skip


class Heard:
    def __init__(self) -> None:
        self.acks: list[Ack] = []
        self.incoming: list[Incoming] = []
        self.delays: list[float] = []

    async def ack(self, ack: Ack) -> None:
        self.acks.append(ack)

    async def got(self, incoming: Incoming) -> None:
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))  # a commit to the inbox takes a while
        self.incoming.append(incoming)

    def states(self, msg_id: str) -> list[str]:
        return [a.state for a in self.acks if a.id == msg_id]


async def open_tab(
    sim: Simulator,
    context: BrowserContext,
    heard: Heard | None = None,
    *,
    scan: bool = True,
    synced: bool = True,
    confirm_s: float = 30.0,
) -> tuple[Page, PageMessaging]:
    """The first tab, with the adapter installed before WhatsApp Web loads, logged in (scanning if asked)."""
    page = context.pages[0] if context.pages else await context.new_page()
    heard = heard or Heard()
    adapter = PageMessaging(page, ACCOUNT, on_ack=heard.ack, on_incoming=heard.got, confirm_s=confirm_s)
    await adapter.install()
    await page.goto(WA_URL)
    if scan:
        await wa_socket(page, "S.state === 'UNPAIRED'")
        await sim.scan()
    await wa_socket(page, "S.state === 'CONNECTED'")
    if synced:
        await wa_socket(page, "S.hasSynced")
    return page, adapter


class IntoFiles(Heard):
    """Events go where the wiring will send them: acks to the outbox file, incoming messages to the inbox."""

    def __init__(self, outbox: Outbox, inbox: Inbox) -> None:
        super().__init__()
        self.outbox = outbox
        self.inbox = inbox

    async def ack(self, ack: Ack) -> None:
        await super().ack(ack)
        if ack.outbox_state is not None:
            await self.outbox.record_ack_async(ack.id, ack.outbox_state)

    async def got(self, incoming: Incoming) -> None:
        await super().got(incoming)
        await self.inbox.record_incoming_async(incoming)


def row(chat: str, body: str, msg_id: str | None = None) -> OutboxRow:
    return OutboxRow(seq=1, id=msg_id or new_message_id(), account=ACCOUNT, chat=chat, body=body)


async def control(sim: Simulator, method: str, path: str, payload: Any = None) -> dict[str, Any]:
    data = None if payload is None else json.dumps(payload)
    async with aiohttp.ClientSession() as http, http.request(method, sim.base_url + path, data=data,
                                                             ssl=False) as resp:  # fmt: skip
        body: dict[str, Any] = await resp.json()
        assert resp.status == 200, body
        return body


async def test_a_send_carries_our_id_to_the_contact_and_find_sees_it(
    msim: Simulator, tmp_path: Path, chromium_path: Path
) -> None:
    heard = Heard()
    async with chromium(msim, tmp_path / "profile", chromium_path) as context:
        page, adapter = await open_tab(msim, context, heard, synced=False)
        message = row(f"{CONTACT}@c.us", "hello from watui")
        # Connected, its offline backlog not in yet (the simulator takes 1.5 s): the store cannot tell.
        assert not await page.evaluate("() => window.require('WAWebSocketModel').Socket.hasSynced")
        assert await adapter.find(message.chat, message.id) is Found.UNKNOWN
        await wa_socket(page, "S.hasSynced")
        assert await adapter.find(message.chat, message.id) is Found.NOT_FOUND
        await adapter.send(message)
        sent = (await control(msim, "GET", "/__sim/messages"))["messages"]
        assert [(m["id"], m["to"], m["body"]) for m in sent] == [(message.id, message.chat, "hello from watui")]
        assert await adapter.find(message.chat, message.id) is Found.FOUND
        assert await adapter.find("15550002002@c.us", message.id) is Found.NOT_FOUND  # the id, in its own chat
        # Sent (the server), delivered (the phone), read (its eyes): in that order, each once.
        await until(lambda: "read" in heard.states(message.id), "the read ack")
        assert heard.states(message.id) == ["sent", "delivered", "read"]
        assert [a.outbox_state for a in heard.acks] == [State.SENT, State.DELIVERED, State.READ]
        # A frozen ack stays where it is.
        await control(msim, "POST", "/__sim/ack?freeze=1")
        frozen = row(f"{CONTACT}@c.us", "held")
        await adapter.send(frozen)
        await asyncio.sleep(0.6)  # four steps of the ack clock
        assert heard.states(frozen.id) == ["sent"]
        await control(msim, "POST", f"/__sim/ack?id={frozen.id}&ack=3")
        await until(lambda: heard.states(frozen.id) == ["sent", "read"], "the ack moved by hand")


async def test_a_number_not_on_whatsapp_or_a_page_offline_is_not_sent(
    msim: Simulator, tmp_path: Path, chromium_path: Path
) -> None:
    async with chromium(msim, tmp_path / "profile", chromium_path) as context:
        page, adapter = await open_tab(msim, context, confirm_s=3.0)
        with pytest.raises(NotSent) as refused:
            await adapter.send(row(f"{STRANGER}@c.us", "anyone there?"))
        assert refused.value.permanent and refused.value.reason == f"{STRANGER} is not on WhatsApp"
        body = msim.messages()
        assert (body["messages"], body["undeliverable"]) == ([], [])  # never handed to WhatsApp
        first = row(f"{CONTACT}@c.us", "now")
        await adapter.send(first)  # the contact is known to be on WhatsApp from here on
        # A contact that left WhatsApp since the page checked it: WhatsApp's server refuses, for good.
        carol = row("15550002002@c.us", "are you there?")
        await adapter.send(row(carol.chat, "hi Carol"))
        await control(msim, "POST", "/__sim/numbers?remove=15550002002")
        with pytest.raises(NotSent) as gone:
            await adapter.send(carol)
        assert gone.value.permanent and gone.value.reason == "WhatsApp's server refused the message"
        await msim.down()
        await wa_socket(page, "S.state !== 'CONNECTED'")
        with pytest.raises(NotSent) as offline:
            await adapter.send(row(f"{CONTACT}@c.us", "later"))
        assert not offline.value.permanent
        assert offline.value.reason.startswith("WhatsApp Web is not connected (state ")
        await msim.up()
        await wa_socket(page, "S.state === 'CONNECTED'")
        await asyncio.sleep(0.3)
        assert [m["body"] for m in msim.messages()["messages"]] == ["now", "hi Carol"]  # "later" never handed over


async def test_incoming_messages_reach_the_callback_only_from_the_tabs_main_frame(
    msim: Simulator, tmp_path: Path, chromium_path: Path
) -> None:
    heard = Heard()
    async with chromium(msim, tmp_path / "profile", chromium_path) as context:
        page, _adapter = await open_tab(msim, context, heard)
        written = await control(msim, "POST", "/__sim/incoming", {"from": CONTACT, "text": "lunch at 1?"})
        await until(lambda: bool(heard.incoming), "the incoming message")
        (got,) = heard.incoming
        want = (written["id"], f"{CONTACT}@c.us", "lunch at 1?", ACCOUNT, "chat")
        assert (got.id, got.chat, got.body, got.account, got.kind) == want
        assert got.t is not None and abs(got.t - time.time()) < 60
        # A frame inside the tab reaches the same binding: it is not the session's page, so it is not heard.
        await page.evaluate(
            """() => new Promise((done) => {
              const f = document.createElement("iframe");
              f.srcdoc = "<p>x</p>";
              f.onload = () => {
                f.contentWindow.__watuiMessagesPush({kind: "incoming", id: "FORGED", chat: "15550002002@c.us",
                                                     body: "from a frame", t: 1, type: "chat"}).then(done, done);
              };
              document.body.appendChild(f);
            })"""
        )
        await page.evaluate("() => window.__watuiMessagesPush({kind: 'ping'})")  # a round trip after it
        assert [m.id for m in heard.incoming] == [written["id"]]
        # A burst, each one's commit slower than the next's: the callbacks still run in the page's order.
        heard.delays = [0.03 - 0.001 * n for n in range(30)]
        await page.evaluate(
            """() => { for (let n = 0; n < 30; n++) window.__watuiMessagesPush(
                {kind: "incoming", id: "B" + n, chat: "15550002002@c.us", body: "b", t: 1, type: "chat"}); }"""
        )
        await until(lambda: len(heard.incoming) == 31, "the burst")
        assert [m.id for m in heard.incoming[1:]] == [f"B{n}" for n in range(30)]


def state_of(outbox: Outbox, msg_id: str) -> State:
    found = outbox.get(msg_id)
    assert found is not None
    return found.state


def chromium_pid(profile: Path) -> int:
    """The browser's pid, from the profile's SingletonLock (``hostname-pid``)."""
    return int(os.readlink(profile / "SingletonLock").rsplit("-", 1)[1])


async def test_sender_through_the_page_sends_each_once_across_a_chromium_killed_mid_batch(
    msim: Simulator, tmp_path: Path, chromium_path: Path
) -> None:
    profile = tmp_path / "profile"
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    inbox = Inbox.open(tmp_path / "inbox.sqlite")
    chat = f"{CONTACT}@c.us"
    ids = [outbox.accept(chat, f"message {n}", account=ACCOUNT).id for n in range(20)]
    victim = ids[7]
    killed = asyncio.Event()

    def kill_at_victim(line: str) -> None:  # the contact has message 8; its answer never reaches the page
        if line.startswith(f"message {victim} ") and not killed.is_set():
            os.kill(chromium_pid(profile), signal.SIGKILL)
            killed.set()

    msim.on_event = kill_at_victim
    async with chromium(msim, profile, chromium_path) as context:
        _page, adapter = await open_tab(msim, context, IntoFiles(outbox, inbox))
        task = asyncio.create_task(Sender(outbox, adapter, ACCOUNT, retry_s=0.2).run())
        await asyncio.wait_for(killed.wait(), 30)
        await asyncio.sleep(0.3)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    assert state_of(outbox, victim) is State.CLAIMED  # killed between the send and its confirmation
    assert [m["id"] for m in msim.messages()["messages"]] == ids[:8]
    written = await control(msim, "POST", "/__sim/incoming", {"from": CONTACT, "text": "while you were away"})

    async with chromium(msim, profile, chromium_path) as context:  # the same profile: logged in, no scan
        _page, adapter = await open_tab(msim, context, IntoFiles(outbox, inbox), scan=False)
        # The relaunched tab knows what it sent before the kill, and what it did not.
        assert await adapter.find(chat, victim) is Found.FOUND
        assert await adapter.find(chat, new_message_id()) is Found.NOT_FOUND
        sender = Sender(outbox, adapter, ACCOUNT, retry_s=0.2)
        assert await sender.recover()
        assert state_of(outbox, victim) in (State.SENT, State.DELIVERED, State.READ)  # confirmed, not sent again
        task = asyncio.create_task(sender.run())
        try:
            await until(lambda: len(outbox.rows(states=[State.QUEUED, State.CLAIMED])) == 0, "all 20 sent", 30)
            # Each one's acks reach the outbox, also those the killed tab never heard (replayed at the connect).
            await until(lambda: len(outbox.rows(states=[State.READ])) == 20, "all 20 read", 30)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    assert [m["id"] for m in msim.messages()["messages"]] == ids  # exactly those 20, in order, once each
    assert [m["body"] for m in msim.messages()["messages"]] == [f"message {n}" for n in range(20)]
    assert [r.attempts for r in outbox.rows()] == [1] * 20  # none handed to the page twice
    assert msim.state()["scans"] == 1
    # Written while no tab was up: in the inbox once, at the next connect.
    assert [(r.id, r.chat, r.body) for r in inbox.read()] == [(written["id"], chat, "while you were away")]
    outbox.close()
    inbox.close()


class BindingOnlyTab:
    """For the checks made in Python on what the binding receives (no JavaScript runs here)."""

    main_frame = object()

    def is_closed(self) -> bool:
        return False

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        raise AssertionError("not used")

    async def expose_binding(self, name: str, callback: Any) -> None:
        raise AssertionError("not used")

    async def add_init_script(self, script: str | None = None) -> None:
        raise AssertionError("not used")


def test_messaging_module_names_are_checked_and_reach_the_script() -> None:
    with pytest.raises(ValueError, match="unknown messaging module 'msgs' \\(expected one of: socket, "):
        PageMessaging(BindingOnlyTab(), ACCOUNT, modules={"msgs": "WAWebCollections"})
    with pytest.raises(ValueError, match="messaging module 'collections' = 'no such!' is not a module name"):
        PageMessaging(BindingOnlyTab(), ACCOUNT, modules={"collections": "no such!"})
    script = page_script("__push", {"collections": "WAWebCollectionsV2"})
    assert '"collections": "WAWebCollectionsV2"' in script and '"query_exists": "WAWebQueryExistsJob"' in script
    assert 'const BINDING = "__push";' in script


async def test_a_failing_callback_is_logged_and_the_next_event_still_arrives(caplog: pytest.LogCaptureFixture) -> None:
    tab = BindingOnlyTab()
    got: list[str] = []

    def on_incoming(message: Incoming) -> None:
        got.append(message.id)
        if message.id == "A":
            raise RuntimeError("disk full")

    acks: list[Ack] = []
    adapter = PageMessaging(tab, ACCOUNT, on_incoming=on_incoming, on_ack=acks.append)
    main = {"frame": tab.main_frame}
    for msg_id in ("A", "B"):
        await adapter._pushed(main, {"kind": "incoming", "id": msg_id, "chat": "15550002001@c.us", "body": "b"})
    assert got == ["A", "B"] and "the page's incoming event was not handled: disk full" in caplog.text
    await adapter._pushed(main, {"kind": "ack", "id": "A", "chat": "x@c.us", "ack": "2", "state": "delivered"})
    await adapter._pushed(main, {"kind": "ack", "id": "A", "chat": "x@c.us", "ack": 2, "state": "seen"})
    assert acks == []  # malformed: dropped
    await adapter._pushed(main, {"kind": "ack", "id": "A", "chat": "x@c.us", "ack": -1, "state": "failed"})
    assert [(a.state, a.outbox_state) for a in acks] == [("failed", None)]


async def test_an_adapter_installed_on_a_tab_already_open_hears_what_came_before(
    msim: Simulator, tmp_path: Path, chromium_path: Path
) -> None:
    async with chromium(msim, tmp_path / "profile", chromium_path) as context:
        page = context.pages[0] if context.pages else await context.new_page()
        await page.goto(WA_URL)
        await wa_socket(page, "S.state === 'UNPAIRED'")
        await msim.scan()
        await wa_socket(page, "S.hasSynced")
        written = await control(msim, "POST", "/__sim/incoming", {"from": CONTACT, "text": "before you looked"})
        await until(lambda: msim.messages()["incoming"][0]["delivered"], "the tab to have the message")
        heard = Heard()
        adapter = PageMessaging(page, ACCOUNT, on_ack=heard.ack, on_incoming=heard.got)
        await adapter.install()  # the session's tab, handed over later
        await until(lambda: bool(heard.incoming), "the message from before")
        assert [(m.id, m.body) for m in heard.incoming] == [(written["id"], "before you looked")]
        await adapter.send(row(f"{CONTACT}@c.us", "sorry, just saw it"))
        assert [m["body"] for m in msim.messages()["messages"]] == ["sorry, just saw it"]
