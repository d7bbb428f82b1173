"""The human formatters, for every face and the core's own messages: sizes, durations, ages, ratios, clock
times, glyphs, bars, shortened paths, lock holders. Pure: numbers and plain data in, text out.

Where two faces have said the same thing in two ways, both ways are kept (each face's output is its users'
and its tests'), under names that say which: :func:`size` (``watui info``) and :func:`megabytes` (the
dashboard); :func:`duration` (the dashboard's ``3m 05s``) and :func:`duration_words` (``watui history``'s
``3 min 05 s``); :func:`lock_text` (``watui info``) and :func:`lock_short` (the dashboard's Lock row).
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from watui.core.models import PROBLEM_LOCKED

if TYPE_CHECKING:
    from watui.core.models import DiskReport, LockInfo

MB = 1024 * 1024


def megabytes(size_bytes: int) -> str:
    """``74.2 MB``; whole numbers above 100 MB, because the decimal is noise there."""
    value = size_bytes / MB
    return f"{value:.0f} MB" if value >= 100 else f"{value:.1f} MB"


def duration(seconds: float) -> str:
    """``45s``, ``3m 05s``, ``2h 04m``, ``3d 02h``: two units at most, never negative."""
    total = max(0, int(seconds))
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def clock_time(moment: datetime | None, now: datetime) -> str:
    """``14:03:12`` today (in ``now``'s time zone), ``Nov 26 14:03`` another day, ``—`` never."""
    if moment is None:
        return "—"
    zone: tzinfo | None = now.tzinfo
    local = moment.astimezone(zone)
    if local.date() == now.date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%b %d %H:%M")


def bar(fraction: float, width: int) -> str:
    """A text bar, ``█`` filled and ``░`` empty, so it reads without colours."""
    width = max(1, width)
    filled = round(min(max(fraction, 0.0), 1.0) * width)
    return "█" * filled + "░" * (width - filled)


def shorten_path(path: str, width: int) -> str:
    """Keep the end of a path (the part that tells sessions apart); ``…`` marks the cut."""
    if len(path) <= width:
        return path
    return "…" + path[-(width - 1) :] if width > 1 else "…"


def uptime(seconds: float) -> str:
    """Like :func:`duration` but in whole minutes past the first one: it changes once a minute, not every
    second, so an idle dashboard does not redraw for it."""
    total = max(0, int(seconds))
    if total < 60:
        return f"{total}s"
    return duration(total - total % 60).replace(" 00s", "")


# -- sizes --------------------------------------------------------------------------------------------
def size(size_bytes: int) -> str:
    """``512 B``, ``3.4 KB``, ``74.2 MB``, ``1.25 GB``: ``watui info``, ``clean`` and ``snapshots``."""
    if size_bytes < 1024:
        return f"{size_bytes} B"
    if size_bytes < MB:
        return f"{size_bytes / 1024:.1f} KB"
    if size_bytes < 1024 * MB:
        return f"{size_bytes / MB:.1f} MB"
    return f"{size_bytes / (1024 * MB):.2f} GB"


def mb_figure(size_bytes: int) -> str:
    """Megabytes as a bare figure for the store's messages (``74``, ``3.2``): whole when large, one decimal when
    small."""
    value = size_bytes / MB
    return f"{value:.0f}" if value >= 10 else f"{value:.1f}"


def mb_over(size_bytes: int, cap_mb: int) -> str:
    """``size_bytes`` in MB with just enough decimals that it reads as larger than ``cap_mb``."""
    for digits in (0, 1, 2):
        text = f"{size_bytes / MB:.{digits}f}"
        if float(text) > cap_mb:
            return f"{text}MB"
    return f"{size_bytes} bytes"


# -- durations and ages -------------------------------------------------------------------------------
def duration_words(seconds: float) -> str:
    """A duration in words for a report: ``45 s``, ``3 min 05 s``, ``2 h 07 min``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def ago(seconds: float) -> str:
    """How old something is, one unit: ``45 s``, ``12 min``, ``3.5 h``, ``2.0 d`` (a snapshot's age)."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


# -- uptime -------------------------------------------------------------------------------------------
def cell_glyph(ratio: float | None) -> str:
    """One cell of an uptime strip: ``█`` up, ``▒`` partly down, ``░`` down, ``·`` watui not running."""
    if ratio is None:
        return "·"
    if ratio >= 0.99:
        return "█"
    if ratio <= 0.01:
        return "░"
    return "▒"


def ratio_text(figures: dict[str, Any]) -> str:
    """An uptime figure of the report for people: ``99.95 %``, or ``no data``."""
    ratio = figures.get("ratio")
    return "no data" if ratio is None else f"{ratio * 100:.2f} %"


# -- locks --------------------------------------------------------------------------------------------
def lock_text(lock: LockInfo) -> str:
    """Who holds the profile's lock, in full (``watui info``): ``none``, ``stale (...)``, ``chromium (pid 7)``."""
    if lock.kind == "none":
        return "none"
    if lock.kind == "stale" and lock.host and lock.pid:
        return f"stale (pid {lock.pid} on host '{lock.host}', a restarted container: single_host)"
    if lock.kind == "stale":
        return f"stale (pid {lock.pid}, no longer running)" if lock.pid else "stale"
    if lock.name is None and lock.host:
        return f"pid {lock.pid} on another host '{lock.host}'"
    return f"{lock.name} (pid {lock.pid})"


def lock_short(disk: DiskReport) -> str:
    """Who holds the profile, short (the dashboard's Lock row): the words say whether watui may take it."""
    lock = disk.lock
    if lock.kind == "live" and PROBLEM_LOCKED not in disk.problems:
        return f"watui's browser (pid {lock.pid})"  # the store reports only a foreign holder as a problem
    if lock.kind == "live":
        owner = f" {lock.name}" if lock.name else ""
        return f"held by pid {lock.pid}{owner}"
    if lock.kind == "stale":
        return f"stale (pid {lock.pid} gone)" if lock.pid else "stale"
    return "free"


MESSAGE_HOURS_SHOWN = 24


def messages_lines(report: dict[str, Any]) -> list[str]:
    """``watui history``'s lines of the messages: the totals, then one line per hour that had any (the
    newest :data:`MESSAGE_HOURS_SHOWN` of them; ``--json`` has them all)."""
    messages = report.get("messages")
    if not messages:
        return []
    total = messages["total"]
    lines = [f"Messages sent / received / failed: {total['sent']} / {total['received']} / {total['failed']}"]
    hours = messages["perHour"]
    if hours:
        lines.append("Per hour (UTC): sent / received / failed")
        if len(hours) > MESSAGE_HOURS_SHOWN:
            lines.append(f"  ({len(hours) - MESSAGE_HOURS_SHOWN} earlier hour(s) with messages: see --json)")
        for hour in hours[-MESSAGE_HOURS_SHOWN:]:
            when = hour["hour"].replace("T", " ")[:16]
            lines.append(f"  {when}  {hour['sent']:>5} / {hour['received']:>5} / {hour['failed']:>4}")
    return lines
