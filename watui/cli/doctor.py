"""`watui doctor [--json]`: does watui recognise WhatsApp Web here? One table: probe, matched, value.

On a free session it launches its own browser; beside a running owner, the owner probes the page its
browser shows (``POST /api/whatsapp/doctor`` on its control socket). Exit 0 when a channel recognises the
page, 1 when none does, 2 for a usage mistake, 4 when it cannot look (the session is in use by a process
that cannot probe for it, or the owner's browser is not running): one line, and with ``--json`` a JSON
``{"recognised": null, "error": ...}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from watui.cli.base import Command, Exit
from watui.cli.reach import Reached, on_session
from watui.config import Config
from watui.core.errors import ActionUnavailable, SessionBusyError

if TYPE_CHECKING:
    from watui.core.doctor import DoctorReport


async def doctor(reached: Reached, args: argparse.Namespace) -> int:
    """Probe the page of the owner's browser when a watui runs the session, else of a browser of its own."""
    if reached.owner is None:
        report = await _doctor(reached.config, bool(args.demo), args.demo_port)
        return _answer(args, report.to_json())
    try:
        probed = await reached.owner.verb("doctor")
    except ActionUnavailable as exc:
        return _cannot_look(args, f"{reached.label} owns this session: {exc}")
    return _answer(args, {**probed, "owner": reached.owner_json()}, reached.label)


async def _doctor(config: Config, demo: bool, demo_port: int | None) -> DoctorReport:
    from watui.core.doctor import run_doctor  # the browser's code only when the doctor runs

    if not demo:
        return await run_doctor(config)
    from watui.demo import demo_config, running_simulator, start_simulator

    if config.demo.sim:  # the simulator already running there ([demo] sim / --demo-sim)
        client = await running_simulator(config.demo.sim)
        return await run_doctor(demo_config(config, client.port, client.host))
    sim = await start_simulator(config, demo_port)
    try:
        return await run_doctor(demo_config(config, sim.port))
    finally:
        await sim.close()


def render(report: dict[str, Any]) -> str:
    """The doctor's answer (``DoctorReport.to_json()``, here or from the owner) as a table and conclusions."""
    rows = [("channel", "probe", "matched", "value")]
    for p in report.get("probes") or []:
        value = "" if p.get("value") is None else str(p["value"])
        rows.append((str(p.get("channel")), str(p.get("probe")), "yes" if p.get("matched") else "no", value[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.append("")
    for channel, conclusion in (report.get("channels") or {}).items():
        lines.append(f"{channel:8} {conclusion}")
    lines.append("")
    if report.get("recognised"):
        lines.append(f"recognised by the {report.get('detection')} channel: {report.get('state')}")
    else:
        lines.append("NOT recognised by any channel: the page may have changed; see the evidence folder")
    lines.append(f"browser: {report.get('browser')}  user agent: {report.get('userAgent', '')}")
    lines.append(f"WhatsApp Web version (Debug.VERSION): {report.get('debugVersion') or 'not found'}")
    lines.append(f"evidence: {report.get('evidence')}")
    return "\n".join(lines)


def _answer(args: argparse.Namespace, report: dict[str, Any], via: str | None = None) -> int:
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(render(report))
        if via:
            print(f"probed by {via} on the page its browser shows")
    sys.stdout.flush()
    return Exit.OK if report.get("recognised") else Exit.FAIL


def _cannot_look(args: argparse.Namespace, why: str) -> int:
    """The doctor could not look at the page: one line on stderr, and a JSON error with ``--json``."""
    if args.json:
        print(json.dumps({"recognised": None, "error": why}, indent=1))
        sys.stdout.flush()
    print(f"watui doctor: {why}", file=sys.stderr)
    return Exit.CANNOT_LOOK


def _doctor_command(args: argparse.Namespace, config: Config) -> int:
    try:
        return on_session(doctor)(args, config)
    except SessionBusyError as exc:
        return _cannot_look(args, str(exc))


DOCTOR = Command(
    "doctor",
    "Does watui recognise WhatsApp Web here? Runs every probe; keeps the evidence.",
    _doctor_command,
    json="print the probes and conclusions as JSON",
)
