"""Command line: parse arguments, load the config, hand over to a face. No core logic lives here.

Global options are accepted before and after the sub-command (``watui --config x.toml info`` and
``watui info --config x.toml``). A user mistake is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace

from watui.config import Config, ConfigError, load_config, parse_sim_address
from watui.core.errors import WatuiError

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_QR_TIMEOUT = 3


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def _add_globals(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    default = argparse.SUPPRESS if suppress else None
    g = parser.add_argument_group("global options")
    g.add_argument("--config", metavar="PATH", default=default, help="config file (default: ./config.toml)")
    g.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="run on the built-in WhatsApp Web simulator instead of the real site",
    )
    g.add_argument(
        "--demo-port", metavar="N", type=int, default=default, help="fix the simulator's port (with --demo)"
    )
    g.add_argument(
        "--demo-sim",
        metavar="HOST:PORT",
        default=default,
        help="with --demo: use the simulator already running there (`watui sim --port PORT`)",
    )


def _seconds(text: str) -> float:
    """A positive, finite number of seconds ("nan", "inf", "1e309", 0 and below are refused)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="watui",
        description="Keep a WhatsApp Web session alive on a server. Without a command: the live dashboard.",
    )
    _add_globals(parser, suppress=False)
    parser.add_argument(
        "--serve", action="store_true", help="with the dashboard: also serve the HTTP API in the same process"
    )
    parser.add_argument("--host", default=None, help="with --serve: the API's address (default: [api] host)")
    parser.add_argument("--port", type=int, default=None, help="with --serve: the API's port (default: [api] port)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        _add_globals(p, suppress=True)
        return p

    p = command("info", "Show the session: the running watui's live state, or the disk alone (no browser started).")
    p.add_argument("--json", action="store_true", help="print the status JSON")

    p = command("clean", "Remove caches, temp files and stale locks; never the login.")
    p.add_argument("--json", action="store_true", help="print what was freed as JSON")

    p = command("clear", "Move the session into <session_path>/.quarantine/ (a new QR is needed after).")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument("--purge", action="store_true", help="delete the session instead of quarantining it")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = command("init", "Smart-initialize: validate, clean, launch, connect or show the login QR and wait.")
    p.add_argument("--json", action="store_true", help="stdout carries only the final result object")
    p.add_argument(
        "--timeout", type=_seconds, default=120.0, metavar="S", help="seconds to wait for a scan (default: 120)"
    )

    p = command("watch", "Keep the session connected, headless (for systemd, a bot, a log).")
    p.add_argument("--jsonl", action="store_true", help="one JSON object per event per line")

    p = command("doctor", "Does watui recognise WhatsApp Web here? Runs every probe; keeps the evidence.")
    p.add_argument("--json", action="store_true", help="print the probes and conclusions as JSON")

    p = command("status", "One line (or the status JSON) from the watui running the session; exit 0 if connected.")
    p.add_argument("--json", action="store_true", help="print the status JSON")

    command("reconnect", "Reconnect the session (through the watui running it, if one runs).")
    command("takeover", "Answer \"open in another window\" with \"Use here\" (through the running watui).")

    p = command("sim", "Run the WhatsApp Web simulator alone.")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")

    from watui.cli_snapshots import add_parsers as add_snapshot_parsers

    add_snapshot_parsers(command)

    p = command("serve", "Keep the session connected and serve the HTTP API and diagnostics page.")
    p.add_argument("--host", default=None, help="address to bind (default: [api] host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default: [api] port, 3000)")

    p = command("history", "What happened to the session: incidents, uptime, reconnects, size and memory.")
    p.add_argument("--since", default="24h", metavar="DURATION", help="how far back: 30m, 24h, 7d (default: 24h)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = command("alerts", "Alert channels: `watui alerts test` sends a test alert through each one.")
    p.add_argument("action", choices=["test"], help="test: send a test alert and say which channel worked")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
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


def _handler(command: str | None) -> Callable[[argparse.Namespace, Config], int]:
    if command in ("status", "reconnect", "takeover", "info", "clean", "clear", "init"):
        # Through the session's running owner when there is one (watui/cli_owner.py), directly otherwise.
        from watui import cli_owner

        return getattr(cli_owner, f"run_{command}")  # type: ignore[no-any-return,unused-ignore]
    if command == "watch":
        from watui.cli_live import run_watch

        return run_watch
    if command in ("keygen", "backup", "snapshots", "restore"):
        from watui import cli_snapshots

        return getattr(cli_snapshots, f"run_{command}")  # type: ignore[no-any-return,unused-ignore]
    if command in ("history", "alerts"):
        from watui import cli_history

        return getattr(cli_history, f"run_{command}")  # type: ignore[no-any-return,unused-ignore]
    if command == "doctor":
        from watui.cli_doctor import run_doctor_command

        return run_doctor_command
    if command == "sim":
        from watui.sim.cli import run_sim

        return run_sim
    if command == "serve":
        from watui.api.cli import run_serve

        return run_serve
    from watui.tui.launch import run_dashboard

    return run_dashboard


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        for name, default in (("config", None), ("demo", False), ("demo_port", None), ("demo_sim", None)):
            if not hasattr(args, name):
                setattr(args, name, default)
        config = _load(args)
        return _handler(args.command)(args, config)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"watui: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except WatuiError as exc:
        print(f"watui: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the machine refused (disk full, read-only, ...): its cause, not a traceback
        where = f"{exc.filename}: " if exc.filename is not None else ""
        print(f"watui: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAIL


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    entry()
