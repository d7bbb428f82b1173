"""`watui doctor [--json]`: does watui recognise WhatsApp Web here? One table: probe, matched, value.

Exit 0 when a channel recognises the page, 1 when none does, 2 for a usage mistake.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from watui.config import Config
from watui.core.doctor import DoctorReport, run_doctor


async def _doctor(config: Config, demo: bool, demo_port: int | None) -> DoctorReport:
    if not demo:
        return await run_doctor(config)
    from watui.runtime import SimulatorError, demo_config, running_simulator
    from watui.sim.errors import SimError
    from watui.sim.server import Simulator

    if config.demo.sim:  # the simulator already running there ([demo] sim / --demo-sim)
        client = await running_simulator(config.demo.sim)
        return await run_doctor(demo_config(config, client.port, client.host))
    try:
        sim = Simulator(port=demo_port or 0, state_dir=config.demo_state_dir / "sim", page=config.demo.page)
        await sim.start()
    except SimError as exc:
        raise SimulatorError(str(exc), getattr(exc, "exit_code", 1)) from exc
    try:
        return await run_doctor(demo_config(config, sim.port))
    finally:
        await sim.close()


def render(report: DoctorReport) -> str:
    rows = [("channel", "probe", "matched", "value")]
    for p in report.probes:
        value = "" if p.get("value") is None else str(p["value"])
        rows.append((str(p.get("channel")), str(p.get("probe")), "yes" if p.get("matched") else "no", value[:60]))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.append("")
    for channel, conclusion in report.conclusions.items():
        lines.append(f"{channel:8} {conclusion}")
    lines.append("")
    if report.recognised:
        lines.append(f"recognised by the {report.detection} channel: {report.state}")
    else:
        lines.append("NOT recognised by any channel: the page may have changed; see the evidence folder")
    lines.append(f"browser: {report.browser}  user agent: {report.user_agent}")
    lines.append(f"WhatsApp Web version (Debug.VERSION): {report.wa_version or 'not found'}")
    lines.append(f"evidence: {report.evidence}")
    return "\n".join(lines)


def run_doctor_command(args: argparse.Namespace, config: Config) -> int:
    report = asyncio.run(_doctor(config, bool(args.demo), args.demo_port))
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(render(report))
    sys.stdout.flush()
    return 0 if report.recognised else 1
