"""The messaging service of one session: the outbox and inbox in its folder, and the sender on its tab.

It knows the session only through narrow callables (never the manager object):

- ``subscribe()``: the session's events; on each ``state`` event the service looks again at
- ``page()``: watui's own WhatsApp Web tab, or None (no browser), and ``wid()``: the account the page stores;
- ``logout_seen()``: WhatsApp logged the page out (its own words, not a QR alone);
- ``publish(type, message=..., data=...)``: an event to every face.

**Sending.** While the session is CONNECTED with a tab and an account, one :class:`Sender` runs on a
:class:`PageMessaging` adapter of that tab (``recover()`` first: every claimed message is looked for in its
chat before anything else goes, so a send cut by a kill -9 of watui or of Chromium goes exactly once). It is
stopped when the session is not CONNECTED, and started again on the new tab at the next CONNECTED (after a
reconnect, a browser restart, a restart of watui). A send is accepted whatever the state, for the account
the page is logged in as, or, while the session is down, for the account of the login stored on disk;
with neither (never scanned, logged out) it is refused: :class:`NotLinked`.

**Events.** ``message``: an incoming message, published only *after* its commit to the inbox. ``ack``: an
outgoing message's status (queued at accept, then sent, delivered, read, or failed), published after the
outbox row moved. Events carry ids, chats, statuses and sizes, never a body.

**Logout.** The phone removed this linked device: what the account had queued fails ("logged out").

**Webhook.** With ``[messages.webhook] url``, the :class:`WebhookDeliverer` (webhook.py) runs beside, from
the same files, woken at each incoming message and each ack.

**Disk.** A file that cannot be opened or written (full, read-only, damaged) is a :class:`StoreError` naming
it: an ``error`` event, a refused send (never an id for what is not on disk), and the session runs on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from watui.config import Config
from watui.core.disk.login import account_on_disk
from watui.core.errors import first_line
from watui.core.events import Event
from watui.core.messages.address import normalise_to
from watui.core.messages.errors import AddressError, NotLinked, StoreError
from watui.core.messages.inbox import Inbox, Incoming, inbox_path
from watui.core.messages.outbox import Outbox, outbox_path
from watui.core.messages.outbox_rows import PENDING, OutboxRow, State
from watui.core.messages.page import DEFAULT_MESSAGING_MODULES, Ack, PageMessaging, TabLike, page_script
from watui.core.messages.port import (
    DEFAULT_LIMIT,
    TRAFFIC_WINDOW_S,
    Cursor,
    Message,
    MessagePage,
    Traffic,
    check_limit,
    page_of,
)
from watui.core.messages.sender import Sender
from watui.core.messages.webhook import WebhookDeliverer, deliverer_for
from watui.core.models import ConnectionState

log = logging.getLogger(__name__)

FAILED_ACK = "WhatsApp reported that the message failed (ack -1)"
NOT_LINKED = (
    "not logged in: no WhatsApp account is linked to this session yet (or the phone logged it out); "
    "scan the QR first (watui init), then send"
)
RETRY_S = 2.0  # CONNECTED without a sender: look again this often
EXPIRE_EVERY = 15  # ... and, while nothing sends, expire what is past its time to live every 15 looks (30 s)
_SEEN_ACKS = 10_000  # the last status announced per message, for this many messages (no repeats)


class EventSource(Protocol):
    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class Publish(Protocol):
    def __call__(self, type_: Any, *, message: str = "", data: dict[str, Any] | None = None) -> None: ...


def account_of(wid: str | None) -> str | None:
    """The account a wid names, without its device: ``15550001234:1@c.us`` -> ``15550001234@c.us``."""
    if not wid:
        return None
    plain = re.sub(r":\d+(?=@)", "", wid.strip())
    try:
        return normalise_to(plain)
    except AddressError:
        return plain or None


class MessagingService:
    """Outbox, inbox and sender of one session. ``start()`` once the session is started, ``stop()`` before
    its browser is closed. ``account_on_disk()`` (run in a thread) reads the stored login's account."""

    def __init__(
        self,
        config: Config,
        *,
        page: Callable[[], TabLike | None],
        wid: Callable[[], str | None],
        logout_seen: Callable[[], bool],
        subscribe: Callable[[], EventSource],
        publish: Publish,
        stored_account: Callable[[], str | None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.settings = config.messages
        self._page = page
        self._wid = wid
        self._logout_seen = logout_seen
        self._subscribe = subscribe
        self._publish = publish
        self._stored_account = stored_account or (lambda: account_on_disk(config.profile_dir))
        self._clock = clock
        self._modules = {k: v for k, v in config.whatsapp.modules.items() if k in DEFAULT_MESSAGING_MODULES}
        self.outbox: Outbox | None = None
        self.inbox: Inbox | None = None
        self.problems: dict[str, StoreError] = {}  # "outbox"/"inbox" -> why it cannot be used
        self.account: str | None = None  # the account the sender last ran for
        self.webhook: WebhookDeliverer | None = None  # with [messages.webhook] url: delivers from the files
        self._delivering: asyncio.Task[None] | None = None
        self._adapter: PageMessaging | None = None
        self._sender: Sender | None = None
        self._sending: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None
        self._stream: EventSource | None = None
        self._lock = asyncio.Lock()
        self._state: ConnectionState | None = None  # the session's state as the last event said
        self._announced: OrderedDict[str, str] = OrderedDict()
        self._said: set[str] = set()  # the disk errors already announced (one event each, not one per message)

    # -- lifecycle -----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the files (off the loop), then follow the session's states. A file that cannot be opened is
        announced and left as it is; the other still works, and the session runs on."""
        settings, clock = self.settings, self._clock
        for what, opener in (
            ("outbox", lambda: Outbox.open(outbox_path(self.config), settings, clock=clock)),
            ("inbox", lambda: Inbox.open(inbox_path(self.config), settings.keep_days, clock=clock)),
        ):
            try:
                store: Any = await asyncio.to_thread(opener)
            except StoreError as exc:
                self._problem(what, exc)
                continue
            setattr(self, what, store)
            with contextlib.suppress(StoreError):
                await asyncio.to_thread(store.prune)
        await asyncio.to_thread(page_script)  # read page.js once, off the loop (adapters are made on it)
        if self.inbox is not None:
            self.webhook = deliverer_for(self.config, self.inbox, self.outbox)
            if self.webhook is not None:
                # Where delivery starts, before anything is recorded: on a first run "the end" is now, so
                # a message or ack recorded from here on is delivered, not taken for the past.
                with contextlib.suppress(StoreError):  # the deliverer's loop says so, and tries again
                    await asyncio.to_thread(self.webhook.start_cursors)
                self._delivering = asyncio.create_task(self._deliver(self.webhook), name="watui-webhook")
        self._stream = self._subscribe()
        self._watch = asyncio.create_task(self._follow(self._stream), name="watui-messages")

    async def stop(self) -> None:
        """Stop following and sending (a send cut here stays claimed: checked at the next start); close files."""
        if self._stream is not None:
            self._stream.close()
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(BaseException):
                await self._watch
        async with self._lock:
            await self._stop_sender()
        if self.webhook is not None and self._delivering is not None:
            self.webhook.close()  # returns soon even with a POST in flight (its cursor is not moved)
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._delivering, 5)
        for store in (self.outbox, self.inbox):
            if store is not None:
                await asyncio.to_thread(store.close)
        self.outbox = self.inbox = None

    @property
    def sending(self) -> bool:
        """A sender runs now (the session is CONNECTED on a tab)."""
        return self._sending is not None and not self._sending.done()

    # -- MessagingPort ----------------------------------------------------------------------------------------
    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        """Accept ``text`` for ``to`` (committed before this returns); AddressError/SendRefused/NotLinked/
        OutboxFull (nothing written) or StoreError (not committed)."""
        outbox = self._need("outbox", self.outbox)
        account = await self._send_account()
        row = await outbox.accept_async(to, text, account=account, key=key)
        if self._sender is not None:
            self._sender.wake()
        self._announce_ack(row)  # "queued" (or, for a key given again, where that message is now)
        return Message.from_outbox(row)

    async def message(self, message_id: str) -> Message | None:
        """The message with this id now (an outgoing one first), None when neither file knows it."""
        if self.outbox is None and self.inbox is None:
            self._need("outbox", None)
        if self.outbox is not None:
            row = await self.outbox.get_async(message_id)
            if row is not None:
                return Message.from_outbox(row)
        if self.inbox is not None:
            found = await asyncio.to_thread(self.inbox.get, message_id)
            if found is not None:
                return Message.from_inbox(found)
        return None

    async def messages(self, since: str | None = None, limit: int = DEFAULT_LIMIT, bodies: bool = False) -> MessagePage:
        """Outgoing and incoming messages after ``since``, newest last, with the next cursor."""
        cursor = Cursor.parse(since)
        limit = check_limit(limit)
        outbox, inbox = self._need("outbox", self.outbox), self._need("inbox", self.inbox)
        outgoing = await asyncio.to_thread(outbox.after, cursor.out_seq, limit)
        incoming = await inbox.read_async(cursor.in_seq, limit)
        return page_of(outgoing, incoming, cursor, limit, bodies)

    async def traffic(self) -> Traffic:
        """The outbox now, the last hour's sent/failed/received, the webhook's backlog (read off the loop)."""
        now = self._clock()
        since = now - TRAFFIC_WINDOW_S
        outbox, inbox = self._need("outbox", self.outbox), self._need("inbox", self.inbox)
        out = await asyncio.to_thread(outbox.counts, since)
        received, last_received = await asyncio.to_thread(inbox.counts, since)
        hook = self.webhook
        status = hook.status if hook is not None else None
        backlog = await hook.backlog() if hook is not None else None
        return Traffic(
            at=now, queued=out.queued, sending=out.sending, sent=out.sent, failed=out.failed, received=received,
            oldest_pending_at=out.oldest_pending_at, last_received_at=last_received, webhook=hook is not None,
            webhook_backlog=backlog.count if backlog else 0, webhook_oldest_at=backlog.oldest_at if backlog else None,
            webhook_error=status.last_error if status is not None and status.failing_since is not None else None,
        )  # fmt: skip

    # -- following the session -----------------------------------------------------------------------------
    async def _follow(self, stream: EventSource) -> None:
        await self._settle(None)  # the session may be connected already
        again = asyncio.create_task(self._again(), name="watui-messages-again")
        try:
            async for event in stream:
                if event.type == "state":
                    self._state = event.state or event.info.state
                    await self._settle(self._state)
        finally:
            again.cancel()

    async def _again(self) -> None:
        """CONNECTED but not sending (the account not reported yet, a tab that refused the script, a sender
        that stopped on an error): look again every few seconds, not only at the next state change."""
        ticks = 0
        while True:
            await asyncio.sleep(RETRY_S)
            if self._state is ConnectionState.CONNECTED and not self.sending:
                await self._settle(self._state)
            ticks += 1
            if ticks % EXPIRE_EVERY == 0 and not self.sending and self.outbox is not None:
                # Nothing sends (the session is down): what is past its time to live fails "expired" now,
                # not only when the sender runs again.
                with contextlib.suppress(StoreError):
                    await asyncio.to_thread(self.outbox.expire)

    async def _settle(self, state: ConnectionState | None) -> None:
        """Run the sender when CONNECTED on a tab with an account; stop it otherwise; fail a logged-out
        account's queue."""
        async with self._lock:
            try:
                await self._settle_locked(state)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a tab closing under us, a disk error: the next state tries again
                log.warning("messaging: %s", first_line(exc))

    async def _settle_locked(self, state: ConnectionState | None) -> None:
        if self._logout_seen() and self.account is not None and self._wid() is None:
            await self._stop_sender()
            await self._fail_logged_out(self.account)
            self.account = None
        tab = self._page() if state is ConnectionState.CONNECTED else None
        account = account_of(self._wid())
        if tab is None or account is None or self.outbox is None or tab.is_closed():
            await self._stop_sender()
            return
        adapter = self._adapter
        if self.sending and adapter is not None and adapter.tab is tab and adapter.account == account:
            return  # already sending from this tab for this account
        await self._stop_sender()
        if adapter is not None and adapter.tab is tab:
            adapter.account = account  # a new login in the same tab: its binding is installed already
        else:
            adapter = PageMessaging(tab, account, modules=self._modules, on_ack=self._on_ack,
                                    on_incoming=self._on_incoming)  # fmt: skip
            await adapter.install()
            self._adapter = adapter
        self.account = account
        self._sender = Sender(self.outbox, adapter, account, clock=self._clock, on_change=self._announce_ack)
        self._sending = asyncio.create_task(self._send(self._sender), name="watui-sender")

    async def _send(self, sender: Sender) -> None:
        try:
            await sender.run()
        except asyncio.CancelledError:
            raise
        except StoreError as exc:
            self._problem("outbox", exc)
        except Exception as exc:
            log.warning("the sender stopped: %s", first_line(exc))

    async def _deliver(self, webhook: WebhookDeliverer) -> None:
        try:
            await webhook.run()
        except asyncio.CancelledError:
            raise
        except StoreError as exc:  # WebhookBusy (another deliverer on this inbox) is one too
            self._problem("inbox", exc)
        except Exception as exc:
            log.warning("the webhook stopped: %s", first_line(exc))

    async def _stop_sender(self) -> None:
        task, self._sending, self._sender = self._sending, None, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task  # its flock is released before another sender may start

    async def _fail_logged_out(self, account: str) -> None:
        outbox = self.outbox
        if outbox is None:
            return
        try:
            waiting = await asyncio.to_thread(outbox.rows, account, PENDING, 1_000_000)
            await outbox.logout_async(account)
        except StoreError as exc:
            self._problem("outbox", exc)
            return
        for row in waiting:
            failed = await outbox.get_async(row.id)
            if failed is not None and failed.state is State.FAILED:
                self._announce_ack(failed)

    async def _send_account(self) -> str:
        account = account_of(self._wid())
        if account is None and not self._logout_seen():
            account = account_of(await asyncio.to_thread(self._stored_account))
        if account is None:
            raise NotLinked(NOT_LINKED)
        return account

    # -- what the page tells -------------------------------------------------------------------------------
    async def _on_incoming(self, incoming: Incoming) -> None:
        inbox = self.inbox
        if inbox is None:
            log.warning("an incoming message %s was not kept: the inbox cannot be used", incoming.id)
            return
        try:
            row = await inbox.record_incoming_async(incoming)  # committed before anyone is told
        except StoreError as exc:
            self._problem("inbox", exc)
            return
        if row is not None:  # None: a message already kept (the page pushes what it has at each load)
            self._publish("message", data=_event_data(Message.from_inbox(row)))
            if self.webhook is not None:
                self.webhook.wake()

    async def _on_ack(self, ack: Ack) -> None:
        outbox = self.outbox
        if outbox is None:
            return
        state = ack.outbox_state
        expected = State.FAILED if state is None else state
        try:
            before = await outbox.get_async(ack.id)
            if before is None or before.state is expected:
                return  # not watui's message (one sent from the phone), or there already (a page load repeats acks)
            if state is None:
                row = await outbox.record_failed_ack_async(ack.id, FAILED_ACK)
            else:
                row = await outbox.record_ack_async(ack.id, state)
        except StoreError as exc:
            self._problem("outbox", exc)
            return
        if row is not None and row.state is expected:  # it moved (a stale ack of a message further on moves nothing)
            self._announce_ack(row)

    def _announce_ack(self, row: OutboxRow) -> None:
        if self._announced.get(row.id) == row.state.value:
            return
        self._announced[row.id] = row.state.value
        self._announced.move_to_end(row.id)
        while len(self._announced) > _SEEN_ACKS:
            self._announced.popitem(last=False)
        self._publish("ack", data=_event_data(Message.from_outbox(row)))
        if self.webhook is not None:
            self.webhook.wake()  # the outbox's ack log has a new row (queued has none: a wake for nothing)

    # -- the files -----------------------------------------------------------------------------------------
    def _need(self, what: str, store: Any) -> Any:
        if store is None:
            problem = self.problems.get(what)
            path = outbox_path(self.config) if what == "outbox" else inbox_path(self.config)
            raise problem or StoreError(f"{path}: the {what} is not open (watui is starting or stopping)", path)
        return store

    def _problem(self, what: str, exc: StoreError) -> None:
        self.problems[what] = exc
        message = str(exc)
        log.warning("messaging: %s", message)
        if message not in self._said:
            self._said.add(message)
            self._publish("error", message=message, data={"code": f"{what}_store", "path": str(exc.path)})


def _event_data(message: Message) -> dict[str, Any]:
    """What an event says of a message: ids, chat, status and size, and an outgoing one's times (accepted,
    sent, acked: the metrics' send latency and counts, port.counted_as); never its body."""
    data: dict[str, Any] = {"id": message.id, "direction": message.direction, "chat": message.chat,
                            "status": message.status, "size": message.size}  # fmt: skip
    times = {"acceptedAt": message.accepted_at, "sentAt": message.sent_at, "ackedAt": message.acked_at}
    data.update({name: value for name, value in times.items() if value is not None})
    if message.reason:
        data["reason"] = message.reason
    if message.key:
        data["key"] = message.key
    return data
