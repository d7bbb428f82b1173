"""The judge of the simulator's fidelity is a client no one here wrote: whatsapp-web.js, pinned.

Pointed at the simulator (``modules`` page) through Chromium's host-resolver rule, the most used public
client must emit ``qr`` with exactly the simulator's payload, ``authenticated`` after a scan, then
``ready``; its ``getState()`` says CONNECTED, its ``sendMessage`` reaches the contact (``/__sim/messages``)
with acks that advance, its ``isRegisteredUser`` asks the simulator's QueryExists, and a contact's message
(``/__sim/incoming``) fires its ``message`` event; in a group (``/__sim/groups``) the message's ``from`` is the
group and its ``author`` the member, its ``sendMessage`` to the group reaches the members, and one to a group
the account is not in fails naming it. It is installed with npm once per machine
(``PUPPETEER_SKIP_DOWNLOAD=1``: it drives Debian's Chromium); the test is skipped, saying why, when node,
npm or the npm registry is not reachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.wwebjs import CHROMIUM, install_wwebjs
from watui.sim.server import Simulator

pytestmark = pytest.mark.browser

CLIENT_JS = r"""
const { Client, LocalAuth } = require("whatsapp-web.js");
const [port, dataPath, executablePath, ...args] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const client = new Client({
  authStrategy: new LocalAuth({ dataPath }),
  webVersionCache: { type: "none" },
  puppeteer: { executablePath, headless: true, args },
});
const [contact, stranger] = ["15550002001", "15559990000"];
client.on("qr", (qr) => say({ event: "qr", qr }));
client.on("authenticated", () => say({ event: "authenticated" }));
client.on("auth_failure", (m) => say({ event: "auth_failure", message: String(m) }));
const missingGroup = "120363000000000009@g.us";
client.on("message", async (m) => {
  say({ event: "message", from: m.from, author: m.author, body: m.body, fromMe: m.id.fromMe });
  if (!m.from.endsWith("@g.us")) return;
  try { // a bot answering in the group it was written in, then trying a group the account is not in
    const sent = await client.sendMessage(m.from, "hi all");
    say({ event: "group_sent", id: sent.id.id, to: sent.to, body: sent.body, fromMe: sent.fromMe });
    await client.sendMessage(missingGroup, "anyone?");
    say({ event: "error", message: "a send to a group the account is not in did not fail" });
  } catch (e) {
    say({ event: "group_refused", message: String((e && e.message) || e) });
  }
});
client.on("message_ack", (m, ack) => say({ event: "ack", id: m.id.id, ack }));
client.on("ready", async () => {
  say({ event: "ready", wid: client.info.wid && client.info.wid._serialized });
  try {
    say({ event: "state", state: await client.getState() });
    say({ event: "registered", contact: await client.isRegisteredUser(contact),
          stranger: await client.isRegisteredUser(stranger) });
    const sent = await client.sendMessage(`${contact}@c.us`, "hi");
    say({ event: "sent", id: sent.id.id, to: sent.to, body: sent.body, fromMe: sent.fromMe });
  } catch (e) {
    say({ event: "error", message: String((e && e.stack) || e) });
  }
});
client.initialize().catch((e) => say({ event: "error", message: String(e) }));
"""


@pytest.fixture(scope="module")
def wwebjs() -> Path:
    """A folder where ``require("whatsapp-web.js")`` resolves to the pinned version."""
    folder, why = install_wwebjs()
    if folder is None:
        pytest.skip(f"the whatsapp-web.js interop test: {why}")
    return folder


async def _next_event(stdout: asyncio.StreamReader, timeout: float) -> dict[str, Any]:
    while True:
        line = await asyncio.wait_for(stdout.readline(), timeout)
        if not line:
            raise AssertionError("whatsapp-web.js exited before the expected event")
        with contextlib.suppress(ValueError):
            return dict(json.loads(line))


async def _until_event(stdout: asyncio.StreamReader, name: str, timeout: float) -> dict[str, Any]:
    """The next ``name`` event; others on the way are skipped (a QR rotation, an ack), an error fails."""
    while True:
        try:
            event = await _next_event(stdout, timeout)
        except TimeoutError:
            raise AssertionError(f"whatsapp-web.js emitted no {name!r} within {timeout} s") from None
        assert event["event"] != "error", event
        if event["event"] == name:
            return event


async def test_whatsapp_web_js_logs_in_sends_and_receives_on_the_simulator(
    wwebjs: Path, sim: Simulator, tmp_path: Path
) -> None:
    script = wwebjs / "client.js"
    script.write_text(CLIENT_JS)
    auth = tmp_path / "wwebjs-auth"
    async with _client(wwebjs, script, sim, auth) as stdout:
        event = await _next_event(stdout, 60)
        assert event["event"] == "qr", event
        assert event["qr"] == sim.state()["qr"]  # built from the module values, as the simulator built it
        await sim.scan(event["qr"])
        event = await _next_event(stdout, 30)
        while event["event"] == "qr":  # a rotation raced the scan: harmless
            event = await _next_event(stdout, 30)
        assert event["event"] == "authenticated", event
        assert sim.state()["state"] == "CONNECTED"
        ready = await _until_event(stdout, "ready", 60)
        assert ready["wid"] == f"{sim.account_number}@c.us"
        assert (await _until_event(stdout, "state", 30))["state"] == "CONNECTED"
        registered = await _until_event(stdout, "registered", 30)
        assert (registered["contact"], registered["stranger"]) == (True, False)
        sent = await _until_event(stdout, "sent", 30)
        assert (sent["to"], sent["body"], sent["fromMe"]) == ("15550002001@c.us", "hi", True)
        received = sim.messages()["messages"]
        assert [(m["id"], m["to"], m["body"]) for m in received] == [(sent["id"], "15550002001@c.us", "hi")]
        # The contact's phone, then the contact, acknowledge it by themselves: the client hears both.
        while (ack := await _until_event(stdout, "ack", 30))["ack"] < 3:
            assert ack["id"] == sent["id"]
        await sim.incoming("15550002001", "hello from Alice")
        message = await _until_event(stdout, "message", 30)
        assert message == {"event": "message", "from": "15550002001@c.us", "body": "hello from Alice",
                           "fromMe": False}  # fmt: skip
        # A member writes in a group: the client has the group as the chat and the member as the author, and
        # its sendMessage to the group reaches the members; a group the account is not in cannot be opened.
        group = (await sim.create_group("Ops on-call", ["15550002001", "15550002002"]))["id"]
        await sim.incoming("15550002002", "standup in 5", group=group)
        message = await _until_event(stdout, "message", 30)
        assert message == {"event": "message", "from": group, "author": "15550002002@c.us", "body": "standup in 5",
                           "fromMe": False}  # fmt: skip
        sent = await _until_event(stdout, "group_sent", 30)
        assert (sent["to"], sent["body"], sent["fromMe"]) == (group, "hi all", True)
        assert [(m["to"], m["body"]) for m in sim.messages()["messages"] if m["id"] == sent["id"]] == [
            (group, "hi all")
        ]
        refused = await _until_event(stdout, "group_refused", 30)
        assert "120363000000000009@g.us" in refused["message"], refused
    # Restarted on its saved session (LocalAuth): no QR, and ready again. The page reaches CONNECTED as it
    # loads, so hasSynced must turn only after the client's listeners are on (as the real offline sync).
    async with _client(wwebjs, script, sim, auth) as stdout:
        await _until_event(stdout, "authenticated", 60)  # without a scan: no QR was needed
        assert (await _until_event(stdout, "ready", 60))["wid"] == f"{sim.account_number}@c.us"
        assert (await _until_event(stdout, "state", 30))["state"] == "CONNECTED"
    assert sim.state()["scans"] == 1


@contextlib.asynccontextmanager
async def _client(wwebjs: Path, script: Path, sim: Simulator, auth: Path) -> AsyncIterator[asyncio.StreamReader]:
    """The whatsapp-web.js client script running on ``auth`` (its LocalAuth folder); its stdout."""
    args = [*sim.browser_args(), "--no-first-run", "--disable-background-networking"]
    if os.geteuid() == 0:
        args.append("--no-sandbox")
    proc = await asyncio.create_subprocess_exec(
        "node", str(script), str(sim.port), str(auth), CHROMIUM, *args,
        cwd=wwebjs, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        yield proc.stdout
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
