"""A session's messaging service as the tests drive it: a fake tab behind the adapter's small ``TabLike``
interface (sends land in ``sent``, finds look there, page events through the binding as Playwright calls
it), what the service is given of a session (:class:`Session`), a config, and :class:`MessagingManager`,
the API's FakeSession with a real messaging service behind its MessagingPort."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.fakes import FakeSession
from watui.config import Config, MessagesSettings, SessionSettings
from watui.core.events import Event, EventType
from watui.core.messages.port import Message, MessagePage, Traffic
from watui.core.messages.service import MessagingService
from watui.core.models import ConnectionState, SessionInfo
from watui.core.ports import MESSAGES
from watui.core.session.events import EventHub

S = ConnectionState
WID = "15550001234:1@c.us"
ACCOUNT = "15550001234@c.us"
CONTACT = "15550002001@c.us"


class FakeTab:
    """A WhatsApp Web tab as the adapter sees it: sends land in ``sent``, finds look there."""

    def __init__(self) -> None:
        self.main_frame = object()
        self.binding: Callable[..., Any] | None = None
        self.sent: list[tuple[str, str, str]] = []  # (id, chat, body): what the contact received
        self.closed = False
        self.hang = asyncio.Event()  # a send waits for it when ``hold`` is set
        self.hold = False

    def is_closed(self) -> bool:
        return self.closed

    async def expose_binding(self, name: str, callback: Callable[..., Any]) -> None:
        if self.binding is not None:  # as Playwright: a name is exposed once per page
            raise RuntimeError(f'Function "{name}" has been already registered')
        self.binding = callback

    async def add_init_script(self, script: str | None = None) -> None:
        return None

    async def evaluate(self, expression: str, arg: Any = None) -> Any:
        if arg is None:
            return None  # the script itself
        if "send(a)" in expression:
            if self.hold:
                await self.hang.wait()
            self.sent.append((arg["id"], arg["chat"], arg["body"]))
            return {"ok": True}
        if "find(a)" in expression:
            return {"answer": "found" if any(s[0] == arg["id"] for s in self.sent) else "not found"}
        raise AssertionError(f"unexpected evaluate {expression!r}")

    async def push(self, event: dict[str, Any]) -> None:
        assert self.binding is not None, "the adapter was never installed"
        await self.binding({"frame": self.main_frame}, event)


@dataclass
class Session:
    """What the service is given of a session: its tab, its wid, its logout flag, its events."""

    config: Config
    tab: FakeTab | None = None
    wid: str | None = None
    logged_out: bool = False
    on_disk: str | None = None
    hub: EventHub = field(default_factory=EventHub)
    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    on_publish: Callable[[Any, dict[str, Any]], object] | None = None

    def publish(self, type_: Any, *, message: str = "", data: dict[str, Any] | None = None) -> None:
        if self.on_publish is not None:
            self.on_publish(type_, data or {})
        self.events.append((type_, message, dict(data or {})))

    def state(self, state: ConnectionState) -> None:
        self.hub.publish(Event(type="state", info=SessionInfo(state=state), state=state))

    def service(self, clock: Callable[[], float] = time.time) -> MessagingService:
        return MessagingService(
            self.config, page=lambda: self.tab, wid=lambda: self.wid, logout_seen=lambda: self.logged_out,
            subscribe=self.hub.subscribe, publish=self.publish, stored_account=lambda: self.on_disk, clock=clock,
        )  # fmt: skip

    def of(self, type_: EventType) -> list[dict[str, Any]]:
        return [data for kind, _m, data in self.events if kind == type_]


def config_in(tmp_path: Path, **messages: Any) -> Config:
    settings = MessagesSettings(**{"max_per_minute": 600.0, "min_gap_per_chat_s": 0.0, **messages})
    return Config(session=SessionSettings(session_path=str(tmp_path / "session")), messages=settings,
                  base_dir=tmp_path)  # fmt: skip


class MessagingManager(FakeSession):
    """The API's fake session, with a real messaging service on real files behind the MessagingPort."""

    def __init__(self, service: MessagingService) -> None:
        super().__init__(capabilities=frozenset({MESSAGES}))
        self.service = service

    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        return await self.service.send_text(to, text, key=key)

    async def message(self, message_id: str) -> Message | None:
        return await self.service.message(message_id)

    async def messages(self, since: str | None = None, limit: int = 100, bodies: bool = False) -> MessagePage:
        return await self.service.messages(since, limit, bodies)

    async def traffic(self) -> Traffic:
        return await self.service.traffic()
