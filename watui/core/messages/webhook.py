"""Webhooks for incoming messages and acks: each one a signed JSON POST, delivered at least once, in order.

:class:`WebhookDeliverer` reads the inbox (and the outbox's ack log) with its own durable cursor, named
``webhook``, kept in the file it reads. For each row after the cursor it POSTs one JSON object to
``[messages.webhook] url`` and moves the cursor past it only after the receiver answered with a 2xx, in
a committed (fsync'd) write: a receiver that is down for hours, a kill -9 of watui, a restart, each leaves
the cursor on the first delivery not answered, and delivery resumes there. So every message is delivered
at least once; one whose 2xx came just before a crash, before its cursor was committed, is delivered again,
with the same ``X-Watui-Delivery`` and message id, for the receiver to drop. Deliveries go one at a time in
the order of the files (so in order per chat, and each message's acks in order), incoming messages and
acks interleaved by time. Anything but a 2xx is tried again (a 4xx too: a wrong secret or a receiver
being deployed is fixed by its owner, and nothing is dropped meanwhile), with an exponential backoff
(tenacity) from ``backoff_initial_s`` up to ``backoff_max_s``, or longer when the receiver's
``Retry-After`` asks. Redirects are not followed (a 3xx is not the receiver's 2xx).

The first run (no cursor stored yet) starts at the end: what the inbox held before the webhook was
configured is not sent. A stream left out of ``events`` has its cursor kept at the end, so turning it on
later does not send its past.

Each POST (``Content-Type: application/json``, UTF-8) carries these headers:

- ``X-Watui-Signature: sha256=<hex HMAC-SHA256 of the body with the secret>`` (the alert webhooks' scheme);
- ``X-Watui-Delivery``: a stable id of this delivery (the same in every attempt and after a restart; also
  the body's ``delivery``); ``X-Watui-Event``: ``message``, ``ack`` or ``test``; ``X-Watui-Attempt``: 1, 2, …
  (counted from 1 again after a restart); ``X-Watui-Timestamp``: when this attempt was made (unsigned).

The body, the same in every attempt: ``{"event": "message", "delivery", "session", "account", "id", "chat",
"sender", "from", "time", "t", "receivedAt", "type", "body", "size"}`` (``body`` the text or the media's
caption, left out when ``bodies = false``; ``size`` its length in characters; ``sender`` the author in a
group, null in a one-to-one chat; ``from`` whoever wrote it) or ``{"event": "ack", "delivery", "session",
"account", "id", "chat", "ack": "sent"|"delivered"|"read"|"failed", "reason", "time", "t"}``. Bodies go to
the receiver only, never to a log.

The deliverer runs as its own task (:meth:`WebhookDeliverer.run`): its disk work in threads
(``asyncio.to_thread``), each POST in a daemon thread of its own bounded by ``timeout_s``, so a slow or
hanging receiver delays nothing but the webhook. :meth:`~WebhookDeliverer.wake` when a message was recorded
(or an ack came); :meth:`~WebhookDeliverer.close` to stop; :attr:`~WebhookDeliverer.status` and
:meth:`~WebhookDeliverer.backlog` say what is undelivered and since when. :func:`test_delivery` sends one
test POST and says what the receiver answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from watui.config import Config, MessageWebhookSettings
from watui.core.errors import first_line
from watui.core.journal.channels import _redact  # the alert webhooks' signature and URL redaction
from watui.core.messages.db import held_alone
from watui.core.messages.errors import StoreError
from watui.core.messages.inbox import Inbox
from watui.core.messages.outbox import Outbox
from watui.core.messages.webhook_post import (
    ACK,
    MESSAGE,
    Answer,
    Post,
    ack_payload,
    encode,
    headers_for,
    message_payload,
    post,
    post_in_daemon_thread,
)

log = logging.getLogger(__name__)
CURSOR = "webhook"  # the inbox's cursor and the ack log's, each in its own file
IDLE_S = 30.0  # nothing to deliver and no wake(): look again this often all the same
BATCH = 100


class WebhookBusy(StoreError):
    """Another deliverer already delivers from this inbox: two would each send what the other has in hand."""


@dataclass(frozen=True)
class Backlog:
    """What the receiver has not yet answered with a 2xx: incoming messages, acks, and the oldest's time."""

    messages: int = 0
    acks: int = 0
    oldest_at: float | None = None

    @property
    def count(self) -> int:
        return self.messages + self.acks

    def age_s(self, now: float) -> float:
        """How long the oldest undelivered one has waited (0: none waits)."""
        return max(0.0, now - self.oldest_at) if self.oldest_at is not None else 0.0

    def to_json(self, now: float) -> dict[str, Any]:
        return {"messages": self.messages, "acks": self.acks, "oldestAgeS": round(self.age_s(now), 3)}


@dataclass(frozen=True)
class WebhookStatus:
    """A snapshot of the deliverer, cheap to read (no disk): for the dashboard, metrics and alerts."""

    receiver: str  # the URL with its path, query and any userinfo hidden
    backlog: Backlog = field(default_factory=Backlog)  # as of the last pass (backlog() asks the files)
    running: bool = False
    delivered: int = 0  # in this run
    attempt: int = 0  # of the delivery in hand (0: none in hand)
    last_ok_at: float | None = None
    failing_since: float | None = None  # the first failure of the deliveries not answered since
    last_error: str | None = None  # the last failure's one line

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "receiver": self.receiver,
            "running": self.running,
            "backlog": self.backlog.to_json(now),
            "delivered": self.delivered,
            "attempt": self.attempt,
            "lastOkAt": self.last_ok_at,
            "failingSince": self.failing_since,
            "lastError": self.last_error,
        }


@dataclass(frozen=True)
class _Item:
    stream: str  # MESSAGE or ACK
    seq: int
    at: float  # when it was recorded: incoming messages and acks go out in this order, each stream in its own
    delivery: str
    body: bytes = field(repr=False)  # the JSON, made once: the same bytes (and signature) in every attempt


class _NotDelivered(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.reason)
        self.answer = answer


class _Closing(Exception):
    pass


# -- the deliverer --------------------------------------------------------------------------------------


def one_deliverer(inbox: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``<inbox>.webhook.lock`` while delivering: two deliverers would each send what the other has."""
    return held_alone(
        inbox, "webhook", "inbox", WebhookBusy, f"{inbox}: another webhook deliverer already delivers from this inbox"
    )


class WebhookDeliverer:
    """Delivers ``inbox``'s incoming messages (and ``outbox``'s acks, when given) to ``settings.url``.

    ``session`` names the session in every payload; ``clock`` is the wall time; ``post_fn`` the one POST
    (tests and the benchmark keep the real one)."""

    def __init__(
        self,
        settings: MessageWebhookSettings,
        inbox: Inbox,
        outbox: Outbox | None = None,
        *,
        session: str = "watui",
        clock: Callable[[], float] = time.time,
        idle_s: float = IDLE_S,
        post_fn: Post = post,
    ) -> None:
        self.settings = settings
        self.inbox = inbox
        self.outbox = outbox
        self.session = session
        self.clock = clock
        self.idle_s = idle_s
        self.post_fn = post_fn
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._cursors: dict[str, int] = {}
        self._cursors_started = False
        self._status = WebhookStatus(_redact(settings.url) if settings.url else "(none)")

    @property
    def status(self) -> WebhookStatus:
        return self._status

    def wake(self) -> None:
        """A message was recorded (or an ack came): look now rather than at the next idle tick."""
        self._wake.set()

    def close(self) -> None:
        """Stop: :meth:`run` returns soon after (a POST in flight is left to its thread; its cursor is not
        moved, so it is delivered again at the next run)."""
        self._closing.set()
        self._wake.set()

    async def backlog(self) -> Backlog:
        """What is undelivered now, read from the files (in a thread)."""
        return await asyncio.to_thread(self._read_backlog)

    async def run(self) -> None:
        """Deliver until :meth:`close`. Raises WebhookBusy when another deliverer has this inbox."""
        if not self.settings.url:
            return
        with one_deliverer(self.inbox.path):
            self._status = replace(self._status, running=True)
            try:
                await self._loop()
            finally:
                self._status = replace(self._status, running=False, attempt=0)

    # -- the loop ----------------------------------------------------------------------------------------

    async def _loop(self) -> None:
        started = False
        while not self._closing.is_set():
            self._wake.clear()  # before reading: a wake() during the pass is not lost
            try:
                if not started:
                    await asyncio.to_thread(self.start_cursors)
                    started = True
                items = await asyncio.to_thread(self._pending)
                if items:  # what the status says while the receiver is down: the oldest waiting is in hand
                    self._status = replace(self._status, backlog=await asyncio.to_thread(self._read_backlog))
                for item in items:
                    if not await self._deliver(item):
                        return  # closing
                    await asyncio.to_thread(self._advance, item)
                backlog = await asyncio.to_thread(self._read_backlog)
                self._status = replace(self._status, backlog=backlog)
                if items:
                    continue
            except StoreError as exc:  # the inbox or outbox file: say so, try again later (nothing moved)
                log.warning("webhook paused: %s", first_line(exc))
            except Exception:  # a bug of ours: said in the log; the cursors have not moved, so nothing is lost
                log.exception("webhook paused by an unexpected error")
            await self._idle(self.idle_s)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _wants(self, stream: str) -> bool:
        return stream in self.settings.events and (stream == MESSAGE or self.outbox is not None)

    def start_cursors(self) -> None:
        """Each stream's stored cursor; a first run starts at the end (committed at once). Blocking: the
        messaging service calls it (in a thread) before it records anything, so nothing recorded after
        the service started is taken for the past; :meth:`run` calls it too, once, if nobody did."""
        if self._cursors_started:
            return
        stored = self.inbox.stored_cursor(CURSOR)
        if stored is None:
            stored = self.inbox.set_cursor(CURSOR, self.inbox.last_seq(), self.clock())
        self._cursors[MESSAGE] = stored
        if self.outbox is not None:
            ack = self.outbox.ack_cursor(CURSOR)
            if ack is None:
                ack = self.outbox.set_ack_cursor(CURSOR, self.outbox.last_ack_seq(), self.clock())
            self._cursors[ACK] = ack
        self._cursors_started = True

    def _pending(self) -> list[_Item]:
        """The next batch, incoming messages and acks merged by time (each stream kept in its order). A
        stream left out of ``events`` has its cursor moved to the end instead."""
        messages: list[_Item] = []
        acks: list[_Item] = []
        bodies = self.settings.bodies
        if self._wants(MESSAGE):
            for row in self.inbox.read(self._cursors[MESSAGE], BATCH):
                payload = message_payload(row, self.session, bodies)
                messages.append(_Item(MESSAGE, row.seq, row.received_at, payload["delivery"], encode(payload)))
        else:
            self._skip(MESSAGE)
        if self._wants(ACK) and self.outbox is not None:
            for event in self.outbox.acks(self._cursors[ACK], BATCH):
                payload = ack_payload(event, self.session)
                acks.append(_Item(ACK, event.seq, event.at, payload["delivery"], encode(payload)))
        elif self.outbox is not None:
            self._skip(ACK)
        merged = list(heapq.merge(messages, acks, key=lambda item: item.at))
        # A full batch may have more behind it: nothing of the other stream recorded after its last one goes
        # first (the rest is read again at the next pass).
        cut = min((batch[-1].at for batch in (messages, acks) if len(batch) >= BATCH), default=None)
        return merged if cut is None else [item for item in merged if item.at <= cut]

    def _skip(self, stream: str) -> None:
        last = self.inbox.last_seq() if stream == MESSAGE else self.outbox.last_ack_seq() if self.outbox else 0
        if last > self._cursors.get(stream, 0):
            self._cursors[stream] = last
            self._commit(stream, last)

    def _advance(self, item: _Item) -> None:
        """The receiver answered 2xx: move the stream's cursor past ``item``, committed before the next."""
        self._commit(item.stream, item.seq)
        self._cursors[item.stream] = item.seq

    def _commit(self, stream: str, seq: int) -> None:
        if stream == MESSAGE:
            self.inbox.set_cursor(CURSOR, seq, self.clock())
        elif self.outbox is not None:
            self.outbox.set_ack_cursor(CURSOR, seq, self.clock())

    def _read_backlog(self) -> Backlog:
        messages, oldest = 0, None
        acks, oldest_ack = 0, None
        if self._wants(MESSAGE):
            after = self._cursors.get(MESSAGE)
            if after is None:
                after = self.inbox.stored_cursor(CURSOR) or 0
            messages, oldest = self.inbox.pending(after)
        if self._wants(ACK) and self.outbox is not None:
            after = self._cursors.get(ACK)
            if after is None:
                after = self.outbox.ack_cursor(CURSOR) or 0
            acks, oldest_ack = self.outbox.acks_pending(after)
        times = [t for t in (oldest, oldest_ack) if t is not None]
        return Backlog(messages, acks, min(times) if times else None)

    # -- one delivery, until the receiver takes it --------------------------------------------------------

    async def _deliver(self, item: _Item) -> bool:
        """POST ``item`` until a 2xx (True), with backoff; False when closing."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_NotDelivered),
            wait=self._wait,
            stop=lambda _: self._closing.is_set(),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    answer = await self._post(item, number)
                    self._note(item, number, answer)
                    if not answer.ok:
                        raise _NotDelivered(answer)
        except (_NotDelivered, _Closing):
            return False
        return True

    def _wait(self, state: RetryCallState) -> float:
        hook = self.settings
        wait = wait_exponential(multiplier=hook.backoff_initial_s, max=hook.backoff_max_s)(state)
        failed = state.outcome.exception() if state.outcome is not None else None
        asked = failed.answer.retry_after_s if isinstance(failed, _NotDelivered) else None
        return min(max(wait, asked or 0.0), hook.backoff_max_s)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)
        if self._closing.is_set():
            raise _Closing

    async def _post(self, item: _Item, attempt: int) -> Answer:
        hook = self.settings
        headers = headers_for(hook.secret, item.body, item.stream, item.delivery, attempt)
        self._status = replace(self._status, attempt=attempt)
        answer = post_in_daemon_thread(lambda: self.post_fn(hook.url, item.body, headers, hook.timeout_s))
        closing: asyncio.Future[Any] = asyncio.ensure_future(self._closing.wait())
        either: set[asyncio.Future[Any]] = {answer, closing}
        try:
            done, _ = await asyncio.wait(either, timeout=hook.timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
        if answer in done:
            return answer.result()
        if self._closing.is_set():
            raise _Closing
        return Answer(None, hook.timeout_s, f"no answer within {hook.timeout_s:g} s")

    def _note(self, item: _Item, attempt: int, answer: Answer) -> None:
        now = self.clock()
        status = self._status
        if answer.ok:
            if attempt > 1:
                log.info("webhook %s: %s %s delivered after %d attempts", status.receiver, item.stream,
                         item.delivery, attempt)  # fmt: skip
            self._status = replace(status, delivered=status.delivered + 1, attempt=0, last_ok_at=now,
                                   failing_since=None, last_error=None)  # fmt: skip
            return
        if attempt & (attempt - 1) == 0:  # attempts 1, 2, 4, 8, ...: a receiver down for hours is a few lines
            log.warning("webhook %s: %s %s not delivered (attempt %d): %s", status.receiver, item.stream,
                        item.delivery, attempt, answer.reason)  # fmt: skip
        self._status = replace(status, failing_since=status.failing_since or now, last_error=answer.reason)


def deliverer_for(config: Config, inbox: Inbox, outbox: Outbox | None = None) -> WebhookDeliverer | None:
    """The session's deliverer (its payloads name the session by ``client_id``); None without a webhook url."""
    hook = config.messages.webhook
    return WebhookDeliverer(hook, inbox, outbox, session=config.session.client_id) if hook.enabled else None
