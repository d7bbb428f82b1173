"""The inbox: every incoming message committed before anyone is told of it, read by cursor.

Every method reads or writes the file (a write is an fsync'd commit): from the event loop call the
``*_async`` twin, which runs the same method in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from watui.config import Config
from watui.core.messages.db import Database, open_db, read_cursor
from watui.core.messages.errors import MessageError

WHAT = "inbox"
MAX_CURSOR_NAME = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    account TEXT NOT NULL,
    chat TEXT NOT NULL,
    sender TEXT,
    t REAL NOT NULL,
    received_at REAL NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    data TEXT,
    UNIQUE (account, chat, id)
);
CREATE INDEX IF NOT EXISTS inbox_received ON inbox (received_at);
CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated_at REAL NOT NULL)
"""
_COLUMNS = "seq, id, account, chat, sender, t, received_at, kind, body, data"


def inbox_path(config: Config) -> Path:
    return config.session_root / f".watui-{config.session.client_id}.inbox.sqlite"


@dataclass(frozen=True)
class Incoming:
    """A message as the page reports it. ``id`` is its WhatsApp id, unique within the chat."""

    account: str
    chat: str
    id: str
    body: str = field(repr=False)
    sender: str | None = None  # the author in a group; None in a one-to-one chat
    t: float | None = None  # WhatsApp's timestamp (seconds); None: when it was received
    kind: str = "chat"
    data: Mapping[str, Any] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class InboxRow:
    """One stored incoming message. ``seq`` only grows (it is never reused, even after a prune)."""

    seq: int
    id: str
    account: str
    chat: str
    sender: str | None
    t: float
    received_at: float
    kind: str
    body: str = field(repr=False)
    data: Mapping[str, Any] | None = field(default=None, repr=False)

    def to_json(self, bodies: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seq": self.seq,
            "id": self.id,
            "account": self.account,
            "chat": self.chat,
            "sender": self.sender,
            "t": self.t,
            "receivedAt": self.received_at,
            "kind": self.kind,
        }
        if bodies:
            out["body"] = self.body
            out["data"] = dict(self.data) if self.data is not None else None
        return out


def _row(values: tuple[Any, ...]) -> InboxRow:
    seq, id_, account, chat, sender, t, received_at, kind, body, data = values
    return InboxRow(seq, id_, account, chat, sender, t, received_at, kind, body, json.loads(data) if data else None)


class Inbox:
    """The inbox file of one session. ``clock`` gives the wall time (seconds): tests inject one."""

    def __init__(self, db: Database, keep_days: int = 30, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.keep_days = keep_days
        self.clock = clock

    @classmethod
    def open(
        cls, path: Path, keep_days: int = 30, *, clock: Callable[[], float] = time.time, move_damaged: bool = False
    ) -> Inbox:
        """Open or create the file. Raises StoreDamaged (file left as it is) unless ``move_damaged``."""
        return cls(open_db(path, WHAT, _SCHEMA, move_damaged=move_damaged), keep_days, clock)

    @property
    def path(self) -> Path:
        return self.db.path

    def close(self) -> None:
        self.db.close()

    def record_incoming(self, message: Incoming, now: float | None = None) -> InboxRow | None:
        """Store ``message``; return its row only once committed (announce it after this, never before).
        None when a message with the same id in the same chat is already stored (a duplicate: drop it)."""
        rows = self.record_many([message], now)
        return rows[0] if rows else None

    def record_many(self, messages: Iterable[Incoming], now: float | None = None) -> list[InboxRow]:
        """Store several in one commit (a history sync); the rows of the new ones, in order."""
        at = self.clock() if now is None else now
        batch = list(messages)

        def work(conn: sqlite3.Connection) -> list[InboxRow]:
            stored = []
            for m in batch:
                data = json.dumps(dict(m.data), separators=(",", ":"), default=str) if m.data else None
                t = at if m.t is None else m.t
                # Looked up first, not INSERT OR IGNORE: an ignored insert would still use up a seq.
                if conn.execute(
                    "SELECT 1 FROM inbox WHERE account = ? AND chat = ? AND id = ?", (m.account, m.chat, m.id)
                ).fetchone():
                    continue
                cursor = conn.execute(
                    "INSERT INTO inbox (id, account, chat, sender, t, received_at, kind, body, data)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (m.id, m.account, m.chat, m.sender, t, at, m.kind, m.body, data),
                )
                if cursor.lastrowid is not None:
                    stored.append(InboxRow(cursor.lastrowid, m.id, m.account, m.chat, m.sender, t, at, m.kind,
                                           m.body, dict(m.data) if m.data else None))  # fmt: skip
            return stored

        return self.db.write("record an incoming message in", work)

    def read(self, after: int = 0, limit: int = 100, chat: str | None = None) -> list[InboxRow]:
        """Messages with ``seq > after``, oldest first: a consumer keeps the last seq it handled and asks
        from there, so one that was away reads what it missed (what ``keep_days`` has kept)."""
        sql = f"SELECT {_COLUMNS} FROM inbox WHERE seq > ?"
        args: list[Any] = [after]
        if chat is not None:
            sql += " AND chat = ?"
            args.append(chat)
        sql += " ORDER BY seq LIMIT ?"
        return self.db.read("read", lambda conn: [_row(v) for v in conn.execute(sql, (*args, limit))])

    def get(self, message_id: str) -> InboxRow | None:
        """The newest stored message with this WhatsApp id (ids are unique within a chat)."""
        sql = f"SELECT {_COLUMNS} FROM inbox WHERE id = ? ORDER BY seq DESC LIMIT 1"
        found = self.db.read("read", lambda conn: conn.execute(sql, (message_id,)).fetchone())
        return _row(found) if found else None

    def last_seq(self) -> int:
        """The newest seq ever given (0: none), pruned or not: where a consumer that wants only new ones starts."""
        return self.db.read(
            "read",
            lambda conn: (conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'inbox'").fetchone() or (0,))[0],
        )

    def counts(self, since: float) -> tuple[int, float | None]:
        """How many messages were received since ``since``, and when the newest of all was (None: none)."""
        count, newest = self.db.read(
            "count",
            lambda conn: conn.execute(
                "SELECT (SELECT COUNT(*) FROM inbox WHERE received_at >= ?), (SELECT MAX(received_at) FROM inbox)",
                (since,),
            ).fetchone(),
        )
        return int(count), newest

    def cursor(self, name: str) -> int:
        """The stored cursor of consumer ``name`` (0: it has read nothing)."""
        _check_name(name)
        found = self.db.read("read", lambda conn: conn.execute("SELECT seq FROM cursors WHERE name = ?", (name,))
                             .fetchone())  # fmt: skip
        return int(found[0]) if found else 0

    def stored_cursor(self, name: str) -> int | None:
        """The stored cursor of consumer ``name``; None when it never stored one (a first run)."""
        _check_name(name)
        return self.db.read("read", lambda conn: read_cursor(conn, name))

    def pending(self, after: int) -> tuple[int, float | None]:
        """How many messages have ``seq > after`` and when the oldest of them was received (None: none)."""
        count, oldest = self.db.read(
            "read", lambda conn: conn.execute("SELECT COUNT(*), MIN(received_at) FROM inbox WHERE seq > ?", (after,))
            .fetchone(),
        )  # fmt: skip
        return int(count), oldest

    def set_cursor(self, name: str, seq: int, now: float | None = None) -> int:
        """Consumer ``name`` has handled everything up to ``seq``. A cursor only moves forward (a late answer
        from an older delivery never moves it back); returns where it is now."""
        _check_name(name)
        at = self.clock() if now is None else now

        def work(conn: sqlite3.Connection) -> int:
            conn.execute(
                "INSERT INTO cursors (name, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
                " SET seq = MAX(seq, excluded.seq), updated_at = excluded.updated_at",
                (name, seq, at),
            )
            return int(conn.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()[0])

        return self.db.write("store a cursor in", work)

    def prune(self, now: float | None = None) -> int:
        """Remove messages received more than ``keep_days`` ago; how many. Cursors and seqs stay valid."""
        at = self.clock() if now is None else now
        cutoff = at - self.keep_days * 86400.0
        return self.db.write(
            "prune", lambda conn: conn.execute("DELETE FROM inbox WHERE received_at < ?", (cutoff,)).rowcount
        )

    # -- the event loop's twins (the same methods, run in a thread) ---------------------------------------

    async def record_incoming_async(self, message: Incoming) -> InboxRow | None:
        return await asyncio.to_thread(self.record_incoming, message)

    async def record_many_async(self, messages: Iterable[Incoming]) -> list[InboxRow]:
        return await asyncio.to_thread(self.record_many, list(messages))

    async def read_async(self, after: int = 0, limit: int = 100, chat: str | None = None) -> list[InboxRow]:
        return await asyncio.to_thread(self.read, after, limit, chat)

    async def cursor_async(self, name: str) -> int:
        return await asyncio.to_thread(self.cursor, name)

    async def set_cursor_async(self, name: str, seq: int) -> int:
        return await asyncio.to_thread(self.set_cursor, name, seq)

    async def prune_async(self) -> int:
        return await asyncio.to_thread(self.prune)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not 0 < len(name) <= MAX_CURSOR_NAME or not name.isprintable():
        raise MessageError(f"cursor: a consumer name is 1 to {MAX_CURSOR_NAME} printable characters, got {name!r:.60}")
