"""Page recognition figures on the simulator with a real browser, per page variant and per browser.

- per variant (modules, dom, canvas): cold start to the QR payload, restart to CONNECTED
- the pixels channel: screenshot + decode of one QR (goal < 150 ms)
- headless shell against full Chromium, side by side: PSS of the browser's processes with the QR shown,
  and cold start to the QR
- profile growth over 20 restarts of a logged-in session (goal < 5 MB)

Run: .venv/bin/python bench/bench_page.py [--restarts N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.core import sim_config, started_manager  # noqa: E402
from watui.config import Config  # noqa: E402
from watui.core.models import ConnectionState as S  # noqa: E402
from watui.sim.server import Simulator  # noqa: E402

BROWSERS = {"headless shell": "/usr/lib/chromium/chromium-headless-shell", "chromium": "/usr/bin/chromium"}


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def with_browser(config: Config, executable: str) -> Config:
    return replace(config, browser=replace(config.browser, executable=executable))


async def cold_start_to_qr(config: Config) -> tuple[float, float | None, int]:
    """Seconds to the QR payload, seconds for one pixel screenshot+decode (canvas page), browser PSS."""
    async with started_manager(config) as (manager, rec):
        t0 = time.perf_counter()
        await manager.smart_initialize()
        await rec.until(lambda i: i.qr is not None, 30, "the QR")
        took = time.perf_counter() - t0
        driver = manager.slot.driver
        assert driver is not None
        decode = None
        if manager.info.detection == "pixels":
            t1 = time.perf_counter()
            payload = await driver._screenshot_and_decode()
            decode = time.perf_counter() - t1
            assert payload == manager.info.qr
        await asyncio.sleep(1.0)  # let the renderer settle before sampling memory
        sample = await asyncio.to_thread(driver.sample)
        return took, decode, sample.rss_bytes if sample else 0


async def restart_to_connected(config: Config) -> float:
    async with started_manager(config) as (manager, _rec):
        t0 = time.perf_counter()
        result = await manager.smart_initialize()
        assert result.success, result
        return time.perf_counter() - t0


async def log_in(config: Config, sim: Simulator) -> None:
    async with started_manager(config) as (manager, rec):
        await manager.smart_initialize()
        await sim.scan()
        await rec.state(S.CONNECTED)


async def per_variant(folder: Path) -> None:
    print(f"{'variant':10} {'cold start to QR':>18} {'restart to CONNECTED':>22} {'pixel decode':>14}")
    for variant in ("modules", "dom", "canvas"):
        sim = Simulator(state_dir=folder / variant / "sim", page=variant)
        await sim.start()
        try:
            config = sim_config(folder / variant, sim)
            cold, decode, _pss = await cold_start_to_qr(config)
            await log_in(config, sim)
            restart = await restart_to_connected(config)
        finally:
            await sim.close()
        pixel = f"{decode * 1000:.0f} ms" if decode is not None else "—"
        print(f"{variant:10} {cold:>16.2f} s {restart:>20.2f} s {pixel:>14}")
    print("  goal: pixel decode < 150 ms")


async def per_browser(folder: Path) -> None:
    print(f"\n{'browser':16} {'PSS with the QR':>16} {'cold start to QR':>18}")
    for name, exe in BROWSERS.items():
        if not os.access(exe, os.X_OK):
            print(f"{name:16} {'not installed':>16}")
            continue
        sim = Simulator(state_dir=folder / name / "sim")
        await sim.start()
        try:
            config = with_browser(sim_config(folder / name, sim), exe)
            rounds = [await cold_start_to_qr(config) for _ in range(3)]
        finally:
            await sim.close()
        cold = statistics.median(r[0] for r in rounds)
        pss = statistics.median(r[2] for r in rounds) / (1024 * 1024)
        print(f"{name:16} {pss:>13.0f} MB {cold:>16.2f} s")


async def profile_growth(folder: Path, restarts: int) -> None:
    sim = Simulator(state_dir=folder / "growth" / "sim")
    await sim.start()
    try:
        config = sim_config(folder / "growth", sim)
        await log_in(config, sim)
        before = folder_bytes(config.profile_dir)
        for _ in range(restarts):
            await restart_to_connected(config)
        after = folder_bytes(config.profile_dir)
    finally:
        await sim.close()
    growth = (after - before) / (1024 * 1024)
    print(f"\nprofile growth over {restarts} restarts: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB "
          f"({growth:+.2f} MiB; goal < 5 MB)")  # fmt: skip


async def main(restarts: int) -> None:
    with tempfile.TemporaryDirectory(prefix="watui-bench-page-") as tmp:
        folder = Path(tmp)
        await per_variant(folder)
        await per_browser(folder)
        await profile_growth(folder, restarts)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--restarts", type=int, default=20)
    asyncio.run(main(parser.parse_args().restarts))
