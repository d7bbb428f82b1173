"""watui.client end to end: a `watch` owner on a simulator that outlives it (`watui sim`), and the echo bot of
examples/ run as a real process beside it; `wait` on the acks the simulator's contacts send (`/__sim/ack`).

Real processes, real sockets, a real Chromium, a real kill -9 of the owner while the bot runs.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.messaging_e2e import CONTACTS, Owner, Site, wait_until
from watui.client import Client, MessageFailed
from watui.config import load_config

pytestmark = pytest.mark.browser
ECHO_BOT = Path(__file__).resolve().parents[2] / "examples" / "echo_bot.py"


def _echoes(site: Site) -> list[tuple[str, str]]:
    return [(m["to"], m["body"]) for m in site.received() if m["body"].startswith("echo: ")]


def test_the_echo_bot_answers_each_text_once_through_a_kill_9_of_the_owner(owner: Owner, site: Site) -> None:
    bot = subprocess.Popen([sys.executable, str(ECHO_BOT), "--demo"], cwd=owner.cwd, env=owner.env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        chat = f"{CONTACTS[0]}@c.us"
        site.call("/__sim/incoming", "POST", {"from": CONTACTS[0], "text": "hello"})
        wait_until(lambda: _echoes(site) == [(chat, "echo: hello")], "the echo at the contact")

        owner.kill9()  # the bot stays, reconnecting
        owner.signal_browsers(signal.SIGKILL)
        time.sleep(1.0)
        assert bot.poll() is None
        owner.start()
        wait_until(lambda: owner.state() == "CONNECTED", "the restarted owner connected")
        site.call("/__sim/incoming", "POST", {"from": CONTACTS[1], "text": "again"})
        wait_until(lambda: len(_echoes(site)) >= 2, "the second echo")
        time.sleep(1.0)  # a repeat would show now
        assert _echoes(site) == [(chat, "echo: hello"), (f"{CONTACTS[1]}@c.us", "echo: again")]
        assert bot.poll() is None
    finally:
        bot.send_signal(signal.SIGTERM)
        _out, err = bot.communicate(timeout=30)
    assert "Traceback" not in err, err


def test_wait_returns_at_sent_then_delivered_and_a_failed_send_raises_its_reason(
    owner: Owner, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.call("/__sim/ack?freeze=1", "POST")  # the contacts' phones answer only when the test says
    monkeypatch.setenv("XDG_STATE_HOME", owner.env["XDG_STATE_HOME"])

    async def drive() -> None:
        config = load_config(owner.cwd / "config.toml").for_demo()  # the owner's demo session, as --demo finds it
        async with Client.connect(config) as wa:
            sent = await wa.send_text(CONTACTS[2], "are you there?")
            assert (await wa.wait(sent.id, "sent", timeout=30)).status == "sent"
            delivered = asyncio.create_task(wa.wait(sent.id, "delivered", timeout=30))
            await asyncio.sleep(0.5)
            assert not delivered.done()  # frozen: only the server has it
            await asyncio.to_thread(site.call, f"/__sim/ack?id={sent.id}&ack=2", "POST")
            assert (await delivered).status == "delivered"
            stranger = await wa.send_text("15559990000", "who are you?")
            with pytest.raises(MessageFailed, match="15559990000 is not on WhatsApp") as failed:
                await wa.wait(stranger.id, "sent", timeout=30)
            assert failed.value.reason == "15559990000 is not on WhatsApp"

    asyncio.run(drive())
