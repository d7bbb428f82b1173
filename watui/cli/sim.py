"""``watui sim``: the WhatsApp Web simulator alone (a program of its own: ``watui/sim/cli.py``)."""

from __future__ import annotations

import argparse

from watui.cli.base import Command
from watui.config import Config


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")


def _run(args: argparse.Namespace, config: Config) -> int:
    from watui.sim.cli import run_sim

    return run_sim(args, config)


SIM = Command("sim", "Run the WhatsApp Web simulator alone.", _run, _options)
