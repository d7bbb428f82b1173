"""A label/value table drawn as Rich Text: the shape every dashboard panel uses; and the panel base class."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from watui.core.models import SessionInfo

Row = tuple[str, Text | str]


def label_rows(rows: Sequence[Row], label_width: int = 9) -> Text:
    """One line per row: the label left-aligned in ``label_width`` cells, then the value (no wrap)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    for index, (label, value) in enumerate(rows):
        if index:
            out.append("\n")
        out.append(label.ljust(label_width), style="bold")
        out.append(value if isinstance(value, Text) else Text(value))
    return out


class SnapshotPanel(Widget):
    """A panel that renders the core's latest snapshot; the App hands ``info`` down by data binding."""

    info: reactive[SessionInfo] = reactive(SessionInfo)
    """The latest snapshot from the core (layout: the number of rows depends on it)."""

    _rows = 0

    def watch_info(self) -> None:
        # Re-layout only when the number of rows changes; a new sample of the same shape just repaints.
        rows = self.render().plain.count("\n") + 1
        if rows != self._rows:
            self._rows = rows
            self.refresh(layout=True)

    def render(self) -> Text:
        raise NotImplementedError
