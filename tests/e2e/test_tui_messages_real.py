"""The Traffic panel and the recent messages on the real core (its outbox and inbox files, no browser needed):
the dashboard that owns the session, and the one attached to the watui that owns it, whose figures and
messages come over the owner's control socket (RemoteSession declares MESSAGES).

An incoming message is recorded the way the page's report of one is (the messaging service commits it to the
inbox, then publishes the ``message`` event); the dashboard must follow it with no key pressed.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from tests.support.core import started_manager
from tests.support.layout import SessionLayout
from tests.support.screen import until
from watui.api.control import start_control
from watui.config import Config
from watui.core.messages import Incoming
from watui.core.session.manager import SessionManager
from watui.remote.client import find_owner
from watui.remote.session import RemoteSession
from watui.tui.app import WatuiApp, build_app
from watui.tui.attached import AttachedApp

ACCOUNT = "15550001234@c.us"
CONTACT = "15550002001@c.us"


@asynccontextmanager
async def dashboard(face: str, manager: SessionManager, config: Config) -> AsyncIterator[WatuiApp]:
    """The dashboard on ``manager``: in its own process ("owner"), or attached over its socket ("attached")."""
    if face == "owner":
        yield build_app(manager, config=config, auto_initialize=False)
        return
    control = await start_control(manager, config, face="watch")
    assert control is not None
    try:
        client = await find_owner(config)
        assert client is not None
        async with client:
            yield AttachedApp(RemoteSession(client, await client.status()), session_root=config.session_root)
    finally:
        await control.close()


async def receive(manager: SessionManager, message_id: str, text: str) -> None:
    # What the messaging service does with the page's report of an incoming message (its page hook).
    await manager.messaging._on_incoming(Incoming(ACCOUNT, CONTACT, message_id, text, t=time.time()))


@pytest.mark.parametrize("face", ["owner", "attached"])
async def test_an_incoming_message_reaches_the_traffic_panel_and_the_open_messages(
    session_layout: SessionLayout, face: str
) -> None:
    config = session_layout.config()
    async with (
        started_manager(config) as (manager, _),
        dashboard(face, manager, config) as app,
        app.run_test(size=(100, 30)) as pilot,
    ):
        text = await until(pilot, app, lambda t: "Incoming none yet" in t, "the first figures", timeout=10.0)
        assert "Outbox   ◌ 0 queued · ◔ 0 sending" in text
        assert "Incoming none yet · webhook off" in text

        await receive(manager, "3A0000000000000001", "hi back")
        text = await until(pilot, app, lambda t: "↓ 1 received" in t, "the message in the figures", timeout=10.0)
        assert re.search(r"Incoming last \d+ s ago · webhook off", text)

        await pilot.press("m")
        text = await until(pilot, app, lambda t: "← 15550002001@c.us" in t, "the recent messages", timeout=10.0)
        assert "1 message, newest last" in text and "↓ received" in text and "7 chars" in text
        assert "hi back" not in text  # metadata only

        await receive(manager, "3A0000000000000002", "are you open?")  # followed while the screen is open
        text = await until(pilot, app, lambda t: "13 chars" in t, "the second message", timeout=10.0)
        assert "2 messages, newest last" in text

        await pilot.press("t")
        text = await until(pilot, app, lambda t: "are you open?" in t, "the texts", timeout=10.0)
        assert "hi back" in text
        await pilot.press("escape")
        text = await until(pilot, app, lambda t: "↓ 2 received" in t, "the dashboard with both", timeout=10.0)
