"""watui's public Python API: a typed async client of the watui that owns a session.

::

    from watui.client import Client

    async with Client.connect() as wa:  # the owner of the session config.toml names
        sent = await wa.send_text("+1 555 010 1234", "Your order has shipped", key="order-12345")
        await wa.wait(sent.id, ack="delivered", timeout=60)
        async for message in wa.messages(bodies=True):  # every message after the cursor, then each new one
            ...

It goes through the owner, never around it: the owner's control socket (found from the config as the CLI
finds it, trusted only when it is this user's file served by this user's process, see
``watui/remote/client.py``), or a ``watui serve`` URL with its bearer token. One copy of the paths and
of the JSON: :class:`~watui.remote.session.RemoteSession` makes the calls, the values are the core's
(:class:`Message`, :class:`MessagePage`, :class:`SessionInfo`, :class:`Event`) rebuilt with ``from_json``.

``wait`` and ``messages`` follow the owner's event stream (an ``ack`` or ``message`` event is a wake-up,
a read by id or by cursor the answer, so nothing hangs on an event missed) and outlive an owner restart:
they reconnect with backoff and read on from where they were. Errors: :mod:`watui.remote.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Literal

from watui.api.paths import socket_path
from watui.config import Config, load_config
from watui.core.events import Event
from watui.core.messages.port import MAX_LIMIT, Message, MessagePage
from watui.core.models import SessionInfo
from watui.remote.client import ApiClient, OwnerClient, OwnerGone, ServeClient, find_owner
from watui.remote.errors import ClientError, MessageFailed, OwnerNotRunning, Refused, WaitTimeout
from watui.remote.session import RemoteSession

__all__ = [
    "Ack",
    "Client",
    "ClientError",
    "Event",
    "Message",
    "MessageFailed",
    "MessageFeed",
    "MessagePage",
    "OwnerNotRunning",
    "Refused",
    "SessionInfo",
    "WaitTimeout",
]

Ack = Literal["sent", "delivered", "read"]
_RANK = {"queued": 0, "claimed": 1, "sent": 2, "delivered": 3, "read": 4}
RECONNECT_FIRST_S = 0.2  # the first retry after the owner went away, doubled up to RECONNECT_MAX_S
RECONNECT_MAX_S = 5.0
POLL_S = 30.0  # a read even without a wake-up: an event a slow reader's stream dropped still arrives


class Client:
    """A connected client of a session's owner. Make one with ``async with Client.connect(...) as wa``."""

    def __init__(self, api: ApiClient, session: RemoteSession, tasks: set[asyncio.Task[None]]) -> None:
        self._api = api
        self._session = session
        self._tasks = tasks  # the event streams' readers, cancelled when the client closes

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls,
        config: Config | str | os.PathLike[str] | None = None,
        *,
        url: str | None = None,
        token: str | None = None,
        demo: bool = False,
    ) -> AsyncIterator[Client]:
        """The owner of the session ``config`` names (a Config, a config.toml path, or None: found as the CLI
        finds it: ./config.toml, then $XDG_CONFIG_HOME/watui/config.toml, and WATUI_* variables; ``demo``: the
        demo's session, as ``watui --demo``), or the ``watui serve`` at ``url`` with its ``token``.
        OwnerNotRunning (with how to start one) when none answers; Refused when the socket or the process
        serving it is another user's, or the token is wrong."""
        api = ServeClient(url, token) if url is not None else await _owner(config, demo)
        tasks: set[asyncio.Task[None]] = set()
        try:
            try:
                status = await api.status()
            except OwnerGone as exc:
                if url is None:
                    raise
                raise OwnerNotRunning(f"{exc}; start it there with 'watui serve' (and [api] token set)") from None
            yield cls(api, RemoteSession(api, status), tasks)
        finally:
            await _close(api, tasks)

    # -- one call each ---------------------------------------------------------------------------------
    async def status(self) -> SessionInfo:
        """The session now: state, account, health, disk (``watui info --json``'s ``SessionInfo``)."""
        self._session.absorb(await self._api.status())
        return self._session.info

    async def send_text(self, to: str, text: str, key: str | None = None) -> Message:
        """Accept ``text`` for ``to`` (a number with its country code, or a chat id) into the outbox: when this
        returns it is on disk and goes as soon as the session is CONNECTED, paced. The same ``key`` again is
        the same message. Refused: 400 a bad field (named), 409 no account linked, 429 the outbox is full
        (``retry_after``), 503 the outbox file cannot be used."""
        return await self._session.send_text(to, text, key=key)

    async def message(self, message_id: str) -> Message | None:
        """That message now (status, reason, ack times), None when the owner knows no such id."""
        return await self._session.message(message_id)

    async def page(self, since: str | None = None, limit: int = 100, bodies: bool = False) -> MessagePage:
        """One read: the messages after ``since`` (at most ``limit``, newest last) and the cursor after them."""
        return await self._session.messages(since, limit, bodies)

    # -- following the owner ---------------------------------------------------------------------------
    async def wait(self, message_id: str, ack: Ack = "sent", timeout: float | None = None) -> Message:
        """The message once it reached ``ack`` (sent: WhatsApp's server has it; delivered; read), or any
        status past it. MessageFailed (with its reason) when it failed; WaitTimeout after ``timeout`` seconds
        (it is still queued and still goes); Refused (404) for an id the owner does not know. An owner
        restart meanwhile is waited through."""
        if ack not in ("sent", "delivered", "read"):
            raise ValueError(f"ack: expected 'sent', 'delivered' or 'read', got {ack!r}")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        again = False
        while True:
            changes = await self._changes(deadline, f"message {message_id} to be {ack}", again)
            try:
                while True:
                    last = await self._reached(message_id)
                    if _rank(last) >= _RANK[ack]:
                        return last
                    if deadline is not None and loop.time() >= deadline:  # after a last read
                        raise WaitTimeout(
                            f"message {message_id} is {last.status}, not yet {ack}, after {timeout:g} s "
                            "(it is on disk and still goes)",
                            last,
                        )
                    await _next_wakeup(changes, deadline, lambda e: e.get("id") == message_id, loop)
            except OwnerGone:
                again = True  # the owner went away: wait for the next one and read again
            finally:
                changes.close()

    async def _reached(self, message_id: str) -> Message:
        found = await self._session.message(message_id)
        if found is None:
            raise Refused(f"no message {message_id!r:.80} in the outbox or the inbox", 404)
        if found.direction == "in":
            raise ValueError(f"message {message_id} is an incoming message: only an outgoing one has acks")
        if found.status == "failed":
            raise MessageFailed(found)
        return found

    def messages(self, since: str | None = None, *, bodies: bool = False) -> MessageFeed:
        """Every incoming and outgoing message after ``since`` (a cursor; None: the beginning of what the owner
        keeps; ``"now"``: only what comes after this call), oldest first, then each new one as it comes, for
        ever: ``async for message in wa.messages(...)``. Through an owner restart it reconnects and reads on
        from its cursor: no message skipped, none twice. ``bodies``: with the texts."""
        return MessageFeed(self._session, self._changes, self._end, since, bodies)

    async def events(self) -> AsyncIterator[Event]:
        """The owner's events as they happen (state, qr, health, message, ack, alert, ...), each with the
        session's snapshot after it; OwnerNotRunning once the owner is gone (events are not kept: a new
        ``events()`` after a restart starts from then)."""
        async for data in self._api.events():
            if data.get("type") == "snapshot":
                self._session.absorb(data["info"])
                continue
            if data.get("type") not in ("message", "ack"):  # these change no snapshot: no read for each
                with contextlib.suppress(OwnerNotRunning):
                    self._session.absorb(await self._api.status())
            yield Event.from_json(data, self._session.info)
        raise OwnerGone(f"{self._api.label} stopped: its events stream on {self._api.where} ended")

    async def _changes(self, deadline: float | None, waiting_for: str, again: bool = False) -> _Changes:
        """An open events stream (the owner has subscribed it), after as many reconnects as it takes, with
        backoff; WaitTimeout when ``deadline`` passes first. ``again``: the owner went away since the last
        one, so the one found now is asked who it is (its pid names it in errors)."""
        loop = asyncio.get_running_loop()
        delay = RECONNECT_FIRST_S
        while True:
            changes = _Changes(self._api, self._tasks)
            try:
                await changes.open()
                if again and isinstance(self._api, OwnerClient):
                    await self._api.hello()
                return changes
            except OwnerGone as exc:
                changes.close()
                if deadline is not None and loop.time() + delay > deadline:
                    raise WaitTimeout(f"still waiting for {waiting_for}: {exc}") from None
            except BaseException:
                changes.close()
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_S)

    async def _end(self) -> str:
        """The cursor after everything the owner has now."""
        cursor = ""
        while True:
            page = await self._session.messages(cursor, MAX_LIMIT)
            if not page.messages:
                return page.cursor
            cursor = page.cursor


class MessageFeed:
    """``async for message in wa.messages(since)``. ``cursor`` is where it is: the cursor just after the last
    message yielded (save it to start a later run there: nothing skipped, nothing again; from an owner that
    gives no per-message cursors, the cursor of the last page whose every message was yielded, so at most
    that page comes again, with the same ids)."""

    def __init__(
        self,
        session: RemoteSession,
        changes: Callable[[float | None, str, bool], Awaitable[_Changes]],
        end: Callable[[], Awaitable[str]],
        since: str | None,
        bodies: bool,
    ) -> None:
        self._session = session
        self._changes = changes  # the client's events stream, reopened after the owner went away
        self._end = end  # the cursor after everything the owner has now
        self.cursor = since or ""
        self._bodies = bodies
        self._follow: AsyncIterator[Message] | None = None

    def __aiter__(self) -> MessageFeed:
        return self

    async def __anext__(self) -> Message:
        if self._follow is None:
            self._follow = self._messages()
        return await anext(self._follow)

    async def _messages(self) -> AsyncIterator[Message]:
        if self.cursor == "now":
            self.cursor = await self._end()
        loop = asyncio.get_running_loop()
        again = False
        while True:
            changes = await self._changes(None, "the owner", again)
            try:
                while True:
                    page = await self._session.messages(self.cursor, MAX_LIMIT, self._bodies)
                    for index, message in enumerate(page.messages):
                        self.cursor = page.cursor_after(index) or self.cursor  # exactly after it, when told
                        yield message
                    self.cursor = page.cursor
                    if not page.messages:  # nothing more now: until the next message or accepted send
                        await _next_wakeup(changes, None, _new_message, loop)
            except OwnerGone:
                again = True  # the owner went away: reconnect, and read on from the cursor
            finally:
                changes.close()


def _new_message(event: dict[str, Any]) -> bool:
    """An event that adds a row after the cursor: an incoming message, or a send accepted (its ``queued``)."""
    return event.get("type") == "message" or event.get("status") == "queued"


def _rank(message: Message) -> int:
    return _RANK.get(message.status, -1)


async def _next_wakeup(
    changes: _Changes, deadline: float | None, wanted: Callable[[dict[str, Any]], bool], loop: asyncio.AbstractEventLoop
) -> None:
    """Until an event ``wanted`` says to read again, POLL_S pass, or ``deadline``; OwnerGone when the stream
    ended (the owner went away)."""
    until = loop.time() + POLL_S if deadline is None else min(deadline, loop.time() + POLL_S)
    while True:
        event = await changes.next(until - loop.time())
        if event is None or wanted(event):
            return


class _Changes:
    """One events stream of the owner, read by a task: ``open`` returns once the owner sent its first frame
    (the snapshot, sent after it subscribed the stream: nothing after it is missed), ``next`` gives each
    ``message`` and ``ack`` event after it (None at the timeout). OwnerGone once the stream ended."""

    def __init__(self, api: ApiClient, tasks: set[asyncio.Task[None]]) -> None:
        self._api = api
        self._queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._failed: BaseException | None = None
        self._tasks = tasks
        self._task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self._task = asyncio.create_task(self._pump())
        self._tasks.add(self._task)
        self._task.add_done_callback(self._tasks.discard)
        if await self._get(None) is None:
            raise OwnerGone(f"no watui answers on {self._api.where}")

    async def _pump(self) -> None:
        try:
            async for data in self._api.events():
                if data.get("type") in ("snapshot", "message", "ack"):
                    self._queue.put_nowait(data)
        except Refused as exc:  # a wrong token, another uid: no reconnect mends that
            self._failed = exc
        except OwnerNotRunning:
            pass  # gone before the stream opened: the end says so
        finally:
            self._queue.put_nowait(None)

    async def _get(self, timeout: float | None) -> dict[str, Any] | None:
        # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancel that lands as the get
        # completes (CPython gh-86296), and a Ctrl-C of `watui messages --follow` was then lost.
        async with asyncio.timeout(timeout):
            item = await self._queue.get()
        if item is None:
            self._queue.put_nowait(None)  # it stays ended
            if self._failed is not None:
                raise self._failed
        return item

    async def next(self, timeout: float) -> dict[str, Any] | None:
        try:
            item = await self._get(max(0.0, timeout))
        except TimeoutError:
            return None
        if item is None:
            raise OwnerGone(f"{self._api.label} went away (its events stream on {self._api.where} ended)")
        return item

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _owner(config: Config | str | os.PathLike[str] | None, demo: bool) -> ApiClient:
    found = config if isinstance(config, Config) else load_config(config)
    if demo:
        found = found.for_demo()
    api = await find_owner(found)
    if api is None:
        flags = (" --demo" if demo else "") + (f" --config {found.source}" if found.source is not None else "")
        raise OwnerNotRunning(
            f"no watui runs the session {found.profile_dir} (nothing answers on {socket_path(found)}); "
            f"start one with 'watui{flags} watch' (or 'watui{flags} serve', or the dashboard 'watui{flags}')"
        )
    return api


async def _close(api: ApiClient, tasks: set[asyncio.Task[None]]) -> None:
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await api.close()
