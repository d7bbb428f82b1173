"""The page side of messaging: the :class:`~watui.core.messages.sender.PageAdapter` over WhatsApp Web's tab.

Everything goes through WhatsApp Web's own modules, as whatsapp-web.js 1.34.7 uses them (``page.js``,
beside this file, is the script; the module names are a table, overridable like the page contract's):

- **send** (``Utils.js`` ``sendMessage``): ``WAWebWidFactory.createWid`` the chat; for a person, first
  ``WAWebQueryExistsJob.queryWidExists`` (no -> :class:`NotSent` ``"<number> is not on WhatsApp"``,
  permanent); the chat from ``WAWebCollections.Chat`` or ``WAWebFindChatAction.findOrCreateLatestChat``
  (a channel or a broadcast, by ``WAWebChatGetters``, is refused for good); a
  ``WAWebMsgKey`` built with *watui's* id (fromMe, remote = the chat, from = ``WAWebUserPrefsMeUser``), the
  ephemeral fields of ``WAWebGetEphemeralFieldsMsgActionsUtils``, then
  ``WAWebSendMsgChatAction.addAndSendMsgToChat`` and its send result (the server's answer: ERROR is a
  permanent NotSent; none within ``confirm_s``: unknown). Anything that
  fails before that call (not connected, a module missing) is a transient NotSent: certainly not sent. A
  failure after it is "unknown" (a plain exception): the Sender checks with ``find`` before anything else
  goes. A message already in the store under that id is not handed again (it was taken before).
- **find**: the message's key in ``Msg.get``, the chat's ``msgs``, and (where the page has it)
  ``Msg.getMessagesById`` (its database). UNKNOWN while ``Socket.hasSynced`` is false or the modules fail;
  NOT_FOUND only from a synced store.
- **events**: ``Msg`` ``change:ack`` of our own messages (WhatsApp's numbers, 1.34.7's ``MessageAck``:
  -1 ERROR, 0 PENDING, 1 SERVER, 2 DEVICE, 3 READ, 4 PLAYED -> failed, -, sent, delivered, read, read) and
  ``Msg`` ``add`` with ``isNewMsg`` and not ``fromMe`` (the body of a text, the caption of a medium; the
  system notices are not messages) are pushed through one binding, only from the tab's main frame, to the
  ``on_ack`` / ``on_incoming`` callbacks (the wiring connects them to ``Outbox.record_ack`` and
  ``Inbox.record_incoming``). No polling: once WhatsApp's collections exist, only their events push.

The adapter takes a small :class:`TabLike` (a Playwright ``Page`` is one), so the session's own tab can be
handed to it; :meth:`PageMessaging.install` is called once per tab, before or after it loads.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Protocol

from watui.core.errors import first_line
from watui.core.messages.inbox import Incoming
from watui.core.messages.outbox_rows import OutboxRow, State
from watui.core.messages.sender import Found, NotSent

log = logging.getLogger(__name__)

BINDING = "__watuiMessagesPush"
CONFIRM_S = 30.0  # how long a send waits for WhatsApp's server to answer; then its outcome is unknown

# logical name -> the module window.require() is asked for (the [whatsapp.modules] names of messaging).
DEFAULT_MESSAGING_MODULES: dict[str, str] = {
    "socket": "WAWebSocketModel",  # .Socket: state, hasSynced
    "collections": "WAWebCollections",  # .Chat, .Msg: get, on/off add and change:ack
    "wid_factory": "WAWebWidFactory",  # .createWid, .asUserWidOrThrow
    "find_chat": "WAWebFindChatAction",  # .findOrCreateLatestChat(wid) -> {chat}
    "msg_key": "WAWebMsgKey",  # the class: new MsgKey({from, to, id, selfDir}) -> ._serialized
    "send_action": "WAWebSendMsgChatAction",  # .addAndSendMsgToChat(chat, msg) -> [added, result]
    "me_user": "WAWebUserPrefsMeUser",  # .getMaybeMePnUser(), .getMaybeMeLidUser()
    "ephemeral": "WAWebGetEphemeralFieldsMsgActionsUtils",  # .getEphemeralFields(chat)
    "chat_getters": "WAWebChatGetters",  # .getIsNewsletter, .getIsBroadcast
    "query_exists": "WAWebQueryExistsJob",  # .queryWidExists(wid) -> {wid} | null
}
_SEND_JS = """(a) => window.__watuiMessages ? window.__watuiMessages.send(a)
  : {ok: false, permanent: false, reason: "watui's messaging script is not in the WhatsApp Web tab (still loading?)"}"""
_MODULE_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$.]*$")

# WhatsApp's ack names (page.js) -> the outbox's state; "failed" has none (the wiring fails the message).
ACK_STATES: dict[str, State | None] = {
    "sent": State.SENT,
    "delivered": State.DELIVERED,
    "read": State.READ,
    "failed": None,
}


@dataclass(frozen=True)
class Ack:
    """An ack of one of our messages: ``state`` sent/delivered/read/failed, ``ack`` WhatsApp's number."""

    id: str
    chat: str
    ack: int
    state: str

    @property
    def outbox_state(self) -> State | None:
        """What ``Outbox.record_ack`` takes; None for "failed"."""
        return ACK_STATES.get(self.state)


class TabLike(Protocol):
    """What the adapter needs of the session's tab (a Playwright ``Page`` has all of it)."""

    @property
    def main_frame(self) -> Any: ...

    def is_closed(self) -> bool: ...

    async def evaluate(self, expression: str, arg: Any = None) -> Any: ...

    async def expose_binding(self, name: str, callback: Callable[..., Any]) -> Any: ...

    async def add_init_script(self, script: str | None = None) -> Any: ...


def check_modules(values: Mapping[str, str]) -> str | None:
    """Why ``values`` is not a valid override of the messaging module names (None when it is)."""
    for name, value in values.items():
        if name not in DEFAULT_MESSAGING_MODULES:
            return f"unknown messaging module '{name}' (expected one of: {', '.join(DEFAULT_MESSAGING_MODULES)})"
        if not isinstance(value, str) or not _MODULE_NAME.match(value):
            return f"messaging module '{name}' = {value!r} is not a module name"
    return None


@functools.cache
def _page_source() -> str:
    """page.js, read once (an adapter is made on the event loop at each new tab)."""
    return resources.files("watui.core.messages").joinpath("page.js").read_text(encoding="utf-8")


def page_script(binding: str = BINDING, modules: Mapping[str, str] | None = None) -> str:
    """The page script with its binding name and module table filled in."""
    table = {**DEFAULT_MESSAGING_MODULES, **(modules or {})}
    return _page_source().replace("__BINDING__", json.dumps(binding)).replace("__MODULES__", json.dumps(table))


class PageMessaging:
    """Sends, finds and listens in one WhatsApp Web tab for ``account`` (the wid the tab is logged in as,
    stamped on the incoming messages). ``modules`` overrides module names (see DEFAULT_MESSAGING_MODULES).
    ``on_ack`` / ``on_incoming`` may be plain functions or coroutines; an error in one is logged, not raised
    into the page."""

    def __init__(
        self,
        tab: TabLike,
        account: str,
        *,
        modules: Mapping[str, str] | None = None,
        on_ack: Callable[[Ack], Awaitable[None] | None] | None = None,
        on_incoming: Callable[[Incoming], Awaitable[None] | None] | None = None,
        binding: str = BINDING,
        confirm_s: float = CONFIRM_S,
    ) -> None:
        problem = check_modules(modules or {})
        if problem:
            raise ValueError(problem)
        self.tab = tab
        self.account = account
        self.on_ack = on_ack
        self.on_incoming = on_incoming
        self.binding = binding
        self.confirm_s = confirm_s
        self._script = page_script(binding, modules)
        self._installed = False
        self._order = asyncio.Lock()

    async def install(self) -> None:
        """Expose the binding and install the script in this document and every later one of the tab."""
        if not self._installed:
            await self.tab.expose_binding(self.binding, self._pushed)
            await self.tab.add_init_script(self._script)
            self._installed = True
        await self.tab.evaluate(self._script)

    # -- the PageAdapter verbs -------------------------------------------------------------------------------

    async def send(self, message: OutboxRow) -> None:
        """Send ``message.body`` to ``message.chat`` with the id ``message.id``; NotSent when certainly not sent,
        any other exception: unknown."""
        if self.tab.is_closed():
            raise NotSent("the WhatsApp Web tab is closed")
        args = {"chat": message.chat, "id": message.id, "body": message.body,
                "confirmMs": int(self.confirm_s * 1000)}  # fmt: skip
        # One round trip (as whatsapp-web.js's sendMessage): an error raised by it means "unknown".
        result = await self.tab.evaluate(_SEND_JS, args)
        if not isinstance(result, dict):  # not the script's answer: whether it went is not known
            raise RuntimeError(f"the page answered {result!r:.80} to a send")
        if not result.get("ok"):
            reason = result.get("reason") or "the page refused the send"
            raise NotSent(str(reason), permanent=bool(result.get("permanent")))

    async def find(self, chat: str, message_id: str) -> Found:
        """Is our message ``message_id`` in ``chat``? UNKNOWN when the page cannot tell (yet)."""
        try:
            result = await self.tab.evaluate(
                "(a) => window.__watuiMessages ? window.__watuiMessages.find(a)"
                " : {answer: 'unknown', why: 'the messaging script is not in the tab'}",
                {"chat": chat, "id": message_id},
            )
        except Exception as exc:
            log.info("find %s: the tab cannot be reached: %s", message_id, first_line(exc))
            return Found.UNKNOWN
        answer = result.get("answer") if isinstance(result, dict) else None
        if answer == "found":
            return Found.FOUND
        if answer == "not found":
            return Found.NOT_FOUND
        log.info("find %s: cannot tell: %s", message_id, result.get("why") if isinstance(result, dict) else result)
        return Found.UNKNOWN

    # -- events ------------------------------------------------------------------------------------------

    async def _pushed(self, source: Mapping[str, Any], event: Any) -> None:
        frame = source.get("frame") if isinstance(source, Mapping) else None
        if frame is None or frame != self.tab.main_frame:
            return  # another frame (or another tab of the context) speaks: not the session's page
        if not isinstance(event, dict):
            return
        # Playwright runs each binding call as its own task: the lock (FIFO, taken before any await) keeps
        # the callbacks in the page's order, so a slow commit never lets a later message overtake.
        try:
            async with self._order:
                await self._dispatch(event)
        except Exception as exc:
            log.warning("the page's %s event was not handled: %s", event.get("kind"), first_line(exc))

    async def _dispatch(self, event: Mapping[str, Any]) -> None:
        kind = event.get("kind")
        if kind == "ack" and self.on_ack is not None:
            ack = _ack(event)
            if ack is not None:
                await _call(self.on_ack, ack)
        elif kind == "incoming" and self.on_incoming is not None:
            incoming = self._incoming(event)
            if incoming is not None:
                await _call(self.on_incoming, incoming)

    def _incoming(self, event: Mapping[str, Any]) -> Incoming | None:
        msg_id, chat = event.get("id"), event.get("chat")
        if not (isinstance(msg_id, str) and msg_id and isinstance(chat, str) and chat):
            return None
        sender = event.get("sender")
        t = event.get("t")
        body = event.get("body")
        kind = event.get("type")
        return Incoming(
            account=self.account,
            chat=chat,
            id=msg_id,
            body=body if isinstance(body, str) else "",
            sender=sender if isinstance(sender, str) and sender else None,
            t=float(t) if isinstance(t, (int, float)) and not isinstance(t, bool) else None,
            kind=kind if isinstance(kind, str) and kind else "chat",
        )


def _ack(event: Mapping[str, Any]) -> Ack | None:
    msg_id, chat, number, state = event.get("id"), event.get("chat"), event.get("ack"), event.get("state")
    if not (isinstance(msg_id, str) and isinstance(chat, str) and isinstance(number, int) and state in ACK_STATES):
        return None
    return Ack(msg_id, chat, number, str(state))


async def _call(callback: Callable[[Any], Awaitable[None] | None], value: Any) -> None:
    result = callback(value)
    if result is not None:
        await result
