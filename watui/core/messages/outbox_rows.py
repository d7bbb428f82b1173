"""The outbox's rows: the states of a message, a message's row, the ack log's events, the outbox in figures.

Plain frozen data, read and written by ``outbox.py`` (the file); the package docstring
(``watui/core/messages/__init__.py``) tells the states and the exactly-once rule.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from watui.core.messages.db import CURSORS_SCHEMA


class State(StrEnum):
    QUEUED = "queued"  # accepted, waiting for its turn
    CLAIMED = "claimed"  # the page may have been asked to send it: never sent again before a check
    SENT = "sent"  # the page took it (or the check found it in the chat)
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"  # with a reason: expired, logged out, refused by the page, ...


PENDING = (State.QUEUED, State.CLAIMED)
ACK_RANK = {State.CLAIMED: 0, State.SENT: 1, State.DELIVERED: 2, State.READ: 3}
EXPIRED = "expired"
LOGGED_OUT = "logged out"
LOGGED_OUT_UNCONFIRMED = "logged out before the send was confirmed (it may have been sent)"


def new_message_id() -> str:
    """A WhatsApp message id of the shape WhatsApp Web and the phone apps make: ``3EB0`` + 18 hex digits."""
    return "3EB0" + secrets.token_hex(9).upper()


@dataclass(frozen=True)
class OutboxCounts:
    """The outbox in figures: ``queued`` and ``sending`` (claimed) now, ``sent`` and ``failed`` since a time."""

    queued: int = 0
    sending: int = 0
    sent: int = 0
    failed: int = 0
    oldest_pending_at: float | None = None  # when the oldest message not yet sent was accepted


@dataclass(frozen=True)
class OutboxRow:
    """One message of the outbox. Its repr never shows the body (logs must not hold what people wrote)."""

    seq: int
    id: str  # the WhatsApp message id, made by watui at accept
    account: str  # the account (wid) it is sent from; no other account ever sends it
    chat: str
    body: str = field(repr=False)
    key: str | None = None
    state: State = State.QUEUED
    reason: str | None = None
    attempts: int = 0
    accepted_at: float = 0.0
    expires_at: float = 0.0
    claimed_at: float | None = None
    sent_at: float | None = None
    acked_at: float | None = None
    updated_at: float = 0.0

    def to_json(self, bodies: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "seq": self.seq,
            "account": self.account,
            "chat": self.chat,
            "key": self.key,
            "state": self.state.value,
            "reason": self.reason,
            "attempts": self.attempts,
            "acceptedAt": self.accepted_at,
            "expiresAt": self.expires_at,
            "claimedAt": self.claimed_at,
            "sentAt": self.sent_at,
            "ackedAt": self.acked_at,
        }
        if bodies:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class AckEvent:
    """One row of the ack log: message ``id`` became ``state`` at ``at``. ``seq`` only grows."""

    seq: int
    id: str
    account: str
    chat: str
    state: State
    reason: str | None
    at: float


def row_of(values: tuple[Any, ...]) -> OutboxRow:
    fields_ = list(values)
    fields_[6] = State(fields_[6])
    return OutboxRow(*fields_)


SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    account TEXT NOT NULL,
    chat TEXT NOT NULL,
    body TEXT NOT NULL,
    key TEXT,
    state TEXT NOT NULL,
    reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    accepted_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    claimed_at REAL,
    sent_at REAL,
    acked_at REAL,
    updated_at REAL NOT NULL,
    UNIQUE (account, key)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (account, state, chat, seq);
CREATE INDEX IF NOT EXISTS outbox_claims ON outbox (account, chat, claimed_at);
CREATE INDEX IF NOT EXISTS outbox_last ON outbox (account, claimed_at);
CREATE INDEX IF NOT EXISTS outbox_expiry ON outbox (state, expires_at);
CREATE INDEX IF NOT EXISTS outbox_updated ON outbox (updated_at);
-- The ack log: one row per change of a message to sent, delivered, read or failed, written by the trigger in
-- the transaction of the change itself, whichever method makes it. The webhook reads it by cursor.
CREATE TABLE IF NOT EXISTS acks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    account TEXT NOT NULL,
    chat TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS acks_at ON acks (at);
CREATE TRIGGER IF NOT EXISTS outbox_acks AFTER UPDATE OF state ON outbox
WHEN NEW.state IS NOT OLD.state AND NEW.state IN ('sent', 'delivered', 'read', 'failed')
BEGIN
    INSERT INTO acks (id, account, chat, state, reason, at)
    VALUES (NEW.id, NEW.account, NEW.chat, NEW.state, NEW.reason, NEW.updated_at);
END;
"""
    + CURSORS_SCHEMA
)
COLUMNS = (
    "seq, id, account, chat, body, key, state, reason, attempts, accepted_at, expires_at, claimed_at, sent_at, "
    "acked_at, updated_at"
)
