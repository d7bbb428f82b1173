"""The outbox: sends accepted at once (committed before their id is returned) and their way to the page.

Every method reads or writes the file, and a write is an fsync'd commit (a few ms on a disk): from the
event loop call the ``*_async`` twin, which runs the same method in a thread (``asyncio.to_thread``).
The package docstring (``watui/core/messages/__init__.py``) tells the states and the exactly-once rule.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from watui.config import Config, MessagesSettings
from watui.core.messages.address import normalise_to
from watui.core.messages.db import Database, open_db, read_cursor, write_cursor
from watui.core.messages.errors import OutboxFull, SendRefused
from watui.core.messages.outbox_rows import (
    ACK_RANK,
    COLUMNS,
    EXPIRED,
    LOGGED_OUT,
    LOGGED_OUT_UNCONFIRMED,
    PENDING,
    SCHEMA,
    AckEvent,
    OutboxCounts,
    OutboxRow,
    State,
    new_message_id,
    row_of,
)
from watui.core.messages.pacing import Head, Pace, Plan, plan_next

MAX_BODY = 65536  # WhatsApp's own limit for a text message, in characters
MAX_KEY = 200
WHAT = "outbox"


def outbox_path(config: Config) -> Path:
    return config.session_root / f".watui-{config.session.client_id}.outbox.sqlite"


class Outbox:
    """The outbox file of one session. ``clock`` gives the wall time (seconds): tests inject one."""

    def __init__(self, db: Database, settings: MessagesSettings, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.settings = settings
        self.pace = Pace(settings.max_per_minute, settings.min_gap_per_chat_s)
        self.clock = clock

    @classmethod
    def open(
        cls,
        path: Path,
        settings: MessagesSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        move_damaged: bool = False,
    ) -> Outbox:
        """Open or create the file. Raises StoreDamaged (file left as it is) unless ``move_damaged``."""
        return cls(open_db(path, WHAT, SCHEMA, move_damaged=move_damaged), settings or MessagesSettings(), clock)

    @property
    def path(self) -> Path:
        return self.db.path

    def close(self) -> None:
        self.db.close()

    # -- accepting ---------------------------------------------------------------------------------------

    def accept(
        self,
        to: str,
        body: str,
        *,
        account: str,
        key: str | None = None,
        ttl_s: float | None = None,
        now: float | None = None,
    ) -> OutboxRow:
        """Queue ``body`` for ``to`` from ``account``; return its row once committed (its ``id`` is the
        WhatsApp message id). The same ``key`` again returns the first message's row and adds nothing.
        Raises AddressError or SendRefused (nothing written), StoreError (not committed: no id)."""
        chat = normalise_to(to)
        if not isinstance(body, str) or not body.strip():
            raise SendRefused("body: a message needs some text, got an empty one")
        if len(body) > MAX_BODY:
            raise SendRefused(f"body: at most {MAX_BODY} characters, got {len(body)}")
        if not isinstance(account, str) or not account:
            raise SendRefused("account: not logged in (no account to send from): scan the QR first")
        if key is not None and (not isinstance(key, str) or not 0 < len(key) <= MAX_KEY):
            raise SendRefused(f"key: an idempotency key is 1 to {MAX_KEY} characters, got {key!r:.60}")
        ttl = self.settings.ttl_s if ttl_s is None else ttl_s
        if not ttl > 0:
            raise SendRefused(f"ttl_s: must be more than 0 seconds, got {ttl!r}")
        at = self.clock() if now is None else now

        def work(conn: sqlite3.Connection) -> OutboxRow:
            if key is not None:
                found = conn.execute(
                    f"SELECT {COLUMNS} FROM outbox WHERE account = ? AND key = ?", (account, key)
                ).fetchone()
                if found is not None:
                    row = row_of(found)
                    if row.chat != chat or row.body != body:
                        raise SendRefused(f"key: {key!r:.60} was already used for another message ({row.id})")
                    return row
            waiting = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE account = ? AND state IN (?, ?)", (account, *PENDING)
            ).fetchone()[0]
            if waiting >= self.settings.max_queued:
                raise OutboxFull(
                    f"the outbox already holds {waiting} messages waiting to be sent ([messages] max_queued): "
                    "try again later",
                    self.pace.gap_s,  # one leaves the queue about this often
                )
            values = (new_message_id(), account, chat, body, key, State.QUEUED.value, at, at + ttl, at)
            cursor = conn.execute(
                "INSERT INTO outbox (id, account, chat, body, key, state, accepted_at, expires_at, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            assert cursor.lastrowid is not None
            return OutboxRow(cursor.lastrowid, values[0], account, chat, body, key, State.QUEUED,
                             accepted_at=at, expires_at=at + ttl, updated_at=at)  # fmt: skip

        return self.db.write("accept a message into", work)

    # -- sending (the Sender drives these) ---------------------------------------------------------------

    def plan(self, account: str, now: float | None = None) -> Plan:
        """Which waiting message of ``account`` goes next and when (see pacing.py). A chat whose last send
        is still claimed (not confirmed) waits for its check: nothing overtakes it."""
        at = self.clock() if now is None else now
        return self.db.read("read", lambda conn: self._plan(conn, account, at))

    def next_send_at(self, account: str, now: float | None = None) -> float | None:
        """When the next send of ``account`` may go (None: nothing waits)."""
        return self.plan(account, now).at

    def claim_next(self, account: str, now: float | None = None) -> OutboxRow | None:
        """Expire what is overdue, then mark the message due now as claimed (committed) and return it:
        only after this may the page be asked to send it. None when nothing is due yet."""
        at = self.clock() if now is None else now

        def work(conn: sqlite3.Connection) -> OutboxRow | None:
            self._expire(conn, at)
            plan = self._plan(conn, account, at)
            if plan.seq is None or plan.at is None or plan.at > at:
                return None
            conn.execute(
                "UPDATE outbox SET state = ?, claimed_at = ?, attempts = attempts + 1, updated_at = ?"
                " WHERE seq = ? AND state = ? AND account = ?",
                (State.CLAIMED.value, at, at, plan.seq, State.QUEUED.value, account),
            )
            return self._get(conn, "seq", plan.seq)

        return self.db.write("claim a message in", work)

    def claimed(self, account: str) -> list[OutboxRow]:
        """``account``'s messages the page may have been asked to send, unconfirmed: check each first."""
        return self.db.read(
            "read",
            lambda conn: [
                row_of(v)
                for v in conn.execute(
                    f"SELECT {COLUMNS} FROM outbox WHERE account = ? AND state = ? ORDER BY seq",
                    (account, State.CLAIMED.value),
                )
            ],
        )

    def mark_sent(self, message_id: str, now: float | None = None) -> OutboxRow | None:
        """The page took the message (or the check found it): claimed -> sent. A confirmation is a fact: it
        also turns a claimed message failed meanwhile (a logout during the send) into sent."""
        at = self.clock() if now is None else now
        return self._update(
            "UPDATE outbox SET state = ?, sent_at = ?, reason = NULL, updated_at = ?"
            " WHERE id = ? AND claimed_at IS NOT NULL AND state IN (?, ?)",
            (State.SENT.value, at, at, message_id, State.CLAIMED.value, State.FAILED.value),
            message_id,
        )

    def release(self, message_id: str, now: float | None = None) -> OutboxRow | None:
        """Certainly not sent (the page refused before sending, or the check did not find it): claimed ->
        queued, keeping its place and its id."""
        at = self.clock() if now is None else now
        return self._update(
            "UPDATE outbox SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
            (State.QUEUED.value, at, message_id, State.CLAIMED.value),
            message_id,
        )

    def fail(self, message_id: str, reason: str, now: float | None = None) -> OutboxRow | None:
        """Give up on a waiting or claimed message with ``reason`` (one line)."""
        at = self.clock() if now is None else now
        return self._update(
            "UPDATE outbox SET state = ?, reason = ?, updated_at = ? WHERE id = ? AND state IN (?, ?)",
            (State.FAILED.value, reason, at, message_id, *PENDING),
            message_id,
        )

    def record_ack(self, message_id: str, ack: State | str, now: float | None = None) -> OutboxRow | None:
        """An ack from the page (sent, delivered, read): moves the message forward only, never back. An ack
        proves the send, so it also confirms a claimed message (or one failed while its send was out)."""
        state = State(ack)
        if state not in (State.SENT, State.DELIVERED, State.READ):
            raise ValueError(f"ack: expected sent, delivered or read, got {ack!r}")
        at = self.clock() if now is None else now
        lower = [s.value for s, rank in ACK_RANK.items() if rank < ACK_RANK[state]]

        def work(conn: sqlite3.Connection) -> OutboxRow | None:
            conn.execute(
                f"UPDATE outbox SET state = ?, reason = NULL, acked_at = ?, sent_at = COALESCE(sent_at, ?),"
                f" updated_at = ? WHERE id = ? AND claimed_at IS NOT NULL"
                f" AND state IN ({', '.join('?' * (len(lower) + 1))})",
                (state.value, at, at, at, message_id, *lower, State.FAILED.value),
            )
            return self._get(conn, "id", message_id)

        return self.db.write("record an ack in", work)

    def record_failed_ack(self, message_id: str, reason: str, now: float | None = None) -> OutboxRow | None:
        """WhatsApp said a message it had taken failed (ack -1, ERROR): claimed or sent -> failed with
        ``reason``. Not one delivered or read (a later ack outranks it), nor one failed already."""
        at = self.clock() if now is None else now
        return self._update(
            "UPDATE outbox SET state = ?, reason = ?, acked_at = ?, updated_at = ?"
            " WHERE id = ? AND claimed_at IS NOT NULL AND state IN (?, ?)",
            (State.FAILED.value, reason, at, at, message_id, State.CLAIMED.value, State.SENT.value),
            message_id,
        )

    # -- housekeeping -------------------------------------------------------------------------------------

    def expire(self, now: float | None = None) -> int:
        """Fail every waiting message past its time to live ("expired"); how many."""
        at = self.clock() if now is None else now
        return self.db.write("expire messages in", lambda conn: self._expire(conn, at))

    def logout(self, account: str, now: float | None = None) -> int:
        """The phone logged ``account`` out: fail what it has waiting; how many. Claimed ones fail too, saying
        they may have been sent (no check is possible without the account)."""
        at = self.clock() if now is None else now

        def work(conn: sqlite3.Connection) -> int:
            queued = conn.execute(
                "UPDATE outbox SET state = ?, reason = ?, updated_at = ? WHERE account = ? AND state = ?",
                (State.FAILED.value, LOGGED_OUT, at, account, State.QUEUED.value),
            ).rowcount
            claimed = conn.execute(
                "UPDATE outbox SET state = ?, reason = ?, updated_at = ? WHERE account = ? AND state = ?",
                (State.FAILED.value, LOGGED_OUT_UNCONFIRMED, at, account, State.CLAIMED.value),
            ).rowcount
            return queued + claimed

        return self.db.write("fail the logged-out account's messages in", work)

    def prune(self, now: float | None = None) -> int:
        """Remove finished messages (sent, acked, failed) older than ``keep_days``; never waiting ones."""
        at = self.clock() if now is None else now
        cutoff = at - self.settings.keep_days * 86400.0

        def work(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM acks WHERE at < ?", (cutoff,))
            return conn.execute(
                "DELETE FROM outbox WHERE updated_at < ? AND state NOT IN (?, ?)", (cutoff, *PENDING)
            ).rowcount

        return self.db.write("prune", work)

    # -- reading -----------------------------------------------------------------------------------------

    def get(self, message_id: str) -> OutboxRow | None:
        return self.db.read("read", lambda conn: self._get(conn, "id", message_id))

    def after(self, seq: int, limit: int = 100) -> list[OutboxRow]:
        """Messages accepted after ``seq`` (of every account), in the order accepted: a reader's next page."""
        return self.db.read(
            "read",
            lambda conn: [row_of(v) for v in conn.execute(
                f"SELECT {COLUMNS} FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))],
        )  # fmt: skip

    def rows(self, account: str | None = None, states: Iterable[State] = (), limit: int = 1000) -> list[OutboxRow]:
        """Messages in the order accepted, optionally of one account and in some states."""
        where, args = ["1"], []
        if account is not None:
            where.append("account = ?")
            args.append(account)
        wanted = [State(s).value for s in states]
        if wanted:
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            args.extend(wanted)
        sql = f"SELECT {COLUMNS} FROM outbox WHERE {' AND '.join(where)} ORDER BY seq LIMIT ?"
        return self.db.read("read", lambda conn: [row_of(v) for v in conn.execute(sql, (*args, limit))])

    def counts(self, since: float) -> OutboxCounts:
        """What the outbox holds now (queued, claimed) and what it did since ``since`` (sent, failed)."""

        def work(conn: sqlite3.Connection) -> OutboxCounts:
            now_rows = dict(
                conn.execute(
                    "SELECT state, COUNT(*) FROM outbox WHERE state IN (?, ?) GROUP BY state",
                    (State.QUEUED.value, State.CLAIMED.value),
                ).fetchall()
            )
            sent = conn.execute("SELECT COUNT(*) FROM outbox WHERE sent_at >= ?", (since,)).fetchone()[0]
            failed = conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE state = ? AND updated_at >= ?", (State.FAILED.value, since)
            ).fetchone()[0]
            oldest = conn.execute(
                "SELECT MIN(accepted_at) FROM outbox WHERE state IN (?, ?)", (State.QUEUED.value, State.CLAIMED.value)
            ).fetchone()[0]
            return OutboxCounts(
                queued=int(now_rows.get(State.QUEUED.value, 0)),
                sending=int(now_rows.get(State.CLAIMED.value, 0)),
                sent=int(sent),
                failed=int(failed),
                oldest_pending_at=oldest,
            )

        return self.db.read("count", work)

    # -- the ack log (read by cursor: the webhook) ----------------------------------------------------------

    def acks(self, after: int = 0, limit: int = 100) -> list[AckEvent]:
        """Ack log rows with ``seq > after``, oldest first."""
        return self.db.read(
            "read",
            lambda conn: [
                AckEvent(seq, id_, account, chat, State(state), reason, at)
                for seq, id_, account, chat, state, reason, at in conn.execute(
                    "SELECT seq, id, account, chat, state, reason, at FROM acks WHERE seq > ? ORDER BY seq LIMIT ?",
                    (after, limit),
                )
            ],
        )

    def last_ack_seq(self) -> int:
        """The newest ack log seq ever given (0: none)."""
        return self.db.read(
            "read",
            lambda conn: (conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'acks'").fetchone() or (0,))[0],
        )

    def acks_pending(self, after: int) -> tuple[int, float | None]:
        """How many ack log rows have ``seq > after`` and the time of the oldest (None: none)."""
        count, oldest = self.db.read(
            "read", lambda conn: conn.execute("SELECT COUNT(*), MIN(at) FROM acks WHERE seq > ?", (after,)).fetchone()
        )
        return int(count), oldest

    def ack_cursor(self, name: str) -> int | None:
        """The stored ack log cursor of consumer ``name``; None when it never stored one."""
        return self.db.read("read", lambda conn: read_cursor(conn, name))

    def set_ack_cursor(self, name: str, seq: int, now: float | None = None) -> int:
        """Consumer ``name`` has handled the ack log up to ``seq`` (forward only); where it is now."""
        at = self.clock() if now is None else now
        return self.db.write("store a cursor in", lambda conn: write_cursor(conn, name, seq, at))

    # -- the event loop's twins (the same methods, run in a thread) ---------------------------------------

    async def accept_async(
        self, to: str, body: str, *, account: str, key: str | None = None, ttl_s: float | None = None
    ) -> OutboxRow:
        return await asyncio.to_thread(self.accept, to, body, account=account, key=key, ttl_s=ttl_s)

    async def get_async(self, message_id: str) -> OutboxRow | None:
        return await asyncio.to_thread(self.get, message_id)

    async def plan_async(self, account: str) -> Plan:
        return await asyncio.to_thread(self.plan, account)

    async def record_ack_async(self, message_id: str, ack: State | str) -> OutboxRow | None:
        return await asyncio.to_thread(self.record_ack, message_id, ack)

    async def record_failed_ack_async(self, message_id: str, reason: str) -> OutboxRow | None:
        return await asyncio.to_thread(self.record_failed_ack, message_id, reason)

    async def logout_async(self, account: str) -> int:
        return await asyncio.to_thread(self.logout, account)

    async def prune_async(self) -> int:
        return await asyncio.to_thread(self.prune)

    # -- inside a transaction ------------------------------------------------------------------------------

    def _plan(self, conn: sqlite3.Connection, account: str, now: float) -> Plan:
        heads: list[Head] = []
        last_by_chat: dict[str, float] = {}
        for seq, chat, last in conn.execute(
            "SELECT h.seq, h.chat, (SELECT MAX(claimed_at) FROM outbox c WHERE c.account = ? AND c.chat = h.chat)"
            " FROM (SELECT MIN(seq) AS seq, chat FROM outbox WHERE account = ? AND state = ? AND chat NOT IN"
            " (SELECT chat FROM outbox WHERE account = ? AND state = ?) GROUP BY chat) AS h",
            (account, account, State.QUEUED.value, account, State.CLAIMED.value),
        ):
            heads.append(Head(seq, chat))
            if last is not None:
                last_by_chat[chat] = last
        if not heads:
            return Plan(None, None)
        last_any = conn.execute("SELECT MAX(claimed_at) FROM outbox WHERE account = ?", (account,)).fetchone()[0]
        return plan_next(heads, last_any, last_by_chat, now, self.pace)

    def _expire(self, conn: sqlite3.Connection, now: float) -> int:
        return conn.execute(
            "UPDATE outbox SET state = ?, reason = ?, updated_at = ? WHERE state = ? AND expires_at <= ?",
            (State.FAILED.value, EXPIRED, now, State.QUEUED.value, now),
        ).rowcount

    def _get(self, conn: sqlite3.Connection, column: str, value: object) -> OutboxRow | None:
        found = conn.execute(f"SELECT {COLUMNS} FROM outbox WHERE {column} = ?", (value,)).fetchone()
        return row_of(found) if found else None

    def _update(self, sql: str, args: tuple[Any, ...], message_id: str) -> OutboxRow | None:
        def work(conn: sqlite3.Connection) -> OutboxRow | None:
            conn.execute(sql, args)
            return self._get(conn, "id", message_id)

        return self.db.write("update", work)
