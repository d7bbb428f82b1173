"""Where the dashboard puts the login QR at a terminal size: pure arithmetic on the code's size, no Textual.

The QR's cells come from ``watui.qr`` (half blocks: one text row per two modules, quiet zone included); the
App asks :func:`qr_layout` on every resize and state change, the QR widget draws :func:`qr_lines`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from watui.core.models import SessionInfo
from watui.qr import qr_half_blocks

PANELS_MIN_WIDTH = 46  # the narrowest the stacked panels stay legible beside the QR
CHROME_ROWS = 2  # header and footer
QR_SIDE_PADDING = 2  # one column either side of the code
CAPTION_ROWS = 2  # the expiry line and the how-to-scan line under the code


@lru_cache(maxsize=8)
def qr_lines(payload: str) -> tuple[str, ...]:
    """The code's text rows; cached because a payload is drawn many times and rotates rarely."""
    return tuple(qr_half_blocks(payload))


def qr_cells(payload: str) -> tuple[int, int]:
    """(columns, rows) the code needs, quiet zone included."""
    lines = qr_lines(payload)
    return (len(lines[0]) if lines else 0, len(lines))


@dataclass(frozen=True)
class QrLayout:
    """Where the QR goes at this terminal size: ``need`` is the smallest terminal that shows it."""

    mode: Literal["none", "beside", "full", "too_small"]
    need: tuple[int, int] = (0, 0)


def qr_layout(info: SessionInfo, width: int, height: int) -> QrLayout:
    """Beside the panels when both fit, alone when only the code fits, else a message with the size."""
    if info.qr is None or info.state.is_connected:
        return QrLayout("none")
    qr_width, qr_height = qr_cells(info.qr)
    rows = qr_height + CAPTION_ROWS + CHROME_ROWS
    need = (qr_width, rows)
    if height < rows or width < qr_width:
        return QrLayout("too_small", need)
    if width >= PANELS_MIN_WIDTH + qr_width + QR_SIDE_PADDING:
        return QrLayout("beside", need)
    return QrLayout("full", need)
