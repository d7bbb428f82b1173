"""Decode a QR as a phone sees it on a terminal: every cell painted in its own foreground and background
colours (the terminal's defaults where none is set), nothing added around it, and no second try with the
image inverted. A QR whose colours went missing, or that is drawn inverted, does not decode.

Sources: text with ANSI SGR colours (a pty, ``tmux capture-pane -e``) or a Textual screen's strips.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import zxingcpp
from PIL import Image

RGB = tuple[int, int, int]
_BLOCKS = "▀▄█"
_SGR = re.compile(r"\x1b\[([0-9;]*)m")
_OTHER_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-ln-z]|\x1b[()][0-9A-B]|\r")
# The 16 ANSI colours as xterm paints them.
_ANSI16: tuple[RGB, ...] = (
    (0, 0, 0), (205, 0, 0), (0, 205, 0), (205, 205, 0), (0, 0, 238), (205, 0, 205), (0, 205, 205), (229, 229, 229),
    (127, 127, 127), (255, 0, 0), (0, 255, 0), (255, 255, 0), (92, 92, 255), (255, 0, 255), (0, 255, 255),
    (255, 255, 255),
)  # fmt: skip


@dataclass(frozen=True)
class Theme:
    """A terminal's default colours: what a cell without colours of its own is painted in."""

    fg: RGB
    bg: RGB


DARK = Theme(fg=(229, 229, 229), bg=(0, 0, 0))  # the usual terminal over SSH
LIGHT = Theme(fg=(0, 0, 0), bg=(255, 255, 255))


@dataclass(frozen=True)
class Cell:
    char: str
    fg: RGB | None = None  # None: the terminal's default
    bg: RGB | None = None


def _xterm256(n: int) -> RGB:
    if n < 16:
        return _ANSI16[n]
    if n < 232:
        n -= 16
        steps = (0, 95, 135, 175, 215, 255)
        return (steps[n // 36], steps[(n // 6) % 6], steps[n % 6])
    grey = 8 + 10 * (n - 232)
    return (grey, grey, grey)


def _apply_sgr(params: list[int], fg: RGB | None, bg: RGB | None) -> tuple[RGB | None, RGB | None]:
    i = 0
    while i < len(params):
        p = params[i]
        if p == 0:
            fg = bg = None
        elif 30 <= p <= 37:
            fg = _ANSI16[p - 30]
        elif 90 <= p <= 97:
            fg = _ANSI16[p - 90 + 8]
        elif 40 <= p <= 47:
            bg = _ANSI16[p - 40]
        elif 100 <= p <= 107:
            bg = _ANSI16[p - 100 + 8]
        elif p == 39:
            fg = None
        elif p == 49:
            bg = None
        elif p in (38, 48) and i + 1 < len(params):
            if params[i + 1] == 5 and i + 2 < len(params):
                colour, i = _xterm256(params[i + 2]), i + 2
            elif params[i + 1] == 2 and i + 4 < len(params):
                colour, i = (params[i + 2], params[i + 3], params[i + 4]), i + 4
            else:
                colour = None
            if p == 38:
                fg = colour
            else:
                bg = colour
        i += 1
    return fg, bg


def cells_from_ansi(text: str) -> list[list[Cell]]:
    """The screen rows ``text`` paints: each character with the colours in force when it was written."""
    rows: list[list[Cell]] = []
    fg: RGB | None = None
    bg: RGB | None = None
    for line in _OTHER_ESCAPES.sub("", text).split("\n"):
        row: list[Cell] = []
        pos = 0
        for match in _SGR.finditer(line):
            row.extend(Cell(c, fg, bg) for c in line[pos : match.start()])
            params = [int(p) if p else 0 for p in match.group(1).split(";")]
            fg, bg = _apply_sgr(params, fg, bg)
            pos = match.end()
        row.extend(Cell(c, fg, bg) for c in line[pos:])
        rows.append(row)
    return rows


def cells_from_strips(strips: Iterable[Any]) -> list[list[Cell]]:
    """The rows of a Textual screen (``Strip``s of Rich segments) with each segment's colours."""
    rows: list[list[Cell]] = []
    for strip in strips:
        row: list[Cell] = []
        for segment in strip:
            style = segment.style
            fg = _rich_rgb(style.color) if style is not None else None
            bg = _rich_rgb(style.bgcolor) if style is not None else None
            if style is not None and style.reverse:
                fg, bg = bg, fg
            row.extend(Cell(c, fg, bg) for c in segment.text)
        rows.append(row)
    return rows


def _rich_rgb(color: Any) -> RGB | None:
    if color is None or color.is_default:
        return None
    triplet = color.get_truecolor()
    return (triplet.red, triplet.green, triplet.blue)


def paint(rows: list[list[Cell]], theme: Theme, scale: int = 4) -> Image.Image:
    """The screen as a grey image: one pixel per half cell, each half in the colour the terminal shows."""
    width = max((len(row) for row in rows), default=0)
    image = Image.new("L", (max(width, 1), max(2 * len(rows), 1)), _grey(theme.bg))
    for y, row in enumerate(rows):
        for x, cell in enumerate(row):
            fg, bg = _grey(cell.fg or theme.fg), _grey(cell.bg or theme.bg)
            image.putpixel((x, 2 * y), fg if cell.char in "▀█" else bg)
            image.putpixel((x, 2 * y + 1), fg if cell.char in "▄█" else bg)
    return image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)


def _grey(rgb: RGB) -> int:
    r, g, b = rgb
    return (299 * r + 587 * g + 114 * b) // 1000


def decode_cells(rows: list[list[Cell]], theme: Theme = DARK) -> list[str]:
    """Every QR text found on the painted screen, read as it is (no inverted retry)."""
    return [r.text for r in zxingcpp.read_barcodes(paint(rows, theme), try_invert=False)]


def decode_ansi(text: str, theme: Theme = DARK) -> list[str]:
    """Every QR text in terminal output ``text`` (ANSI colours honoured), as shown on ``theme``."""
    return decode_cells(cells_from_ansi(text), theme)


def qr_rows(text: str) -> list[str]:
    """The lines of ``text`` that draw half blocks (escapes removed): a QR was printed."""
    plain = [_SGR.sub("", line) for line in _OTHER_ESCAPES.sub("", text).split("\n")]
    return [line for line in plain if any(c in _BLOCKS for c in line)]
