"""Command line: parse arguments, load the config, hand over to a command. No core logic lives here.

The package is watui's composition root: the one place that imports every face. Each sub-command is a
:class:`~watui.cli.base.Command` in :data:`COMMANDS` (its parser and its run, as memray's ``commands/``);
``watui`` with no command is the dashboard (``cli/dashboard.py``). Global options are accepted before and
after the sub-command (``watui --config x.toml info`` and ``watui info --config x.toml``). A user mistake is
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from watui.cli import dashboard
from watui.cli.base import GLOBAL_DEFAULTS, Command, Exit, Parser, UsageError, add_globals
from watui.cli.doctor import DOCTOR
from watui.cli.history import ALERTS, HISTORY
from watui.cli.live import INIT, WATCH
from watui.cli.messages import MESSAGES, SEND
from watui.cli.serve import SERVE
from watui.cli.session import CLEAN, CLEAR, INFO, RECONNECT, STATUS, TAKEOVER
from watui.cli.sim import SIM
from watui.cli.snapshots import BACKUP, KEYGEN, RESTORE, SNAPSHOTS
from watui.config import Config, ConfigError, load_config, parse_sim_address
from watui.core.errors import WatuiError

# Every sub-command, in the order `watui --help` (and the command reference of the docs) lists them.
COMMANDS: tuple[Command, ...] = (
    INFO,
    CLEAN,
    CLEAR,
    INIT,
    WATCH,
    DOCTOR,
    STATUS,
    RECONNECT,
    TAKEOVER,
    SIM,
    KEYGEN,
    BACKUP,
    SNAPSHOTS,
    RESTORE,
    SERVE,
    HISTORY,
    ALERTS,
    SEND,
    MESSAGES,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="watui",
        description="Keep a WhatsApp Web session alive on a server. Without a command: the live dashboard.",
    )
    add_globals(parser, suppress=False)
    dashboard.prepare_parser(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        add_globals(p, suppress=True)
        command.prepare_parser(p)
        if command.json:
            p.add_argument("--json", action="store_true", help=command.json)
        p.set_defaults(run=command.run)
    return parser


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if args.demo_port is not None and not args.demo:
        raise UsageError("watui: --demo-port needs --demo")
    if args.demo_port is not None and not 0 <= args.demo_port <= 65535:
        raise UsageError(f"watui: --demo-port must be a port number 0-65535, got {args.demo_port}")
    if args.demo_sim is not None:
        if not args.demo:
            raise UsageError("watui: --demo-sim needs --demo")
        if args.demo_port is not None:
            raise UsageError("watui: --demo-sim and --demo-port: give one (the running simulator has its port)")
        try:
            parse_sim_address(args.demo_sim)
        except ValueError as exc:
            raise UsageError(f"watui: --demo-sim {exc}") from None
        config = replace(config, demo=replace(config.demo, sim=args.demo_sim))
    # --demo means the demo's own session folder in every command, so none can touch the real session.
    return config.for_demo() if args.demo else config


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        for name, default in GLOBAL_DEFAULTS:
            if not hasattr(args, name):
                setattr(args, name, default)
        config = _load(args)
        run = args.run if args.command else dashboard.run
        return int(run(args, config))
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return Exit.USAGE
    except ConfigError as exc:
        print(f"watui: {exc}", file=sys.stderr)
        return Exit.USAGE
    except WatuiError as exc:
        print(f"watui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return Exit.INTERRUPTED
    except OSError as exc:  # the machine refused (disk full, read-only, ...): its cause, not a traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"watui: {where}{exc.strerror or exc}", file=sys.stderr)
        return Exit.FAIL


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
