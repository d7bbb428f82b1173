"""The QR as a terminal shows it scans: ``print_qr`` through a real pty, decoded as painted (no added
border, no inverted retry), on a dark and on a light terminal theme."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.qr_decode import DARK, LIGHT, cells_from_ansi, decode_ansi, decode_cells
from watui.qr import qr_half_blocks

PAYLOAD = "2@" + "A" * 90 + "," + "B" * 44 + "," + "C" * 44 + "," + "D" * 44


def print_qr_on_a_pty(payload: str) -> str:
    """What ``print_qr`` writes to a real terminal (a pty as its stdout), escapes included."""
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    script = "import sys; from watui.cli.output import print_qr; print_qr(sys.argv[1], sys.stdout)"
    proc = subprocess.Popen([sys.executable, "-c", script, payload], stdout=slave, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(30) == 0
    return b"".join(chunks).decode()


def test_print_qr_on_a_terminal_scans_on_dark_and_light_themes() -> None:
    shown = print_qr_on_a_pty(PAYLOAD)
    assert "\x1b[" in shown  # a terminal gets its colours
    assert decode_ansi(shown, DARK) == [PAYLOAD]
    assert decode_ansi(shown, LIGHT) == [PAYLOAD]


def test_plain_half_blocks_read_as_dark_modules_only_on_a_light_theme() -> None:
    """The decoder sees what the terminal paints: uncoloured blocks on a dark theme are an inverted code."""
    plain = "\n".join(qr_half_blocks(PAYLOAD))
    assert decode_cells(cells_from_ansi(plain), LIGHT) == [PAYLOAD]
    assert decode_cells(cells_from_ansi(plain), DARK) == []
