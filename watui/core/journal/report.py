"""The journal's figures, pure: segments, incidents, uptime, the 24 h strip, the trend, the report of a file.

:func:`analyse` turns rows into the report of ``watui history --json``: uptime over 1 h / 24 h / 7 d
(the time CONNECTED over the time watui was watching), incidents (a stretch away from CONNECTED, after
the session had been connected, longer than ``[alerts] down_after_s``), drops and retries per day, a
24 h strip, the size and memory trend, and the messages sent, received and failed per hour.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watui.core.journal.journal import MessageHour, Row, Sample, _read, read_message_hours
from watui.core.models import ConnectionState
from watui.present import cell_glyph

CONNECTED = ConnectionState.CONNECTED.value
UNLAUNCHED = ConnectionState.UNLAUNCHED.value
# States of a session being set up (a QR shown, scanned): before its first connection it is not down.
SETTING_UP = frozenset(s.value for s in (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE,
                                         ConnectionState.PAIRING))  # fmt: skip
WINDOWS = {"1h": 3600.0, "24h": 86400.0, "7d": 7 * 86400.0}
STRIP_CELLS = 48  # the last 24 h, 30 min a cell
TREND_POINTS = 60


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


def messages_per_hour(hours: Iterable[MessageHour]) -> dict[str, Any]:
    """The messages of the window: the totals, and per UTC hour that had any (oldest first)."""
    rows = [h for h in hours if h.sent or h.received or h.failed]
    per_hour = [{"hour": _iso(h.hour), "sent": h.sent, "received": h.received, "failed": h.failed} for h in rows]
    total = {"sent": sum(h.sent for h in rows), "received": sum(h.received for h in rows),
             "failed": sum(h.failed for h in rows)}  # fmt: skip
    return {"total": total, "perHour": per_hour}


def analyse(
    rows: list[Row],
    samples: list[Sample],
    *,
    now: float,
    since: float,
    down_after_s: float,
    gap_s: float,
    hours: Iterable[MessageHour] = (),
) -> dict[str, Any]:
    """The report: uptime, incidents since ``since``, per-day counts, the 24 h strip, the trend, alerts, and
    the messages per hour (``hours``: the journal's hourly counts of the window)."""
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
        "messages": messages_per_hour(hours),
    }


def read_report(
    path: Path, *, since_s: float, down_after_s: float, gap_s: float, now: float | None = None
) -> dict[str, Any]:
    """Read the file and analyse it (blocking: call it in a thread from the event loop)."""
    now = time.time() if now is None else now
    since = now - since_s
    rows, samples, skipped = _read(path, min(since, now - WINDOWS["7d"]))
    hours = read_message_hours(path, since)
    report = analyse(rows, samples, now=now, since=since, down_after_s=down_after_s, gap_s=gap_s, hours=hours)
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
