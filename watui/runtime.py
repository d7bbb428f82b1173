"""Wiring shared by every face: build the manager (and, with --demo, the simulator), start, shut down.

``async with session_runtime(config, demo=..., demo_port=..., face="watch") as rt`` gives ``rt.manager``
(started, ownership taken) and ``rt.simulator`` (None unless demo). While the block runs the owner serves
its API on the session's control socket (``watui/api/control.py``), so other watuis attach to it. Leaving
the block shuts the browser down cleanly, closes the socket and stops the simulator, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watui.config import Config
from watui.core.manager import SessionManager

if TYPE_CHECKING:
    from watui.sim.server import Simulator


@dataclass
class Runtime:
    config: Config
    manager: SessionManager
    simulator: Simulator | None = None


def demo_config(config: Config, port: int) -> Config:
    """The config pointed at the simulator: its own session folder, certificate errors allowed."""
    return config.for_demo().with_sim(port)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop``: the face then leaves the runtime, which closes the browser cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@asynccontextmanager
async def session_runtime(
    config: Config, *, demo: bool = False, demo_port: int | None = None, face: str = "watui"
) -> AsyncIterator[Runtime]:
    simulator: Simulator | None = None
    if demo:
        from watui.sim.server import Simulator

        state = config.demo_state_dir
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        simulator = Simulator(
            port=demo_port or 0,
            state_dir=state / "sim",
            qr_rotate_ms=config.demo.qr_rotate_ms,
            qr_rotations=config.demo.qr_rotations,
        )
        await simulator.start()
        config = demo_config(config, simulator.port)
    manager = SessionManager(config)
    control = None
    try:
        await manager.start()
        # The API module (aiohttp) is wiring, not core: imported here so the core never needs it.
        from watui.api.control import start_control

        control = await start_control(manager, config, face=face, simulator=simulator)
        yield Runtime(config=config, manager=manager, simulator=simulator)
    finally:
        await manager.shutdown()  # attached faces see the owner's last events, then the stream ends
        if control is not None:
            await control.close()
        if simulator is not None:
            await simulator.close()
