"""One SQLite file of the outbox or the inbox: opened owner-only in WAL mode, every write one committed
transaction (fsync'd: ``synchronous=FULL``), every failure one :class:`StoreError` naming the file.

A damaged file (not a database, or failing ``PRAGMA quick_check``) is never repaired or deleted behind
the user's back: opening it raises :class:`StoreDamaged`, and only ``move_damaged=True`` moves it (with its
``-wal`` and ``-shm``) aside to ``<name>.damaged-<UTC time>`` in the same folder and starts a fresh one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from watui.core.durable import fsync_dir
from watui.core.messages.errors import StoreDamaged, StoreError, damaged, store_error

T = TypeVar("T")
SCHEMA_VERSION = 1
_SIDE_FILES = ("-wal", "-shm", "-journal")
# Named cursors of the consumers that must resume where they stopped (the webhook), kept in the file they
# read: a file moved aside takes its cursors with it, and a fresh one starts them afresh.
CURSORS_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL, updated_at REAL NOT NULL)"
)


def read_cursor(conn: sqlite3.Connection, name: str) -> int | None:
    """The stored cursor ``name`` (None: never stored)."""
    found = conn.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()
    return int(found[0]) if found else None


def write_cursor(conn: sqlite3.Connection, name: str, seq: int, at: float) -> int:
    """Move cursor ``name`` forward to ``seq`` (never back: a late answer cannot undo a later one); where it is."""
    conn.execute(
        "INSERT INTO cursors (name, seq, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE"
        " SET seq = MAX(seq, excluded.seq), updated_at = excluded.updated_at",
        (name, seq, at),
    )
    return int(conn.execute("SELECT seq FROM cursors WHERE name = ?", (name,)).fetchone()[0])


class Database:
    """A connection shared by the threads ``asyncio.to_thread`` runs it in, one operation at a time."""

    def __init__(self, path: Path, what: str, conn: sqlite3.Connection, moved_aside: Path | None) -> None:
        self.path = path
        self.what = what
        self.moved_aside = moved_aside  # where a damaged file went when opened with move_damaged=True
        self._conn = conn
        self._lock = threading.Lock()

    def write(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` in one transaction and commit it (durably) before returning its result."""
        with self._lock, self._errors(doing):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise
            return result

    def read(self, doing: str, work: Callable[[sqlite3.Connection], T]) -> T:
        with self._lock, self._errors(doing):
            return work(self._conn)

    def close(self) -> None:
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    @contextlib.contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            raise store_error(exc, self.path, self.what, doing) from None


def open_db(path: Path, what: str, schema: str, *, move_damaged: bool = False) -> Database:
    """Open (creating it owner-only) the ``what`` file at ``path`` with ``schema``; see the module doc."""
    moved: Path | None = None
    try:
        conn = _open(path, what, schema)
    except StoreDamaged:
        if not move_damaged:
            raise
        moved = move_aside(path, what)
        conn = _open(path, what, schema)
    return Database(path, what, conn, moved)


def move_aside(path: Path, what: str) -> Path:
    """Move ``path`` and its side files to ``<name>.damaged-<UTC time>`` beside it; return the new path."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    try:
        for suffix in _SIDE_FILES:
            side = path.with_name(path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        os.replace(path, target)
        fsync_dir(path.parent)
    except OSError as exc:
        raise store_error(exc, path, what, "move aside the damaged") from None
    return target


def _open(path: Path, what: str, schema: str) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Owner-only from its first byte (the bodies are private); SQLite gives -wal and -shm the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
    except OSError as exc:
        raise store_error(exc, path, what, "create") from None
    conn = sqlite3.connect(path, timeout=10.0, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsync'd at each commit, so an accepted message survives a power cut, not only kill -9.
        conn.execute("PRAGMA synchronous=FULL")
        checked = conn.execute("PRAGMA quick_check").fetchone()
        if not checked or checked[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {checked[0] if checked else 'no answer'}")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise StoreError(
                f"{path}: the {what} was written by a newer watui (schema {version}, this one knows {SCHEMA_VERSION})",
                path,
            )
        conn.executescript(f"BEGIN; {schema}; PRAGMA user_version={SCHEMA_VERSION}; COMMIT;")
    except sqlite3.DatabaseError as exc:
        conn.close()
        if isinstance(exc, sqlite3.OperationalError) or getattr(exc, "sqlite_errorcode", None) is not None:
            error = store_error(exc, path, what, "open")
        else:
            error = damaged(path, what, str(exc))
        raise error from None
    except sqlite3.Error as exc:
        conn.close()
        raise store_error(exc, path, what, "open") from None
    return conn


@contextlib.contextmanager
def held_alone(
    file: Path, role: str, what: str, busy: Callable[[str, Path], StoreError], refusal: str
) -> Iterator[None]:
    """Hold ``<file>.<role>.lock`` (flock, released when the holder dies, even by kill -9) while the block
    runs; ``busy(refusal, lock)`` is raised when another process holds it. ``what`` names the file in errors."""
    lock = file.with_name(f"{file.name}.{role}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise store_error(exc, lock, what, "lock") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy(refusal, lock) from None
        yield
    finally:
        os.close(fd)
