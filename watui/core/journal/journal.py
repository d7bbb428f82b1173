"""The journal: what happened to the session, kept on disk in SQLite: its writer thread, its rows read back.

One file per session beside its owner lock: ``<session_path>/.watui-<client_id>.history.sqlite`` (WAL).
The owner process appends rows from one writer thread (the event loop only puts rows on a queue), and
commits each batch at once, so a kill -9 loses at most the rows of the last few milliseconds.

Rows: ``start``/``stop`` (watui's own runs), ``state``, ``retry``, ``error``, ``action``, ``alert``, and
a ``sample`` per ``sample_interval_s`` (state, session size, browser memory and CPU) that doubles as a
heartbeat: a run that ends without ``stop`` (a crash, kill -9) ends at its last row. The alert rules'
memory is kept in the same file (save/load_alert_memory).

Messages are kept as counts only: one ``message_hours`` row per UTC hour (sent, received, failed), each
``message``/``ack`` event that counts (messages/port.py's counted_as) adding 1 to its hour's row. Never a
body, an id or a chat: those are the outbox's and inbox's, and a busy bot adds no row per message.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watui.config import Config

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    t REAL NOT NULL, kind TEXT NOT NULL, state TEXT, message TEXT NOT NULL DEFAULT '', data TEXT
);
CREATE INDEX IF NOT EXISTS events_t ON events (t);
CREATE TABLE IF NOT EXISTS samples (
    t REAL NOT NULL, state TEXT, size_bytes INTEGER, rss_bytes INTEGER, cpu REAL
);
CREATE INDEX IF NOT EXISTS samples_t ON samples (t);
CREATE TABLE IF NOT EXISTS message_hours (
    hour REAL PRIMARY KEY, sent INTEGER NOT NULL DEFAULT 0, received INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0
);
"""
# How each kind of queued row is written: events and samples appended, an hour's message counts added to.
_INSERT = {
    "events": "INSERT INTO events VALUES (?, ?, ?, ?, ?)",
    "samples": "INSERT INTO samples VALUES (?, ?, ?, ?, ?)",
    "message_hours": (
        "INSERT INTO message_hours (hour, sent, received, failed) VALUES (?, ?, ?, ?) ON CONFLICT (hour) DO UPDATE"
        " SET sent = sent + excluded.sent, received = received + excluded.received, failed = failed + excluded.failed"
    ),
}
HOUR_S = 3600.0


def history_path(config: Config) -> Path:
    return config.session_root / f".watui-{config.session.client_id}.history.sqlite"


def _connect(path: Path, timeout: float = 10.0) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a committed row survives a crash or kill -9 of watui (not a power cut).
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        conn.close()
        raise
    return conn


# -- writing ------------------------------------------------------------------------------------------

Item = tuple[str, tuple[Any, ...]]


class Journal:
    """The SQLite file and its one writer thread. ``record``/``sample`` never block; ``flush`` waits
    until everything queued so far is committed, or has been tried (call it from a thread).

    The journal never goes blind: rows that cannot be written now (the file locked by another program, a
    full disk, a folder made read-only) are kept, up to :attr:`max_pending`, and tried again every
    :attr:`retry_s` and with each new row; a file deleted or replaced while watui runs is noticed at the
    next write and created again. Each failure, and each loss of rows kept too long, calls ``on_error``
    (from the writer thread) with one line; :attr:`error` holds the current one, None once writes work."""

    max_pending = 10_000
    retry_s = 5.0
    open_timeout_s = 2.0  # a locked file must not hold up watui's start

    def __init__(self, path: Path, keep_days: int = 30) -> None:
        self.path = path
        self.keep_days = keep_days
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.error: str | None = None
        self.pending = 0  # rows kept, waiting to be written
        self.dropped = 0  # rows lost because more than max_pending waited
        self.on_error: Callable[[str], None] | None = None
        self._identity: tuple[int, int] | None = None

    def open(self) -> None:
        """Start the writer (creates the file and its tables; prunes rows older than keep_days)."""
        self._thread = threading.Thread(target=self._run, name="watui-history", daemon=True)
        self._thread.start()
        self._ready.wait()

    def record(self, t: float, kind: str, state: str | None = None, message: str = "", data: Any = None) -> None:
        text = json.dumps(data, separators=(",", ":"), default=str) if data else None
        self._queue.put(("events", (t, kind, state, message, text)))

    def sample(self, t: float, state: str, size_bytes: int | None, rss_bytes: int | None, cpu: float | None) -> None:
        self._queue.put(("samples", (t, state, size_bytes, rss_bytes, cpu)))

    def count_messages(self, t: float, *, sent: int = 0, received: int = 0, failed: int = 0) -> None:
        """Add to the message counts of the UTC hour of ``t`` (one row per hour, never one per message)."""
        self._queue.put(("message_hours", (math.floor(t / HOUR_S) * HOUR_S, sent, received, failed)))

    def flush(self, timeout: float = 10.0) -> bool:
        done = threading.Event()
        self._queue.put(("flush", done))
        return done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10.0)
            self._thread = None

    # -- the writer thread -------------------------------------------------------------------------
    def _run(self) -> None:
        kept: list[Item] = []
        conn = self._open()
        self._ready.set()
        pruned_at = time.monotonic()
        try:
            while True:
                batch = self._next_batch(wait=self.retry_s if kept else None)
                flushes = [item[1] for item in batch if item is not None and item[0] == "flush"]
                stop = any(item is None for item in batch)
                kept += [item for item in batch if item is not None and item[0] != "flush"]
                if conn is not None and self._gone(conn):
                    conn.close()  # checkpoints into the deleted file and removes its -wal: a new one starts clean
                    conn = None
                    self._fail(f"the history {self.path} was deleted or replaced while watui ran: writing a new one")
                if conn is None:
                    conn = self._open()
                if conn is not None and kept:
                    kept = self._write(conn, kept)
                if conn is not None and time.monotonic() - pruned_at > PRUNE_EVERY_S:
                    with contextlib.suppress(sqlite3.Error):
                        self._prune(conn)
                    pruned_at = time.monotonic()
                kept = self._bound(kept)
                self.pending = len(kept)
                for done in flushes:
                    done.set()
                if stop:
                    if kept:
                        log.warning("%s: %d history row(s) not written before watui stopped", self.path, len(kept))
                    return
        finally:
            if conn is not None:
                conn.close()

    def _next_batch(self, wait: float | None) -> list[Any]:
        """Up to 1000 items: blocks for the first (at most ``wait`` s: an empty batch retries what is kept)."""
        try:
            batch = [self._queue.get(timeout=wait)]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while len(batch) < 1000:
                batch.append(self._queue.get_nowait())
        return batch

    def _open(self) -> sqlite3.Connection | None:
        """Create or open the file and its tables; None (and the error said) when it cannot be now."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only, like the session beside it (messages name the account and its problems).
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
            conn = _connect(self.path, self.open_timeout_s)
        except (OSError, sqlite3.Error) as exc:
            self._fail(f"cannot write the history {self.path}: {exc}")
            return None
        try:
            conn.executescript(_SCHEMA)
            self._prune(conn)
            self._identity = _identity(self.path)
        except (OSError, sqlite3.Error) as exc:
            conn.close()
            self._fail(f"cannot write the history {self.path}: {exc}")
            return None
        return conn

    def _gone(self, conn: sqlite3.Connection) -> bool:
        """Whether the file this connection writes is no longer the one at ``path`` (deleted, replaced)."""
        try:
            return _identity(self.path) != self._identity
        except OSError:
            return True

    def _write(self, conn: sqlite3.Connection, rows: list[Item]) -> list[Item]:
        """Write ``rows`` in one transaction; what is left to keep (all of them when it failed)."""
        try:
            with conn:  # one transaction, committed at once
                for table, values in rows:
                    conn.execute(_INSERT[table], values)
        except sqlite3.Error as exc:  # a full disk or a lock must not kill the writer: the rows wait
            self._fail(f"history write failed ({self.path}: {exc}); its rows are kept and tried again")
            return rows
        if self.error is not None:
            log.warning("%s: history writes again (%d row(s) kept were written)", self.path, len(rows))
            self.error = None
        return []

    def _bound(self, kept: list[Item]) -> list[Item]:
        over = len(kept) - self.max_pending
        if over <= 0:
            return kept
        self.dropped += over
        self._fail(f"history {self.path}: rows lost: more than {self.max_pending} waited to be written")
        return kept[over:]

    def _fail(self, message: str) -> None:
        """Say a failure once (the same one again, at each retry, is not news)."""
        if message == self.error:
            return
        self.error = message
        log.warning("%s", message)
        if self.on_error is not None:
            try:
                self.on_error(message)
            except Exception:  # the messenger failing must not stop the writer
                log.exception("could not report a history error")

    def _prune(self, conn: sqlite3.Connection) -> None:
        cutoff = time.time() - self.keep_days * 86400.0
        with conn:
            conn.execute("DELETE FROM events WHERE t < ?", (cutoff,))
            conn.execute("DELETE FROM samples WHERE t < ?", (cutoff,))
            conn.execute("DELETE FROM message_hours WHERE hour < ?", (cutoff - HOUR_S,))


def _identity(path: Path) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


# -- reading and analysing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    t: float
    kind: str
    state: str | None = None
    message: str = ""
    data: Any = None


@dataclass(frozen=True)
class Sample:
    t: float
    state: str | None
    size_bytes: int | None
    rss_bytes: int | None
    cpu: float | None


def read_rows(path: Path, since: float) -> tuple[list[Row], list[Sample]]:
    """Event rows from the last watui start before ``since`` on (so the state at ``since`` is known)."""
    rows, samples, _ = _read(path, since)
    return rows, samples


def _read(path: Path, since: float) -> tuple[list[Row], list[Sample], int]:
    """:func:`read_rows`, and how many rows were skipped as unreadable (bit rot SQLite does not see: bad
    JSON, bytes that are not UTF-8, a value of the wrong type); raises HistoryError when the file is not
    a journal SQLite can read."""
    if not path.is_file():
        return [], [], 0
    conn = sqlite3.connect(path, timeout=10.0)
    conn.text_factory = bytes  # decoded row by row below: one bad row must not fail the whole read
    skipped = 0
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {b"events", b"samples"} <= tables:
            return [], [], 0  # made, not yet written (another program made the file, or the writer waits on a lock)
        found = conn.execute("SELECT MAX(t) FROM events WHERE kind = 'start' AND t <= ?", (since,)).fetchone()
        start = found[0] if found and _is_time(found[0]) else 0.0
        rows: list[Row] = []
        for values in conn.execute(
            "SELECT t, kind, state, message, data FROM events WHERE t >= ? ORDER BY t, rowid", (start,)
        ):
            row = _row_of(values)
            if row is None:
                skipped += 1
            else:
                rows.append(row)
        # Samples (one a minute, the bulk of the file) only from ``since``: before it they change nothing shown.
        samples: list[Sample] = []
        for values in conn.execute(
            "SELECT t, state, size_bytes, rss_bytes, cpu FROM samples WHERE t >= ? ORDER BY t", (since,)
        ):
            sample = _sample_of(values)
            if sample is None:
                skipped += 1
            else:
                samples.append(sample)
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot read the history ({exc})") from None
    finally:
        conn.close()
    if skipped:
        log.warning("%s: skipped %d unreadable row(s) of the history", path, skipped)
    return rows, samples, skipped


def _is_time(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _text(value: object) -> str | None:
    """A TEXT column read as bytes, decoded; ValueError when it is not UTF-8 text."""
    if value is None:
        return None
    if not isinstance(value, bytes):
        raise ValueError(value)
    return value.decode("utf-8")


def _row_of(values: tuple[Any, ...]) -> Row | None:
    t, kind, state, message, data = values
    try:
        kind_text, state_text, data_text = _text(kind), _text(state), _text(data)
        parsed = json.loads(data_text) if data_text else None
        if not _is_time(t) or not kind_text or not (parsed is None or isinstance(parsed, dict)):
            return None
        return Row(float(t), kind_text, state_text, _text(message) or "", parsed)
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _sample_of(values: tuple[Any, ...]) -> Sample | None:
    t, state, size_bytes, rss_bytes, cpu = values
    try:
        state_text = _text(state)
    except ValueError:
        return None
    sizes_ok = all(v is None or (isinstance(v, int) and v >= 0) for v in (size_bytes, rss_bytes))
    if not _is_time(t) or not sizes_ok or not (cpu is None or _is_time(cpu)):
        return None
    return Sample(float(t), state_text, size_bytes, rss_bytes, None if cpu is None else float(cpu))


@dataclass(frozen=True)
class MessageHour:
    """The messages of one UTC hour (``hour``: its start, Unix seconds)."""

    hour: float
    sent: int
    received: int
    failed: int


def read_message_hours(path: Path, since: float) -> list[MessageHour]:
    """The hours that overlap ``since`` → now with their message counts, oldest first ([] for a journal of
    an older watui without the table, or none yet); rows that are not counts are skipped."""
    if not path.is_file():
        return []
    conn = sqlite3.connect(path, timeout=10.0)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "message_hours" not in tables:
            return []
        found = conn.execute(
            "SELECT hour, sent, received, failed FROM message_hours WHERE hour > ? ORDER BY hour", (since - HOUR_S,)
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise HistoryError(f"{path}: cannot read the history ({exc})") from None
    finally:
        conn.close()
    return [
        MessageHour(float(hour), *counts)
        for hour, *counts in found
        if _is_time(hour) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts)
    ]


class HistoryError(Exception):
    """The history file cannot be read: one line naming it."""


# -- the alert rules' memory (AlertRules.memory / restore), kept across restarts -------------------------
# One row, replaced on each change: when each rule last sent an alert, which fired and owe their resolve,
# the drops of the last hour. A table of its own, written on its own connection (rarely: an alert, a drop).
_MEMORY_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS alert_memory "
    "(id INTEGER PRIMARY KEY CHECK (id = 1), data TEXT NOT NULL, saved_at REAL NOT NULL)"
)


def save_alert_memory(path: Path, memory: dict[str, Any]) -> None:
    """Replace the alert rules' memory in the journal at ``path`` (committed before it returns)."""
    conn = sqlite3.connect(path, timeout=10.0)
    try:
        with conn:
            conn.execute(_MEMORY_SCHEMA)
            conn.execute(
                "INSERT OR REPLACE INTO alert_memory (id, data, saved_at) VALUES (1, ?, ?)",
                (json.dumps(memory, separators=(",", ":")), time.time()),
            )
    finally:
        conn.close()


def load_alert_memory(path: Path) -> dict[str, Any] | None:
    """The alert rules' memory kept in the journal at ``path``; None when there is none (or it is unreadable)."""
    if not path.is_file():
        return None
    try:
        conn = sqlite3.connect(path, timeout=10.0)
        try:
            row = conn.execute("SELECT data FROM alert_memory WHERE id = 1").fetchone()
        finally:
            conn.close()
        data = json.loads(row[0]) if row else None
    except (sqlite3.Error, ValueError, TypeError):
        return None  # no table yet (an older journal), or damaged: the rules start afresh
    return data if isinstance(data, dict) else None
