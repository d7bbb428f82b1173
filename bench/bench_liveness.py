"""Liveness timings with the default timeouts (heartbeat 10 s, session_timeout 45 s), real Chromium on the
simulator: the Playwright driver stopped (SIGSTOP) to detected and to CONNECTED (killed with its browser,
nothing left behind), the network service stopped to detected, and a kill -9 of the browser while the
site takes 12 s to load (longer than the heartbeat) to CONNECTED. Prints each figure beside its goal.

Run: .venv/bin/python bench/bench_liveness.py
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.core import sim_config, started_manager  # noqa: E402
from watui.core.models import ConnectionState as S  # noqa: E402
from watui.core.session.manager import SessionManager  # noqa: E402
from watui.sim.server import Simulator  # noqa: E402

GOALS = {
    # Silent for heartbeat_timeout_ms since the last answer (up to one heartbeat, 2 s, before the stop).
    "driver SIGSTOP to detected": 10.5,
    # Detected, killed at once (no close timeouts), a new browser on the same profile.
    "driver SIGSTOP to CONNECTED": 15.0,
    # The network is asked every half timeout: up to 5 s before the stop, then 10 s of silence.
    "network service SIGSTOP to detected": 15.5,
    # The 12 s load is waited for, not killed: about the load plus a start.
    "kill -9 with a 12 s site to CONNECTED": 16.0,
}


def child_with(manager: SessionManager, flag: str) -> psutil.Process:
    assert manager.slot.driver is not None and manager.slot.driver.pid is not None
    for proc in psutil.Process(manager.slot.driver.pid).children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if flag in proc.cmdline():
                return proc
    raise RuntimeError(f"no browser process with {flag}")


async def run(folder: Path) -> dict[str, float]:
    sim = Simulator(state_dir=folder / "sim")
    await sim.start()
    config = sim_config(folder, sim, session_timeout_ms=45000, heartbeat_timeout_ms=10000)
    figures: dict[str, float] = {}
    try:
        async with started_manager(config) as (manager, rec):
            result = await manager.smart_initialize()
            assert result.needs_qr, result
            await sim.scan()
            await rec.state(S.CONNECTED)
            await asyncio.sleep(3)

            assert manager.slot.driver is not None and manager.slot.driver.driver_pid is not None
            driver = psutil.Process(manager.slot.driver.driver_pid)
            t0 = time.perf_counter()
            driver.send_signal(signal.SIGSTOP)
            try:
                await rec.until(lambda i: i.state is not S.CONNECTED, 60)
                figures["driver SIGSTOP to detected"] = time.perf_counter() - t0
                await rec.state(S.CONNECTED, 60)
                figures["driver SIGSTOP to CONNECTED"] = time.perf_counter() - t0
                assert not driver.is_running() or driver.status() == psutil.STATUS_ZOMBIE, "driver left behind"
            finally:
                with contextlib.suppress(psutil.Error):
                    driver.send_signal(signal.SIGCONT)
            await asyncio.sleep(3)

            network = await asyncio.to_thread(child_with, manager, "--utility-sub-type=network.mojom.NetworkService")
            t0 = time.perf_counter()
            network.send_signal(signal.SIGSTOP)
            try:
                await sim.drop()
                await rec.until(lambda i: i.state is not S.CONNECTED, 60)
                figures["network service SIGSTOP to detected"] = time.perf_counter() - t0
                await rec.state(S.CONNECTED, 60)
            finally:
                with contextlib.suppress(psutil.Error):
                    network.send_signal(signal.SIGCONT)
            await asyncio.sleep(3)

            await sim.slow(12000)
            assert manager.slot.driver is not None and manager.slot.driver.pid is not None
            t0 = time.perf_counter()
            os.kill(manager.slot.driver.pid, signal.SIGKILL)
            await rec.until(lambda i: i.state is not S.CONNECTED, 10)
            await rec.state(S.CONNECTED, 120)
            figures["kill -9 with a 12 s site to CONNECTED"] = time.perf_counter() - t0
    finally:
        await sim.close()
    return figures


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
        figures = await run(Path(tmp))
    print(f"liveness on the simulator, real Chromium, default timeouts ({os.cpu_count()} cores)")
    for name, value in figures.items():
        verdict = "ok" if value <= GOALS[name] else "OVER GOAL"
        print(f"  {name:<38} {value:6.2f} s   (goal < {GOALS[name]:g} s: {verdict})")


if __name__ == "__main__":
    asyncio.run(main())
