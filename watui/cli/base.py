"""What every command is: a :class:`Command` (its parser, its run), the :class:`Exit` statuses, the global options.

The one place the exit statuses are defined; ``watui sim`` is a program of its own (``watui/sim/cli.py``)
and keeps its own.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from watui.config import Config


class Exit(IntEnum):
    """watui's exit statuses, for every command."""

    OK = 0
    FAIL = 1  # the command ran and the answer is no: not connected, not valid, refused, failed
    USAGE = 2  # a user mistake: bad option, bad config, snapshots off, no terminal to confirm on
    QR_TIMEOUT = 3  # a QR code was shown and not scanned in time
    NOT_YET = 3  # `watui send --wait`: not reached within --timeout (the message is still queued and still goes)
    CANNOT_LOOK = 4  # `watui doctor` could not look at the page
    INTERRUPTED = 130  # Ctrl-C, SIGTERM or SIGHUP


def no_options(parser: argparse.ArgumentParser) -> None:
    """A command with only the global options."""


@dataclass
class Command:
    """One sub-command, as memray's ``commands/`` declare theirs: ``prepare_parser`` adds its options to its
    parser, ``run`` runs it on the parsed arguments and the loaded config and returns the exit status. Listed
    in ``watui/cli/__init__.py``'s registry. (Values, not a class per command: a command is these four.)"""

    name: str
    help: str  # the one line of `watui --help`, also the command's description
    run: Callable[[argparse.Namespace, Config], int]
    prepare_parser: Callable[[argparse.ArgumentParser], object] = no_options
    json: str = ""  # what its --json prints (the option comes after its own); "": it has none


class UsageError(Exception):
    """A mistake on the command line: one line on stderr, exit 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


GLOBAL_DEFAULTS = (("config", None), ("demo", False), ("demo_port", None), ("demo_sim", None))


def add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options every command takes, before or after its name (``suppress``: on a sub-parser, so an
    option given before the command is not reset by the sub-parser's default)."""
    default = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("global options")
    g.add_argument("--config", metavar="PATH", default=default, help="config file (default: ./config.toml)")
    g.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="run on the built-in WhatsApp Web simulator instead of the real site",
    )
    g.add_argument("--demo-port", metavar="N", type=int, default=default, help="fix the simulator's port (with --demo)")
    g.add_argument(
        "--demo-sim",
        metavar="HOST:PORT",
        default=default,
        help="with --demo: use the simulator already running there (`watui sim --port PORT`)",
    )


def seconds(text: str) -> float:
    """A positive, finite number of seconds ("nan", "inf", "1e309", 0 and below are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value
