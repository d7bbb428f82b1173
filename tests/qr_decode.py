"""Turn half-block QR text back into a bitmap and decode it with a real QR decoder (zxing-cpp)."""

from __future__ import annotations

import re

import zxingcpp
from PIL import Image

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_TOP = {" ": False, "▀": True, "▄": False, "█": True}
_BOTTOM = {" ": False, "▀": False, "▄": True, "█": True}


def half_block_lines(text: str) -> list[str]:
    """The lines of ``text`` that are made of half blocks only (the QR), ANSI colours removed."""
    lines = [_ANSI.sub("", line).rstrip("\n") for line in text.splitlines()]
    return [line for line in lines if line.strip() and set(line) <= set(_TOP)]


def decode_half_blocks(lines: list[str], dark_is_block: bool = True, scale: int = 8) -> str | None:
    """Decode a QR drawn with half blocks; ``dark_is_block`` says whether a block is a dark module."""
    width = max(len(line) for line in lines)
    rows: list[list[bool]] = []
    for line in lines:
        line = line.ljust(width)
        rows.append([_TOP[c] for c in line])
        rows.append([_BOTTOM[c] for c in line])
    quiet = 4
    size = (width + 2 * quiet, len(rows) + 2 * quiet)
    image = Image.new("L", size, 255)
    for y, row in enumerate(rows):
        for x, block in enumerate(row):
            dark = block if dark_is_block else not block
            image.putpixel((x + quiet, y + quiet), 0 if dark else 255)
    image = image.resize((size[0] * scale, size[1] * scale), Image.Resampling.NEAREST)
    results = zxingcpp.read_barcodes(image)
    return results[0].text if results else None
