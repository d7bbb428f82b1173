"""The status line: the action running now (with elapsed time, so a slow one shows it is alive) or the last result."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from watui.core.models import now_utc
from watui.present import duration

SPINNER = "◐◓◑◒"
VERB_LABEL = {
    "initialize": "Initializing",
    "reconnect": "Reconnecting",
    "cleanup": "Cleaning caches",
    "clear": "Clearing the session",
    "scan": "Scanning the QR",
}


class StatusLine(Widget):
    """One line under the panels; ticks with the App clock only while something runs."""

    DEFAULT_CSS = """
    StatusLine { height: 1; }
    """

    busy: reactive[str | None] = reactive(None)
    """The verb running now (this App's or another face's), or None."""
    busy_since: reactive[datetime | None] = reactive(None)
    now: reactive[datetime] = reactive(now_utc, repaint=False)
    """The App's clock: repaints only while something runs (the elapsed time)."""
    last_result: reactive[str] = reactive("")
    """What the last finished action said."""

    def watch_now(self) -> None:
        if self.busy:
            self.refresh()

    def render(self) -> Text:
        if self.busy:
            label = VERB_LABEL.get(self.busy, self.busy)
            elapsed = (self.now - self.busy_since).total_seconds() if self.busy_since else 0.0
            frame = SPINNER[int(max(elapsed, 0)) % len(SPINNER)]
            return Text(
                f"{frame} {label}… {duration(elapsed)} (keys that would clash are greyed out)",
                style="bold",
                no_wrap=True,
                overflow="ellipsis",
            )
        return Text(self.last_result, no_wrap=True, overflow="ellipsis")
