"""The history view behind ``h``: uptime, the last 24 h as a strip of cells, size and memory sparklines,
and the incidents, from the journal (watui/core/journal/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from watui.present import duration_words, ratio_text

HistorySource = Callable[[], Awaitable[dict[str, Any]]]
SPARK = "▁▂▃▄▅▆▇█"
CELL_STYLE = {"█": "green", "▒": "yellow", "░": "bold red", "·": "dim"}


def sparkline(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(" " if v is None else SPARK[round((v - low) / span * (len(SPARK) - 1))] for v in values)


def _local(stamp: str) -> str:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%d %b %H:%M")


def history_text(report: dict[str, Any]) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    if not report.get("exists", True):
        out.append(f"No history yet: {report.get('file', '')}\nIt is written while watui runs.")
        return out
    up = report["uptime"]
    out.append("Uptime  ", style="bold")
    out.append(f"1 h {ratio_text(up['1h'])}   24 h {ratio_text(up['24h'])}   7 d {ratio_text(up['7d'])}\n\n")
    out.append("Last 24 h", style="bold")
    out.append(" (a cell is 30 min, now on the right)\n")
    for glyph in report["strip"]["text"]:
        out.append(glyph, style=CELL_STYLE.get(glyph, ""))
    out.append("\n█ connected  ▒ partly down  ░ down  · watui not running\n\n", style="dim")
    points = report["trend"]["points"]
    for name, key, summary in (("Session size  ", "sizeMB", "size"), ("Browser memory", "rssMB", "memory")):
        out.append(name, style="bold")
        figures = report["trend"].get(summary)
        if figures:
            out.append(f" {sparkline([p[key] for p in points])} ")
            out.append(f"{figures['firstMB']} → {figures['lastMB']} MB (max {figures['maxMB']})\n")
        else:
            out.append(" no samples yet\n", style="dim")
    incidents = report["incidents"]
    out.append(f"\nIncidents: {len(incidents)}\n", style="bold")
    for inc in reversed(incidents):
        end = "ongoing" if inc["ongoing"] else "resolved" if inc["resolved"] else "watui stopped"
        out.append(f"  {_local(inc['start'])}  {duration_words(inc['durationS']):>12}  {end:<14}{inc['cause']}\n")
    return out


class HistoryScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,h", "close", "Close", id="history.close"),
        Binding("r", "reload", "Reload", id="history.reload"),
    ]

    def __init__(self, source: HistorySource | None) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="history-box"):
            yield Static("Reading the journal…", id="history-text", markup=False)

    def on_mount(self) -> None:
        self.query_one("#history-box").border_title = "History (r reloads, h closes)"
        self.action_reload()

    def action_reload(self) -> None:
        self.run_worker(self._load(), name="history", group="history", exclusive=True, exit_on_error=False)

    async def _load(self) -> None:
        text: Text | str
        if self.source is None:
            text = "No history here: the journal is kept by the process that owns the session."
        else:
            try:
                text = history_text(await self.source())
            except Exception as exc:  # an unreadable journal is a line on screen, never a crash
                text = f"Cannot read the history: {exc}"
        self.query_one("#history-text", Static).update(text)

    def action_close(self) -> None:
        self.dismiss(None)
