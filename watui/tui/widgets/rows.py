"""A label/value table drawn as Rich Text: the shape every dashboard panel uses."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text

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
