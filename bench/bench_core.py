"""Live-core timings on the simulator with a real Chromium: cold start to QR, restart to CONNECTED,
drop to detected, kill -9 to CONNECTED, every Chromium process stopped (SIGSTOP) to detected and to
CONNECTED on a new browser (the default heartbeat; the health check is 60 s away). Prints the median of
a few rounds beside each goal.

Run: .venv/bin/python bench/bench_core.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.core import sim_config, started_manager  # noqa: E402
from watui.core.models import ConnectionState as S  # noqa: E402
from watui.core.models import InitResult  # noqa: E402
from watui.core.session.manager import SessionManager  # noqa: E402
from watui.sim.server import Simulator  # noqa: E402

GOALS = {
    "cold start to QR": 3.0,
    "restart to CONNECTED": 3.0,
    "drop to detected": 1.0,
    "kill -9 to CONNECTED": 5.0,
    # Silent for session.heartbeat_timeout_ms (10 s by default) since its last answer, which came up to one
    # heartbeat (2 s) before the stop: 8-10 s, plus the event loop's lag.
    "SIGSTOP to detected": 10.5,
    "SIGSTOP to CONNECTED": 15.0,
}


async def timed_initialize(manager: SessionManager) -> tuple[float, InitResult]:
    t0 = time.perf_counter()
    result = await manager.smart_initialize()
    return time.perf_counter() - t0, result


def browser_tree(manager: SessionManager) -> list[psutil.Process]:
    """Every Chromium process of the manager's browser (blocking: psutil)."""
    assert manager.slot.driver is not None and manager.slot.driver.pid is not None
    main = psutil.Process(manager.slot.driver.pid)
    return [main, *main.children(recursive=True)]


async def one_round(folder: Path) -> dict[str, float]:
    sim = Simulator(state_dir=folder / "sim")
    await sim.start()
    config = sim_config(folder, sim)
    figures: dict[str, float] = {}
    try:
        async with started_manager(config) as (manager, rec):
            figures["cold start to QR"], result = await timed_initialize(manager)
            assert result.needs_qr, result
            await sim.scan()
            await rec.state(S.CONNECTED)

        async with started_manager(config) as (manager, rec):
            figures["restart to CONNECTED"], result = await timed_initialize(manager)
            assert result.success, result

            t0 = time.perf_counter()
            await sim.drop()
            await rec.state(S.TIMEOUT, 10)
            figures["drop to detected"] = time.perf_counter() - t0
            await rec.state(S.CONNECTED, 30)
            await asyncio.sleep(0.5)

            pid = manager.slot.driver.pid if manager.slot.driver else None
            assert pid is not None
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            await rec.until(lambda i: i.state is not S.CONNECTED, 10)
            await rec.state(S.CONNECTED, 30)
            figures["kill -9 to CONNECTED"] = time.perf_counter() - t0
            await asyncio.sleep(0.5)

            # Frozen: every Chromium process stopped; only the heartbeat notices.
            frozen = await asyncio.to_thread(browser_tree, manager)
            t0 = time.perf_counter()
            for proc in frozen:
                proc.send_signal(signal.SIGSTOP)
            try:
                await rec.state(S.RECONNECTING, 60)
                figures["SIGSTOP to detected"] = time.perf_counter() - t0
                await rec.state(S.CONNECTED, 60)
                figures["SIGSTOP to CONNECTED"] = time.perf_counter() - t0
            finally:
                for proc in frozen:
                    with contextlib.suppress(psutil.Error):
                        proc.send_signal(signal.SIGCONT)
    finally:
        await sim.close()
    return figures


async def main(rounds: int) -> None:
    results: dict[str, list[float]] = {name: [] for name in GOALS}
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
            for name, value in (await one_round(Path(tmp))).items():
                results[name].append(value)
    print(f"live core on the simulator, real Chromium, median of {rounds} rounds ({os.cpu_count()} cores)")
    for name, values in results.items():
        median = statistics.median(values)
        verdict = "ok" if median <= GOALS[name] else "OVER GOAL"
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:<22} {median:6.2f} s   (goal < {GOALS[name]:g} s: {verdict}; runs {runs})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args().rounds))
