"""How the commands speak: JSON, ``key: value`` rows, a yes/no question, a disk error in one line, a QR."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from watui.cli.base import Exit
from watui.config import Config


def print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def row(key: str, value: str) -> str:
    """``key:        value``, the values of a block in one column."""
    return f"{key + ':' if key else '':<13}{value}"


def ask_consent(verb: str, question: str) -> int | None:
    """Ask ``question`` on the terminal: None to go on, else the exit status to stop with (2 when there is
    no terminal to ask on: the command needs --yes; 1 when the answer is no)."""
    if not sys.stdin.isatty():
        print(f"watui: {verb} needs confirmation and there is no terminal to ask on: rerun with --yes", file=sys.stderr)
        return Exit.USAGE
    print(question, end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return None
    print("watui: nothing done", file=sys.stderr)
    return Exit.FAIL


Run = Callable[[argparse.Namespace, Config], int]


def one_line_os_errors(run: Run) -> Run:
    """A disk error (permissions, a full disk, a folder vanishing) is one line and exit 1, not a traceback."""

    @functools.wraps(run)
    def guarded(args: argparse.Namespace, config: Config) -> int:
        try:
            return run(args, config)
        except OSError as exc:
            # An error without a file name (a full disk on write) still names where: the session folder.
            where = f" {exc.filename or config.session_root}"
            if exc.filename2:
                where += f" -> {exc.filename2}"
            print(f"watui: {args.command}:{where}: {exc.strerror or exc}", file=sys.stderr)
            return Exit.FAIL

    return guarded


def print_qr(payload: str, stream: TextIO) -> None:
    """Draw the QR in half blocks. On a terminal: black on white whatever the theme, so a phone scans it."""
    from watui.qr import qr_half_blocks  # segno, only for a command that shows a QR

    colour = stream.isatty() and not os.environ.get("NO_COLOR")
    start, end = ("\x1b[30;107m", "\x1b[0m") if colour else ("", "")
    for line in qr_half_blocks(payload):
        stream.write(f"{start}{line}{end}\n")
    stream.flush()
