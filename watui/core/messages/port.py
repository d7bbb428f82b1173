"""MessagingPort: what a face (HTTP, CLI, a Python client) asks of a session's messaging, and its JSON.

Three calls, the same in the owner and in a remote client of it:

- ``send_text(to, text, key=None)`` accepts a text into the outbox (committed before it returns) and gives
  back the accepted :class:`Message` (its WhatsApp id, status ``queued``; the same ``key`` again: the first
  message, as it is now);
- ``message(id)``: that message now (its status, reason, and ack times), None when the id is unknown;
- ``messages(since=CURSOR, limit, bodies=False)``: incoming and outgoing messages accepted or received after
  the cursor, newest last, and the cursor to ask from next (:class:`MessagePage`). A cursor is opaque text;
  ``""`` (or None) is the beginning of what is kept;
- ``traffic()``: whether messages flow, in figures (:class:`Traffic`): for the dashboard, metrics, alerts.

Each value has ``to_json`` and ``from_json`` (``from_json(x.to_json()) == x``), so a remote client rebuilds
exactly what the owner answered. Bodies appear in JSON only when asked (``bodies=True``).
"""

from __future__ import annotations

import heapq
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from watui.core.messages.errors import MessageError
from watui.core.messages.inbox import InboxRow
from watui.core.messages.outbox_rows import OutboxRow

Direction = Literal["out", "in"]
RECEIVED = "received"  # the status of an incoming message
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
_DIRECTIONS: dict[str, Direction] = {"out": "out", "in": "in"}
_CURSOR = re.compile(r"^(\d{1,18})-(\d{1,18})$")


@dataclass(frozen=True)
class Cursor:
    """Where a reader is: the last outbox seq and the last inbox seq it has seen. Text: ``"<out>-<in>"``."""

    out_seq: int = 0
    in_seq: int = 0

    def __str__(self) -> str:
        return f"{self.out_seq}-{self.in_seq}"

    @classmethod
    def parse(cls, value: str | None) -> Cursor:
        """The cursor ``value`` (None or "" : the beginning); MessageError naming it when it is not one."""
        if value is None or value == "" or value == "0":
            return cls()
        found = _CURSOR.match(value) if isinstance(value, str) else None
        if found is None:
            raise MessageError(f"since: expected a cursor given by an earlier answer (like '12-5'), got {value!r:.60}")
        return cls(int(found[1]), int(found[2]))


@dataclass(frozen=True)
class Message:
    """One message, outgoing (``direction="out"``) or incoming (``"in"``). Times are Unix seconds.

    ``status``: an outgoing message's outbox state (queued, claimed, sent, delivered, read, failed), with
    ``reason`` when failed; ``"received"`` for an incoming one. ``size``: the text's length in characters.
    ``body`` is None unless bodies were asked for (it is never logged)."""

    id: str
    direction: Direction
    chat: str
    status: str
    size: int
    account: str = ""
    key: str | None = None
    reason: str | None = None
    sender: str | None = None  # incoming, in a group: who wrote it
    kind: str = "chat"
    accepted_at: float | None = None  # outgoing: when it was accepted into the outbox
    sent_at: float | None = None  # outgoing: when WhatsApp's server took it
    acked_at: float | None = None  # outgoing: the time of its latest ack (delivered, read)
    expires_at: float | None = None  # outgoing: it fails "expired" if not sent by then
    received_at: float | None = None  # incoming: when watui committed it to the inbox
    t: float | None = None  # incoming: WhatsApp's timestamp
    body: str | None = field(default=None, repr=False)

    @property
    def time(self) -> float:
        """When it entered watui (accepted or received): the order of a page of messages."""
        return (self.accepted_at if self.direction == "out" else self.received_at) or 0.0

    @classmethod
    def from_outbox(cls, row: OutboxRow, bodies: bool = False) -> Message:
        return cls(
            id=row.id, direction="out", chat=row.chat, status=row.state.value, size=len(row.body),
            account=row.account, key=row.key, reason=row.reason, accepted_at=row.accepted_at,
            sent_at=row.sent_at, acked_at=row.acked_at, expires_at=row.expires_at,
            body=row.body if bodies else None,
        )  # fmt: skip

    @classmethod
    def from_inbox(cls, row: InboxRow, bodies: bool = False) -> Message:
        return cls(
            id=row.id, direction="in", chat=row.chat, status=RECEIVED, size=len(row.body), account=row.account,
            sender=row.sender, kind=row.kind, received_at=row.received_at, t=row.t,
            body=row.body if bodies else None,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "direction": self.direction,
            "chat": self.chat,
            "status": self.status,
            "size": self.size,
            "account": self.account,
            "kind": self.kind,
        }
        optional = {
            "key": self.key,
            "reason": self.reason,
            "sender": self.sender,
            "acceptedAt": self.accepted_at,
            "sentAt": self.sent_at,
            "ackedAt": self.acked_at,
            "expiresAt": self.expires_at,
            "receivedAt": self.received_at,
            "t": self.t,
            "body": self.body,
        }
        out.update({name: value for name, value in optional.items() if value is not None})
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """The message ``to_json`` wrote; ValueError naming the field when ``data`` is not one."""
        raw = _text(data, "direction")
        if raw not in _DIRECTIONS:
            raise ValueError(f"message: direction must be 'out' or 'in', got {raw!r}")
        direction = _DIRECTIONS[raw]
        size = data.get("size")
        if not isinstance(size, int) or isinstance(size, bool):
            raise ValueError(f"message: size must be a whole number, got {size!r}")
        return cls(
            id=_text(data, "id"), direction=direction, chat=_text(data, "chat"), status=_text(data, "status"),
            size=size, account=str(data.get("account") or ""), key=_maybe_text(data, "key"),
            reason=_maybe_text(data, "reason"), sender=_maybe_text(data, "sender"),
            kind=str(data.get("kind") or "chat"), accepted_at=_maybe_time(data, "acceptedAt"),
            sent_at=_maybe_time(data, "sentAt"), acked_at=_maybe_time(data, "ackedAt"),
            expires_at=_maybe_time(data, "expiresAt"), received_at=_maybe_time(data, "receivedAt"),
            t=_maybe_time(data, "t"), body=_maybe_text(data, "body"),
        )  # fmt: skip


@dataclass(frozen=True)
class MessagePage:
    """Messages after a cursor, oldest first (newest last), and the cursor to ask from next time (the same
    cursor back when nothing was new). ``cursors``: the cursor just after each message (resuming there gives
    exactly the messages after it: a reader that stops mid-page, such as ``watui messages --json``, says
    where it is); empty from an owner that sent none. In JSON each message carries its own ``cursor``."""

    messages: tuple[Message, ...]
    cursor: str
    cursors: tuple[str, ...] = ()

    def cursor_after(self, index: int) -> str | None:
        """The cursor just after ``messages[index]``; None when the owner did not say."""
        return self.cursors[index] if len(self.cursors) == len(self.messages) else None

    def to_json(self) -> dict[str, Any]:
        items = [m.to_json() for m in self.messages]
        for index, item in enumerate(items):
            after = self.cursor_after(index)
            if after is not None:
                item["cursor"] = after
        return {"messages": items, "cursor": self.cursor}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MessagePage:
        items = data.get("messages")
        if not isinstance(items, list):
            raise ValueError(f"messages: expected a list, got {type(items).__name__}")
        cursor = _text(data, "cursor")
        Cursor.parse(cursor)
        cursors = tuple(_maybe_text(item, "cursor") or "" for item in items if isinstance(item, Mapping))
        for each in cursors:
            Cursor.parse(each)
        every = len(cursors) == len(items) and all(cursors)
        return cls(tuple(Message.from_json(item) for item in items), cursor, cursors if every else ())


TRAFFIC_WINDOW_S = 3600.0  # "in the last hour": what the dashboard, metrics and alerts count


@dataclass(frozen=True)
class Traffic:
    """Whether messages flow, in figures: the outbox now (``queued``, ``sending``: claimed, its send not yet
    confirmed; ``oldest_pending_at``: when the oldest of them was accepted), what went and came in the last
    :data:`TRAFFIC_WINDOW_S` (``sent``, ``failed``, ``received``), when the newest incoming message arrived,
    and the webhook's backlog (``webhook`` False: no ``[messages.webhook] url``). Times are Unix seconds,
    ``at`` when the figures were read."""

    at: float
    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    received: int = 0
    oldest_pending_at: float | None = None
    last_received_at: float | None = None
    webhook: bool = False
    webhook_backlog: int = 0
    webhook_oldest_at: float | None = None
    webhook_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "windowS": TRAFFIC_WINDOW_S,
            "queued": self.queued,
            "sending": self.sending,
            "sent": self.sent,
            "failed": self.failed,
            "received": self.received,
            "oldestPendingAt": self.oldest_pending_at,
            "lastReceivedAt": self.last_received_at,
            "webhook": self.webhook,
            "webhookBacklog": self.webhook_backlog,
            "webhookOldestAt": self.webhook_oldest_at,
            "webhookError": self.webhook_error,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Traffic:
        """The figures ``to_json`` wrote; ValueError naming the field when ``data`` is not them."""

        def count(name: str) -> int:
            value = data.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"traffic: {name} must be a whole number, got {value!r}")
            return value

        at = _maybe_time(data, "at")
        if at is None:
            raise ValueError("traffic: at is required (a time)")
        return cls(
            at=at, queued=count("queued"), sending=count("sending"), sent=count("sent"), failed=count("failed"),
            received=count("received"), oldest_pending_at=_maybe_time(data, "oldestPendingAt"),
            last_received_at=_maybe_time(data, "lastReceivedAt"), webhook=bool(data.get("webhook", False)),
            webhook_backlog=count("webhookBacklog"), webhook_oldest_at=_maybe_time(data, "webhookOldestAt"),
            webhook_error=_maybe_text(data, "webhookError"),
        )  # fmt: skip


SENT_STATUSES = frozenset({"sent", "delivered", "read"})


def counted_as(event_type: str, data: Mapping[str, Any]) -> str | None:
    """What one ``message`` or ``ack`` event adds to the counts of messages (the metrics' counters, the
    journal's messages per hour): ``"received"`` (an incoming message, committed to the inbox),
    ``"sent"`` (the ack that first proved the send: status ``sent``, or a ``delivered``/``read`` ack that
    confirmed a claimed message at once, which the outbox stamps with ``sentAt == ackedAt``), ``"failed"``,
    or None (``queued``, a later delivered/read, anything else). Each message is counted once per status,
    across restarts too, since this reads only the event."""
    if event_type == "message":
        return "received" if data.get("direction") == "in" else None
    if event_type != "ack" or data.get("direction") != "out":
        return None
    status = data.get("status")
    if status == "failed":
        return "failed"
    if status == "sent":
        return "sent"
    if status in SENT_STATUSES:
        sent_at = data.get("sentAt")
        return "sent" if sent_at is not None and sent_at == data.get("ackedAt") else None
    return None


def page_of(
    outgoing: list[OutboxRow], incoming: list[InboxRow], since: Cursor, limit: int, bodies: bool = False
) -> MessagePage:
    """Merge the outbox rows and inbox rows read after ``since`` (each list in its seq order) into one page
    of at most ``limit``, by the time each entered watui. The next cursor is the last seq taken of each: what
    was left out of a list all comes after what was taken of it, so nothing is skipped."""
    # heapq.merge keeps each list's own order (seq), whatever the clock did: a later seq never comes first.
    merged = list(
        itertools.islice(
            heapq.merge(
                [(row.accepted_at, 0, row.seq, Message.from_outbox(row, bodies)) for row in outgoing],
                [(row.received_at, 1, row.seq, Message.from_inbox(row, bodies)) for row in incoming],
                key=lambda item: (item[0], item[1]),
            ),
            limit,
        )
    )
    out_seq, in_seq = since.out_seq, since.in_seq
    cursors = []
    for _time, side, seq, _message in merged:  # the cursor after each: the last seq taken of each list so far
        out_seq, in_seq = (max(out_seq, seq), in_seq) if side == 0 else (out_seq, max(in_seq, seq))
        cursors.append(str(Cursor(out_seq, in_seq)))
    return MessagePage(tuple(item[3] for item in merged), str(Cursor(out_seq, in_seq)), tuple(cursors))


def check_limit(value: object) -> int:
    """``limit`` as asked (1 to MAX_LIMIT); MessageError naming it otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_LIMIT:
        raise MessageError(f"limit: expected a whole number from 1 to {MAX_LIMIT}, got {value!r:.40}")
    return value


@runtime_checkable
class MessagingPort(Protocol):
    """A session that sends and receives messages (the owner's SessionManager, a remote client of it)."""

    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message: ...

    async def message(self, message_id: str) -> Message | None: ...

    async def messages(
        self, since: str | None = None, limit: int = DEFAULT_LIMIT, bodies: bool = False
    ) -> MessagePage: ...

    async def traffic(self) -> Traffic:
        """Whether messages flow: the outbox now, the last hour's counts, the webhook's backlog."""
        ...


def _text(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise ValueError(f"message: {name} must be text, got {value!r:.40}")
    return value


def _maybe_text(data: Mapping[str, Any], name: str) -> str | None:
    value = data.get(name)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"message: {name} must be text or absent, got {value!r:.40}")
    return value


def _maybe_time(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"message: {name} must be a time in seconds, got {value!r:.40}")
    return float(value)
