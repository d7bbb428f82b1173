"""``watui history`` (what the journal holds) and ``watui alerts test`` (does every channel work)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from watui.cli.base import Command, Exit
from watui.config import Config
from watui.present import cell_glyph, duration_words, messages_lines, ratio_text


def history(args: argparse.Namespace, config: Config) -> int:
    from watui.core.journal.journal import HistoryError, history_path
    from watui.core.journal.report import parse_since, read_report

    try:
        since_s = parse_since(args.since)
    except ValueError:
        print(
            f"watui history: --since must be a duration such as 30m, 24h or 7d (at most 3650d), got {args.since!r}",
            file=sys.stderr,
        )
        return Exit.USAGE
    if args.demo:  # --demo keeps its own session folder, and so its own journal
        from watui.demo import demo_config

        config = demo_config(config, 0)
    path = history_path(config)
    try:
        report = read_report(
            path,
            since_s=since_s,
            down_after_s=config.alerts.down_after_s,
            gap_s=float(config.history.sample_interval_s),
        )
    except HistoryError as exc:
        print(f"watui: {exc}", file=sys.stderr)
        return Exit.FAIL
    if args.json:
        sys.stdout.write(json.dumps(report) + "\n")
    else:
        sys.stdout.write(format_report(report, args.since))
    return Exit.OK


def format_report(report: dict[str, Any], since: str) -> str:
    if not report["exists"]:
        return (
            f"No history yet ({report['file']}): it is written while watui runs "
            "(watui watch, watui serve, the dashboard).\n"
        )
    up = report["uptime"]
    lines = [
        f"History of the last {since} ({report['file']})",
        f"Uptime   1 h: {ratio_text(up['1h'])}   24 h: {ratio_text(up['24h'])}   7 d: {ratio_text(up['7d'])}",
        f"Last 24 h  [{report['strip']['text']}]  now",
        f"           {cell_glyph(1.0)} connected  {cell_glyph(0.5)} partly down  {cell_glyph(0.0)} down  "
        f"{cell_glyph(None)} watui not running",
        *messages_lines(report),
    ]
    incidents = report["incidents"]
    lines.append(f"Incidents: {len(incidents)}")
    for inc in incidents:
        end = "ongoing" if inc["ongoing"] else ("resolved" if inc["resolved"] else "watui stopped")
        lines.append(f"  {inc['start']}  {duration_words(inc['durationS']):>14}  {end:<14} {inc['cause']}")
    if report["perDay"]:
        lines.append("Per day (UTC): drops / reconnect retries / incidents")
        for day in report["perDay"]:
            lines.append(f"  {day['date']}  {day['drops']:>4} / {day['retries']:>4} / {day['incidents']:>3}")
    trend = report["trend"]
    for name, key in (("Session size", "size"), ("Browser memory", "memory")):
        figures = trend.get(key)
        if figures:
            lines.append(
                f"{name}: {figures['firstMB']} → {figures['lastMB']} MB (min {figures['minMB']}, "
                f"max {figures['maxMB']})"
            )
    if report.get("skippedRows"):
        lines.append(f"Skipped {report['skippedRows']} unreadable row(s) of the journal (damaged on disk)")
    if report["alerts"]:
        lines.append("Alerts:")
        for alert in report["alerts"][-10:]:
            lines.append(f"  {alert['time']}  {alert.get('alert', '?')} {alert.get('status', '')} — {alert['message']}")
    return "\n".join(lines) + "\n"


def send_test_alerts(args: argparse.Namespace, config: Config) -> int:
    from watui.core.journal.alerts import make_test_alert
    from watui.core.journal.channels import Dispatcher, channels_for

    channels = channels_for(config.alerts)
    if not channels:
        print(
            "watui alerts test: no alert channel configured (set [alerts] command, [alerts] apprise or "
            f"[[alerts.webhook]] in {config.source or 'config.toml'})",
            file=sys.stderr,
        )
        return Exit.FAIL
    results = asyncio.run(Dispatcher(channels).deliver(make_test_alert(config)))
    if args.json:
        sys.stdout.write(json.dumps({"ok": all(r.ok for r in results), "channels": [r.to_json() for r in results]}))
        sys.stdout.write("\n")
    else:
        for result in results:
            print(f"{'✓' if result.ok else '?' if result.unknown else '✗'} {result.channel}: {result.detail}")
    return Exit.OK if all(r.ok for r in results) else Exit.FAIL


HISTORY = Command(
    "history",
    "What happened to the session: incidents, uptime, reconnects, size and memory.",
    history,
    lambda parser: parser.add_argument(
        "--since", default="24h", metavar="DURATION", help="how far back: 30m, 24h, 7d (default: 24h)"
    ),
    json="print the report as JSON",
)
ALERTS = Command(
    "alerts",
    "Alert channels: `watui alerts test` sends a test alert through each one.",
    send_test_alerts,
    lambda parser: parser.add_argument(
        "action", choices=["test"], help="test: send a test alert and say which channel worked"
    ),
    json="print the results as JSON",
)
