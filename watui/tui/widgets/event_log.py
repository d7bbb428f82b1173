"""The event log: one timestamped line per event from the core or finished key, most recent first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from watui.core.events import HINT_TAKEOVER, Event
from watui.core.models import now_utc

MAX_ENTRIES = 200  # enough to read back a reconnect storm; older lines are dropped


@dataclass(frozen=True)
class LogEntry:
    time: datetime
    text: str
    level: str = "info"  # "info", "good", "warn", "error"


LEVEL_STYLE = {"good": "green", "warn": "yellow", "error": "bold red", "info": ""}


def _action_entry(event: Event) -> LogEntry:
    verb = str(event.data.get("verb", "action"))
    phase = str(event.data.get("phase", ""))
    text = f"{verb} {phase}".strip()
    if event.message:
        text += f": {event.message}"
    return LogEntry(event.time, text)


# The dashboard's words for what the operator can do about an event (Event.shown).
HINTS = {HINT_TAKEOVER: "press r to take over"}


def entry_for(event: Event) -> LogEntry | None:
    """The line an event deserves, or None for routine samples (health checks, disk scans) without news."""
    event = event.shown(HINTS)
    if event.type == "state":
        state = event.state or event.info.state
        text = f"{state.glyph} {state.value}" + (f": {event.message}" if event.message else "")
        level = "good" if state.is_connected else "warn" if state.value in ("TIMEOUT", "CONFLICT") else "info"
        return LogEntry(event.time, text, "error" if state.value in ("FAILED", "BLOCKED", "UNRECOGNISED") else level)
    if event.type == "qr":
        return LogEntry(event.time, "▣ new QR code" if event.qr else "QR code gone")
    if event.type == "retry":
        attempt = event.data.get("attempt", "?")
        delay = event.data.get("delay_s")
        after = f" in {float(delay):.1f}s" if isinstance(delay, int | float) else ""
        return LogEntry(event.time, f"↻ reconnect attempt {attempt}{after}", "warn")
    if event.type == "error":
        return LogEntry(event.time, f"✖ {event.message or 'error'}", "error")
    if event.type == "action":
        return _action_entry(event)
    if event.message:
        return LogEntry(event.time, event.message, "warn" if event.type == "health" else "info")
    return None


def log_text(entries: tuple[LogEntry, ...], now: datetime) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    zone = now.tzinfo
    for index, entry in enumerate(reversed(entries)):
        if index:
            out.append("\n")
        out.append(entry.time.astimezone(zone).strftime("%H:%M:%S"), style="dim")
        out.append("  ")
        out.append(entry.text, style=LEVEL_STYLE.get(entry.level, ""))
    if not entries:
        out.append("no events yet", style="dim")
    return out


class EventLog(Widget):
    """Renders the App's log entries, newest at the top."""

    DEFAULT_CSS = """
    EventLog { height: auto; }
    """

    entries: reactive[tuple[LogEntry, ...]] = reactive((), layout=True)
    """Oldest first, as they arrived; drawn reversed."""
    now: reactive[datetime] = reactive(now_utc, repaint=False)
    """Only its time zone matters here: times are shown in the App clock's zone."""

    def render(self) -> Text:
        return log_text(self.entries, self.now)
