"""QR payload → lines of Unicode half blocks (segno), dark modules on a light quiet zone.

Two QR rows make one text row: '▀' is the upper module dark, '▄' the lower, '█' both, ' ' neither.
The caller paints the text dark-on-light (or, on a plain terminal, the blocks stand for light and the
background for dark: see ``invert``) so a phone scans it whatever the terminal's theme.
"""

from __future__ import annotations

import segno

QUIET_ZONE = 2  # modules; phones read 2 reliably on a terminal, the standard asks 4
_HALF = {(False, False): " ", (True, False): "▀", (False, True): "▄", (True, True): "█"}


def qr_matrix(payload: str, border: int = QUIET_ZONE) -> list[list[bool]]:
    """The QR's modules, ``True`` for dark, with ``border`` light modules around."""
    code = segno.make_qr(payload, error="l")
    return [[bool(module) for module in row] for row in code.matrix_iter(scale=1, border=border)]


def qr_half_blocks(payload: str, border: int = QUIET_ZONE, invert: bool = False) -> list[str]:
    """Text lines drawing the QR. ``invert=True`` draws the *light* modules as blocks.

    Without colours, a terminal shows blocks in its foreground colour: on a dark terminal (light text)
    ``invert=True`` gives dark modules on a light quiet zone, which is what a phone expects.
    """
    matrix = qr_matrix(payload, border)
    if invert:
        matrix = [[not m for m in row] for row in matrix]
    if len(matrix) % 2:
        matrix.append([invert] * len(matrix[0]))
    lines = []
    for top, bottom in zip(matrix[0::2], matrix[1::2], strict=True):
        lines.append("".join(_HALF[(a, b)] for a, b in zip(top, bottom, strict=True)))
    return lines
