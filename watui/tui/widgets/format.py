"""Plain-text formatting shared by the panels: sizes, durations, clock times, bars, shortened paths."""

from __future__ import annotations

from datetime import datetime, tzinfo

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
