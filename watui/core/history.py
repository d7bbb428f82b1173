"""The journal: what happened to the session, kept on disk in SQLite, and the figures read from it.

One file per session beside its owner lock: ``<session_path>/.watui-<client_id>.history.sqlite`` (WAL).
The owner process appends rows from one writer thread (the event loop only puts rows on a queue), and
commits each batch at once, so a kill -9 loses at most the rows of the last few milliseconds.

Rows: ``start``/``stop`` (watui's own runs), ``state``, ``retry``, ``error``, ``action``, ``alert``, and
a ``sample`` per ``sample_interval_s`` (state, session size, browser memory and CPU) that doubles as a
heartbeat: a run that ends without ``stop`` (a crash, kill -9) ends at its last row.

:func:`analyse` turns rows into the report of ``watui history --json``: uptime over 1 h / 24 h / 7 d
(the time CONNECTED over the time watui was watching), incidents (a stretch away from CONNECTED, after
the session had been connected, longer than ``[alerts] down_after_s``), drops and retries per day, a
24 h strip, and the size and memory trend.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watui.config import Config
from watui.core.errors import first_line
from watui.core.models import ConnectionState, Event, SessionInfo

log = logging.getLogger(__name__)

CONNECTED = ConnectionState.CONNECTED.value
UNLAUNCHED = ConnectionState.UNLAUNCHED.value
# States of a session being set up (a QR shown, scanned): before its first connection it is not down.
SETTING_UP = frozenset(s.value for s in (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE,
                                         ConnectionState.PAIRING))  # fmt: skip
JOURNALED = frozenset({"state", "retry", "error", "action", "alert"})
WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
STRIP_CELLS = 48  # the last 24 h, 30 min a cell
TREND_POINTS = 60
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
"""


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
                    conn.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?)", values)
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


class HistoryError(Exception):
    """The history file cannot be read: one line naming it."""


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    state: str
    run: int
    stopped: bool = False  # ended by watui's own stop (the run's stop row)


@dataclass
class Incident:
    start: float
    end: float
    cause: str
    resolved: bool
    ongoing: bool

    @property
    def duration_s(self) -> float:
        return self.end - self.start

    def to_json(self) -> dict[str, Any]:
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "durationS": round(self.duration_s, 1),
            "cause": self.cause,
            "resolved": self.resolved,
            "ongoing": self.ongoing,
        }


def segments(rows: list[Row], samples: list[Sample], now: float, gap_s: float) -> list[Segment]:
    """What state the session was in, when watui was watching: one segment per state per run.

    A run starts at a ``start`` row and ends at its ``stop`` row, else at its last row or sample (it was
    killed); the newest run without ``stop`` whose last sign of life is recent is still running (to now).
    """
    marks: list[tuple[float, int, Row | Sample]] = [(r.t, 0, r) for r in rows]
    marks += [(s.t, 1, s) for s in samples]
    marks.sort(key=lambda m: (m[0], m[1]))
    out: list[Segment] = []
    run = -1
    state: str | None = None
    since = 0.0
    last_seen = 0.0
    running = False

    def close(at: float, stopped: bool = False) -> None:
        if running and state is not None and at > since:
            out.append(Segment(since, at, state, run, stopped))

    if marks and not (isinstance(marks[0][2], Row) and marks[0][2].kind == "start"):
        # The run's start row was pruned (it ran longer than keep_days): it began before the first row kept.
        run, running, since = 0, True, marks[0][0]
    for t, _, mark in marks:
        kind = mark.kind if isinstance(mark, Row) else "sample"
        if kind == "start":
            close(last_seen)
            run, running, state, since = run + 1, True, ConnectionState.UNLAUNCHED.value, t
        elif not running:
            continue  # rows after a stop and before the next start: nothing was watching
        elif kind == "stop":
            close(t, stopped=True)
            running = False
        elif kind in ("state", "sample") and mark.state and mark.state != state:
            close(t)
            state, since = mark.state, t
        last_seen = t
    if running:
        close(now if now - last_seen <= 2 * gap_s else last_seen)
    return out


def incidents(segs: list[Segment], rows: list[Row], down_after_s: float, now: float) -> list[Incident]:
    """Stretches away from CONNECTED, after the session had been connected, longer than down_after_s.

    A stretch ends when CONNECTED comes back (resolved) or when watui stopped watching (its run ended).
    """
    out: list[Incident] = []
    connected_before = False
    current: Incident | None = None
    causes = [r for r in rows if r.kind in ("state", "error") and r.state != CONNECTED]

    def finish(inc: Incident | None) -> None:
        if inc is not None and inc.duration_s > down_after_s:
            out.append(inc)

    previous: Segment | None = None
    for seg in segs:
        new_run = previous is None or previous.run != seg.run
        if current is not None and new_run:
            finish(current)
            current = None
        if seg.state == CONNECTED:
            if current is not None:
                current.resolved = True
                finish(current)
                current = None
            connected_before = True
        elif connected_before:
            if current is None:
                current = Incident(seg.start, seg.end, _cause_at(causes, seg), False, False)
            current.end = seg.end
        previous = seg
    if current is not None:
        current.ongoing = abs(current.end - now) < 1e-6
        finish(current)
    return out


def _cause_at(causes: list[Row], seg: Segment) -> str:
    """The first error said within a few seconds of leaving CONNECTED, else the state and its message."""
    for row in causes:
        if row.kind == "error" and seg.start - 0.5 <= row.t <= seg.start + 5 and row.message:
            return row.message
    for row in causes:
        if row.kind == "state" and abs(row.t - seg.start) < 1e-6:
            return f"{row.state}: {row.message}" if row.message else str(row.state)
    return seg.state


def after_setting_up(segs: list[Segment]) -> list[Segment]:
    """The segments that count for uptime: without the wait for the very first scan.

    Before the journal's first connection, a session that showed a QR was being set up, not down; a
    start-up of a session already logged in (no QR before it connected) still counts.
    """
    first = next((i for i, seg in enumerate(segs) if seg.state == CONNECTED), len(segs))
    if any(seg.state in SETTING_UP for seg in segs[:first]):
        return segs[first:]
    return segs


def uptime(segs: list[Segment], start: float, end: float) -> dict[str, Any]:
    up = watched = 0.0
    for seg in segs:
        overlap = min(seg.end, end) - max(seg.start, start)
        if overlap > 0:
            watched += overlap
            if seg.state == CONNECTED:
                up += overlap
    return {"ratio": round(up / watched, 5) if watched > 0 else None, "upS": round(up), "watchedS": round(watched)}


def strip(segs: list[Segment], now: float, cells: int = STRIP_CELLS, span_s: float = 86400.0) -> dict[str, Any]:
    """The last ``span_s`` in ``cells`` cells: per cell the share of watched time that was CONNECTED.

    Glyphs (readable without colour): ``█`` up, ``▒`` partly down, ``░`` down, ``·`` not watched.
    """
    width = span_s / cells
    out = []
    text = []
    for i in range(cells):
        start = now - span_s + i * width
        ratio = uptime(segs, start, start + width)["ratio"]
        out.append({"start": _iso(start), "up": ratio})
        text.append(cell_glyph(ratio))
    return {"cellS": width, "cells": out, "text": "".join(text)}


def cell_glyph(ratio: float | None) -> str:
    if ratio is None:
        return "·"
    if ratio >= 0.99:
        return "█"
    if ratio <= 0.01:
        return "░"
    return "▒"


def ratio_text(figures: dict[str, Any]) -> str:
    """An uptime figure of the report for people: "99.95 %", or "no data"."""
    ratio = figures.get("ratio")
    return "no data" if ratio is None else f"{ratio * 100:.2f} %"


def duration_text(seconds: float) -> str:
    """A duration for people: "45 s", "3 min 05 s", "2 h 07 min"."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def per_day(rows: list[Row], segs: list[Segment], incs: list[Incident], since: float) -> list[dict[str, Any]]:
    """Per UTC day: drops (CONNECTED lost, not by watui's own stop), reconnect attempts retried, incidents started."""
    days: dict[str, dict[str, Any]] = {}

    def day(t: float) -> dict[str, Any]:
        key = datetime.fromtimestamp(t, UTC).date().isoformat()
        return days.setdefault(key, {"date": key, "drops": 0, "retries": 0, "incidents": 0})

    for prev, seg in zip(segs, segs[1:], strict=False):
        stopping = seg.stopped and seg.state == UNLAUNCHED  # the shutdown's own state, up to the stop row
        if prev.run == seg.run and prev.state == CONNECTED and seg.start >= since and not stopping:
            day(seg.start)["drops"] += 1
    for row in rows:
        if row.kind == "retry" and row.t >= since:
            day(row.t)["retries"] += 1
    for inc in incs:
        if inc.start >= since:
            day(inc.start)["incidents"] += 1
    return [days[k] for k in sorted(days)]


def trend(samples: list[Sample], since: float, points: int = TREND_POINTS) -> dict[str, Any]:
    """Session size and browser memory over the window, averaged down to at most ``points`` points."""
    chosen = [s for s in samples if s.t >= since]
    if not chosen:
        return {"points": [], "size": None, "memory": None}
    step = max(1, -(-len(chosen) // points))
    series = []
    for i in range(0, len(chosen), step):
        group = chosen[i : i + step]
        series.append(
            {
                "time": _iso(group[-1].t),
                "sizeMB": _mean_mb([s.size_bytes for s in group]),
                "rssMB": _mean_mb([s.rss_bytes for s in group]),
            }
        )
    return {
        "points": series,
        "size": _summary([s.size_bytes for s in chosen]),
        "memory": _summary([s.rss_bytes for s in chosen]),
    }


def _mean_mb(values: Iterable[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known) / 1048576, 1) if known else None


def _summary(values: list[int | None]) -> dict[str, float] | None:
    known = [v for v in values if v is not None]
    if not known:
        return None
    mb = [round(v / 1048576, 1) for v in known]
    return {"firstMB": mb[0], "lastMB": mb[-1], "minMB": min(mb), "maxMB": max(mb)}


def analyse(
    rows: list[Row], samples: list[Sample], *, now: float, since: float, down_after_s: float, gap_s: float
) -> dict[str, Any]:
    """The report: uptime, incidents since ``since``, per-day counts, the 24 h strip, the trend, alerts."""
    segs = segments(rows, samples, now, gap_s)
    counted = after_setting_up(segs)
    incs = incidents(segs, rows, down_after_s, now)
    shown = [i for i in incs if i.end >= since]
    alerts = [
        {"time": _iso(r.t), **(r.data or {}), "message": r.message} for r in rows if r.kind == "alert" and r.t >= since
    ]
    return {
        "since": _iso(since),
        "now": _iso(now),
        "uptime": {name: uptime(counted, now - span, now) for name, span in WINDOWS.items()},
        "incidents": [i.to_json() for i in shown],
        "perDay": per_day(rows, segs, incs, since),
        "strip": strip(counted, now),
        "trend": trend(samples, since),
        "alerts": alerts[-50:],
    }


def read_report(
    path: Path, *, since_s: float, down_after_s: float, gap_s: float, now: float | None = None
) -> dict[str, Any]:
    """Read the file and analyse it (blocking: call it in a thread from the event loop)."""
    now = time.time() if now is None else now
    since = now - since_s
    rows, samples, skipped = _read(path, min(since, now - WINDOWS["7d"]))
    report = analyse(rows, samples, now=now, since=since, down_after_s=down_after_s, gap_s=gap_s)
    return {"file": str(path), "exists": path.is_file(), **report, "skippedRows": skipped}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


MAX_SINCE_S = 3650 * 86400.0  # the longest a journal keeps rows ([history] keep_days)


def parse_since(text: str) -> float:
    """``30m``, ``24h``, ``7d``, ``90s`` or a number of seconds → seconds; ValueError when not, or when
    not a finite span longer than 0 and at most :data:`MAX_SINCE_S` (``inf``, ``1e309s``, ``99999999d``)."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    factor = units.get(text[-1:])
    number = text[:-1] if factor else text
    value = float(number) * (factor or 1)
    if not (math.isfinite(value) and 0 < value <= MAX_SINCE_S):
        raise ValueError(text)
    return value


# -- the live service in the owner process -------------------------------------------------------------


class History:
    """Journals the manager's events and a sample per interval; keeps the latest uptime for /metrics."""

    def __init__(
        self, config: Config, snapshot: Callable[[], SessionInfo], clock: Callable[[], float] = time.time
    ) -> None:
        self.config = config
        self.path = history_path(config)
        self.journal = Journal(self.path, config.history.keep_days)
        self._snapshot = snapshot
        self._clock = clock
        self._sampler: asyncio.Task[None] | None = None
        self.uptime: dict[str, Any] = {}
        # Told each journal failure in one line, on the event loop (the watchers publish it as an event).
        self.on_error: Callable[[str], None] | None = None
        self.sampler_error: str | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def from_writer(message: str) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: watui is stopping
                loop.call_soon_threadsafe(self._say, message)

        self.journal.on_error = from_writer
        await asyncio.to_thread(self.journal.open)
        self.journal.record(self._clock(), "start", self._snapshot().state.value, "watui started")
        self.sample_now()
        self._sampler = asyncio.create_task(self._sample_loop(), name="watui-history-sample")

    def on_event(self, event: Event) -> None:
        if event.type not in JOURNALED:
            return
        state = (event.state or event.info.state).value if event.type == "state" else event.info.state.value
        self.journal.record(event.time.timestamp(), event.type, state, event.message, event.data)

    def sample_now(self) -> None:
        info = self._snapshot()
        self.journal.sample(
            self._clock(),
            info.state.value,
            info.disk.size_bytes if info.disk and info.disk.exists else None,  # no session: no size, not 0 MB
            info.browser.rss_bytes if info.browser else None,
            info.browser.cpu_percent if info.browser else None,
        )

    async def report(self, since_s: float) -> dict[str, Any]:
        await asyncio.to_thread(self.journal.flush)
        return await asyncio.to_thread(
            read_report,
            self.path,
            since_s=since_s,
            down_after_s=self.config.alerts.down_after_s,
            gap_s=float(self.config.history.sample_interval_s),
        )

    def status(self) -> dict[str, Any]:
        """The journal's health for ``watui info`` and the status JSON: its file, the current error (None
        when writes work), how many rows wait to be written and how many were lost."""
        error = self.journal.error or self.sampler_error
        journal = self.journal
        return {"file": str(self.path), "error": error, "pending": journal.pending, "dropped": journal.dropped}

    def _say(self, message: str) -> None:
        if self.on_error is not None:
            self.on_error(message)

    async def _sample_loop(self) -> None:
        while True:
            try:
                self.uptime = (await self.report(86400.0))["uptime"]
                self.sampler_error = None
            except Exception as exc:  # the sampler is the journal's heartbeat: it never dies, it says why
                message = f"history {self.path}: reading it back failed: {first_line(exc)}"
                if message != self.sampler_error:
                    self.sampler_error = message
                    log.warning("%s", message)
                    self._say(message)
            await asyncio.sleep(self.config.history.sample_interval_s)
            try:
                self.sample_now()
            except Exception as exc:  # a bug in taking one sample must not stop the next
                log.warning("history %s: a sample failed: %s", self.path, first_line(exc))

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(BaseException):
                await self._sampler
        self.sample_now()
        self.journal.record(self._clock(), "stop", self._snapshot().state.value, "watui stopped")
        await asyncio.to_thread(self.journal.close)


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
