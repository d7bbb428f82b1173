"""`watui sim`: run the WhatsApp Web simulator alone, print how to use it, log its pages, stop on a signal."""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import signal
import sys
import time
from pathlib import Path

from watui.config import Config
from watui.sim.errors import SimError
from watui.sim.server import Simulator

EXIT_USAGE = 2


def _state_dir(config: Config) -> Path | None:
    raw = config.demo.state_dir
    return (config.base_dir / Path(raw).expanduser()).resolve() if raw else None


def usage_text(sim: Simulator) -> str:
    """What a person needs: where it listens, how to point Chromium at it, the control API in curl."""
    url = sim.base_url
    chromium = shlex.join(["chromium", *sim.browser_args(), "--user-data-dir=/tmp/wa-sim-profile",
                           "https://web.whatsapp.com"])  # fmt: skip
    where = str(sim.state_dir) if sim.state_dir else "memory only (set [demo] state_dir to keep them)"
    incoming = json.dumps({"from": "15550002001", "text": "hi"})
    group = json.dumps({"name": "Ops", "members": ["15550002001", "15550002002"]})
    in_group = json.dumps({"group": "ID@g.us", "from": "15550002002", "text": "on it"})
    lines = [
        f"watui simulator: WhatsApp Web served as https://web.whatsapp.com on {url}",
        "  (a throwaway self-signed certificate, made now)",
        f"  logins kept in: {where}",
        f"  QR: a new ref every {sim.qr_rotate_ms} ms, expires after {sim.qr_rotations} rotations",
        f"  page variant: {sim.variant} (modules, dom, canvas, unknown)",
        "",
        "Point a browser at it:",
        f"  {chromium}",
        "",
        "Control API:",
        f"  curl -k {url}/__sim/state                 # state, current QR, scans, connections",
        f"  curl -k -X POST {url}/__sim/scan          # scan the QR shown by the newest page",
        f"  curl -k -X POST {url}/__sim/logout        # log the linked browser out (back to the QR)",
        f"  curl -k -X POST {url}/__sim/conflict      # 'WhatsApp is open in another window'",
        f"  curl -k -X POST {url}/__sim/drop          # close the page's live connection",
        f"  curl -k -X POST {url}/__sim/stall         # close it so that the page never retries (reload needed)",
        f"  curl -k -X POST {url}/__sim/down          # refuse page loads and connections (503)",
        f"  curl -k -X POST {url}/__sim/up            # accept them again",
        f"  curl -k -X POST '{url}/__sim/slow?ms=5000'  # delay page loads (0 resets)",
        f"  curl -k -X POST '{url}/__sim/page?variant=dom'  # serve another page variant from the next load",
        f"  curl -k -X POST '{url}/__sim/block?reason=TOS_BLOCK'  # or PROXYBLOCK, DEPRECATED_VERSION",
        f"  curl -k {url}/__sim/messages              # what contacts received (id, to, body, ack), what they wrote",
        f"  curl -k -X POST {url}/__sim/incoming -d '{incoming}'  # a contact writes",
        f"  curl -k -X POST {url}/__sim/groups -d '{group}'  # a group (its id back); GET lists them",
        f"  curl -k -X POST {url}/__sim/incoming -d '{in_group}'  # a member writes in it",
        f"  curl -k -X POST '{url}/__sim/ack?id=ID&ack=3'  # move an ack; &freeze=1|0, or ?freeze=1|0 for all",
        f"  curl -k -X POST '{url}/__sim/numbers?add=15550009999'  # on WhatsApp (remove=); GET lists them",
        "",
        f'Point watui at it: watui --demo --demo-sim {sim.connect_host}:{sim.port} (or [demo] sim = "...")',
        "",
        "Ctrl-C to stop.",
    ]
    return "\n".join(lines)


async def serve(sim: Simulator) -> None:
    """Start, print the usage, log page events until SIGINT/SIGTERM, then close."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    sim.on_event = lambda line: print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
    await sim.start()
    try:
        print(usage_text(sim), flush=True)
        await stop.wait()
    finally:
        await sim.close()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    print("simulator stopped", flush=True)


def run_sim(args: argparse.Namespace, config: Config) -> int:
    port = getattr(args, "port", 0) or 0
    if not 0 <= port <= 65535:
        print(f"watui sim: --port must be a port number 0-65535, got {port}", file=sys.stderr)
        return EXIT_USAGE
    try:
        sim = Simulator(
            host=getattr(args, "host", None) or "127.0.0.1",
            port=port,
            state_dir=_state_dir(config),
            qr_rotate_ms=config.demo.qr_rotate_ms,
            qr_rotations=config.demo.qr_rotations,
            page=config.demo.page,
        )
        asyncio.run(serve(sim))
    except SimError as exc:
        print(f"watui sim: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))
    return 0
