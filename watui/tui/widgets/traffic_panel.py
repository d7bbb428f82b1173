"""The Traffic panel: whether messages flow. The outbox now (queued, sending), the last hour (sent, failed,
received), how long ago the newest incoming message came, and the webhook's backlog, from the session's
``traffic()`` figures (watui/core/messages/port.py's Traffic).

The App reads the figures (on the core's ``message`` and ``ack`` events and state changes) and hands them
down with its clock; the panel only renders them. Ages follow the clock, so "3 min ago" grows without a new
reading. Every figure has a glyph and a word: colour only repeats them (tmux and SSH may cut colours).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from watui.core.messages.port import Traffic
from watui.core.models import now_utc
from watui.present import ago
from watui.tui.widgets.rows import Row, label_rows

LABEL_WIDTH = 9


@dataclass(frozen=True)
class TrafficView:
    """What the panel shows: the last figures read, or why they could not be read (one line)."""

    figures: Traffic | None = None
    error: str | None = None


def age(since: float, now: datetime) -> str:
    """How long ago ``since`` (Unix seconds) was, in one unit: ``45 s``, ``12 min``, ``3.5 h`` (never
    negative: the owner's clock may be a little ahead of this one)."""
    return ago(max(0.0, now.timestamp() - since))


def _count(out: Text, glyph: str, number: int, word: str, style: str, gap: str = " ") -> None:
    out.append(f"{glyph}{gap}{number} {word}", style=style if number else "")


def outbox_text(figures: Traffic, now: datetime, room: int = 80) -> Text:
    """``◌ 2 queued · ◔ 1 sending · oldest 12 s``: what waits to go, and how long the oldest has waited
    (when it fits in ``room`` cells)."""
    out = Text()
    _count(out, "◌", figures.queued, "queued", "yellow")
    out.append(" · ")
    _count(out, "◔", figures.sending, "sending", "yellow")
    if (figures.queued or figures.sending) and figures.oldest_pending_at is not None:
        _if_room(out, f" · oldest {age(figures.oldest_pending_at, now)}", room)
    return out


def _if_room(out: Text, more: str, room: int) -> None:
    """Append ``more`` when the line still fits ``room`` with it: a detail gives way before a count is cut."""
    if out.cell_len + len(more) <= room:
        out.append(more)


def hour_text(figures: Traffic, room: int = 80) -> Text:
    """``✓ 41 sent · ✖ 2 failed · ↓ 17 received`` in the last hour; no ``✖`` while nothing failed. Tighter,
    ``✓41 sent ✖2 failed ↓17 received``, when that does not fit ``room``."""
    for gap, sep in ((" ", " · "), ("", " ")):
        out = Text()
        _count(out, "✓", figures.sent, "sent", "green", gap)
        out.append(sep)
        if figures.failed:
            out.append(f"✖{gap}{figures.failed} failed", style="bold red")
        else:
            out.append("0 failed")
        out.append(sep)
        _count(out, "↓", figures.received, "received", "green", gap)
        if out.cell_len <= room:
            break
    return out


def webhook_text(figures: Traffic, now: datetime, room: int = 80) -> Text:
    """``webhook off``, ``webhook ✔ 0 waiting``, ``webhook ⚠ 12 waiting, oldest 5 min``, and its failure."""
    if not figures.webhook:
        return Text("webhook off")
    waiting = figures.webhook_backlog
    if figures.webhook_error:
        out = Text(f"webhook ✖ {waiting} waiting", style="bold red")
        out.append(f" · failing: {figures.webhook_error}")
        return out
    if waiting:
        out = Text(f"webhook ⚠ {waiting} waiting", style="yellow")
        if figures.webhook_oldest_at is not None:
            _if_room(out, f", oldest {age(figures.webhook_oldest_at, now)}", room)
        return out
    return Text("webhook ✔ 0 waiting", style="green")


def incoming_text(figures: Traffic, now: datetime, room: int = 80) -> Text:
    """``last 3 min ago · webhook ✔ 0 waiting`` (``none yet`` before the first incoming message; without
    ``last`` when that does not fit ``room``)."""
    last = figures.last_received_at
    when = "none yet" if last is None else f"{age(last, now)} ago"
    hook = webhook_text(figures, now, room - len(when) - 3)
    if last is not None and len("last ") + len(when) + 3 + hook.cell_len <= room:
        when = f"last {when}"
    out = Text(when)
    out.append(" · ")
    out.append(hook)
    return out


def traffic_rows(view: TrafficView, now: datetime, width: int = 80) -> list[Row]:
    """Three rows of figures (``width``: the cells a row has); one line when they could not be read (or
    are not read yet)."""
    if view.error is not None:
        return [("", Text(f"✖ cannot read the traffic: {view.error}", style="bold red"))]
    figures = view.figures
    if figures is None:
        return [("", Text("reading the figures…", style="dim"))]
    return [
        ("Outbox", outbox_text(figures, now, width - LABEL_WIDTH)),
        ("Last 1 h", hour_text(figures, width - LABEL_WIDTH)),
        ("Incoming", incoming_text(figures, now, width - LABEL_WIDTH)),
    ]


def traffic_text(view: TrafficView, now: datetime, width: int = 80) -> Text:
    rows = traffic_rows(view, now, width)
    return label_rows(rows, LABEL_WIDTH if len(rows) > 1 else 0)


class TrafficPanel(Widget):
    """Renders the App's traffic figures; shown only for a session that declares MESSAGES."""

    view: reactive[TrafficView] = reactive(TrafficView)
    """The figures the App read last: one row for an error, three for figures."""
    now: reactive[datetime] = reactive(now_utc, repaint=False)
    """The App's clock, for the ages (repaints only when the text it shows changes)."""

    _shown: str = ""
    _rows = 0

    def watch_view(self) -> None:
        # Re-layout only when the number of rows changes; new figures of the same shape just repaint.
        rows = len(traffic_rows(self.view, self.now))
        if rows != self._rows:
            self._rows = rows
            self.refresh(layout=True)

    def watch_now(self) -> None:
        # The clock ticks every second; an age in minutes changes once a minute.
        if traffic_text(self.view, self.now, self.content_size.width).plain != self._shown:
            self.refresh()

    def render(self) -> Text:
        text = traffic_text(self.view, self.now, self.content_size.width)
        self._shown = text.plain
        return text
