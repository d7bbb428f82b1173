"""Idle cost of the live core with its default heartbeat and health check: CPU % of one core used by
watui (this process and its Playwright driver) and by the browser (the Chromium tree), connected with
nothing happening. Target (issue 9): the heartbeat keeps watui + browser under 2 % of one core.

The simulator runs in its own process (``watui sim``) so its work is not counted as watui's.

Run: .venv/bin/python bench/bench_idle_core.py [--seconds 30] [--settle 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.core import started_manager  # noqa: E402
from watui.config import Config, SessionSettings  # noqa: E402
from watui.core.browser.chromium import find_browser_processes  # noqa: E402
from watui.core.models import ConnectionState as S  # noqa: E402

CPU_TARGET_PERCENT = 2.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sim_call(port: int, path: str, method: str = "GET") -> dict[str, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the simulator's throwaway self-signed certificate
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def wait_for_sim(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            sim_call(port, "/__sim/state")
            return
        time.sleep(0.2)
    raise SystemExit("bench: the simulator did not start")


def cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


async def measure(folder: Path, port: int, seconds: float, settle: float, heartbeat_ms: int) -> dict[str, Any]:
    session = SessionSettings(session_path=str(folder / "sessions"), heartbeat_timeout_ms=heartbeat_ms)
    config = Config(session=session, base_dir=folder).with_sim(port)
    async with started_manager(config) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.needs_qr, result
        await asyncio.to_thread(sim_call, port, "/__sim/scan", "POST")
        await rec.state(S.CONNECTED, 60)
        await asyncio.sleep(settle)
        me = psutil.Process()
        browser = await asyncio.to_thread(find_browser_processes, config.profile_dir)
        browser_pids = {p.pid for p in browser}
        watui = [me, *(c for c in me.children(recursive=True) if c.pid not in browser_pids)]
        start = time.monotonic()
        watui_before, browser_before = cpu_seconds(watui), cpu_seconds(browser)
        await asyncio.sleep(seconds)  # idle: only the heartbeat, the samplers and the health check run
        elapsed = time.monotonic() - start
        watui_used, browser_used = cpu_seconds(watui) - watui_before, cpu_seconds(browser) - browser_before
        assert manager.info.state is S.CONNECTED, manager.info.state
    figures = {
        "seconds": round(elapsed, 1),
        "heartbeat_timeout_ms": config.session.heartbeat_timeout_ms,
        "health_check_interval_ms": config.session.health_check_interval_ms,
        "watui_cpu_percent": round(100 * watui_used / elapsed, 2),
        "browser_cpu_percent": round(100 * browser_used / elapsed, 2),
        "browser_processes": len(browser),
    }
    figures["total_cpu_percent"] = round(figures["watui_cpu_percent"] + figures["browser_cpu_percent"], 2)
    figures["cpu_ok"] = figures["total_cpu_percent"] < CPU_TARGET_PERCENT
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="sampling window (default 30: one health check)")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds connected before sampling (default 5)")
    parser.add_argument("--heartbeat-timeout-ms", type=int, default=SessionSettings().heartbeat_timeout_ms,
                        help="session.heartbeat_timeout_ms (default: the built-in default)")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
        folder = Path(tmp)
        env = {**os.environ, "XDG_CONFIG_HOME": str(folder / "cfg")}
        sim = subprocess.Popen(
            [sys.executable, "-m", "watui", "sim", "--port", str(port)],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_sim(port)
            figures = asyncio.run(measure(folder, port, args.seconds, args.settle, args.heartbeat_timeout_ms))
        finally:
            sim.terminate()
            sim.wait(10)
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"live core connected and idle over {figures['seconds']} s (heartbeat_timeout_ms "
        f"{figures['heartbeat_timeout_ms']}, health_check_interval_ms {figures['health_check_interval_ms']}):"
    )
    print(f"  watui (python + Playwright driver)   {figures['watui_cpu_percent']:5.2f} % of one core")
    print(
        f"  browser ({figures['browser_processes']} Chromium processes)     "
        f"{figures['browser_cpu_percent']:5.2f} % of one core"
    )
    verdict = "ok" if figures["cpu_ok"] else "OVER"
    print(
        f"  together                             {figures['total_cpu_percent']:5.2f} %  "
        f"(target < {CPU_TARGET_PERCENT:g} %: {verdict})"
    )


if __name__ == "__main__":
    main()
