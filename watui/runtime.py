"""Wiring shared by every face: build the manager (and, with --demo, the simulator), start, shut down.

``async with session_runtime(config, demo=..., demo_port=...) as rt`` gives ``rt.manager`` (started,
ownership taken) and ``rt.simulator`` (None unless demo). Leaving the block shuts the browser down
cleanly and stops the simulator, also on Ctrl-C.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from watui.config import Config
from watui.core.errors import WatuiError
from watui.core.manager import SessionManager

if TYPE_CHECKING:
    from watui.sim.server import Simulator


class SimulatorError(WatuiError):
    """The built-in simulator (--demo) could not start: its own one-line message."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class Runtime:
    config: Config
    manager: SessionManager
    simulator: Simulator | None = None


def demo_state_dir(config: Config) -> Path:
    """Where --demo keeps its own session and the simulator's logins (never the real session)."""
    if config.demo.state_dir:
        return (config.base_dir / Path(config.demo.state_dir).expanduser()).resolve()
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "watui" / "demo"


def demo_config(config: Config, port: int) -> Config:
    """The config pointed at the simulator: its own session folder, certificate errors allowed."""
    state = demo_state_dir(config)
    session = replace(config.session, session_path=str(state / "session"))
    return replace(config, session=session, sim_port=port)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT and SIGTERM set ``stop``: the face then leaves the runtime, which closes the browser cleanly."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


@asynccontextmanager
async def session_runtime(
    config: Config, *, demo: bool = False, demo_port: int | None = None
) -> AsyncIterator[Runtime]:
    simulator: Simulator | None = None
    if demo:
        from watui.sim.server import Simulator

        state = demo_state_dir(config)
        state.mkdir(parents=True, exist_ok=True, mode=0o700)
        from watui.sim.errors import SimError

        try:
            simulator = Simulator(
                port=demo_port or 0,
                state_dir=state / "sim",
                qr_rotate_ms=config.demo.qr_rotate_ms,
                qr_rotations=config.demo.qr_rotations,
                page=config.demo.page,
            )
            await simulator.start()
        except SimError as exc:  # the simulator shares no error class with the core: say it as watui's
            raise SimulatorError(str(exc), getattr(exc, "exit_code", 1)) from exc
        config = demo_config(config, simulator.port)
    manager = SessionManager(config)
    try:
        await manager.start()
        yield Runtime(config=config, manager=manager, simulator=simulator)
    finally:
        await manager.shutdown()
        if simulator is not None:
            await simulator.close()
