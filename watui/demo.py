"""The demo's simulator, as watui starts it (``--demo``) or finds it running (``[demo] sim`` / ``--demo-sim``):
the one copy, used by the owner (watui/owner.py) and by ``watui doctor --demo`` (watui/cli/doctor.py).

The simulator (watui/sim/) shares no code with the core: it is imported here, lazily, and its errors are said
as watui's (SimulatorError), with the simulator's own one-line message and exit code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watui.config import Config
from watui.core.errors import WatuiError

if TYPE_CHECKING:
    from watui.sim.client import SimClient
    from watui.sim.server import Simulator


class SimulatorError(WatuiError):
    """The built-in simulator (--demo) could not start: its own one-line message."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def demo_config(config: Config, port: int, host: str = "127.0.0.1") -> Config:
    """The config pointed at the simulator: its own session folder, certificate errors allowed."""
    return config.for_demo().with_sim(port, host)


async def running_simulator(address: str) -> SimClient:
    """The simulator already running at ``address`` ([demo] sim / --demo-sim), once it answered."""
    from watui.config import parse_sim_address
    from watui.sim.client import SimClient
    from watui.sim.errors import SimError

    host, port = parse_sim_address(address)  # validated with the config
    client = SimClient(host, port)
    try:
        await client.state()
    except SimError as exc:
        raise SimulatorError(f"[demo] sim / --demo-sim: {exc}") from exc
    return client


async def start_simulator(config: Config, port: int | None) -> Simulator:
    """A simulator of our own on 127.0.0.1 (``port``, or any free one), its state in the demo folder and the
    ``[demo]`` settings (QR rotation, page flavour), started; the caller closes it."""
    from watui.sim.errors import SimError
    from watui.sim.server import Simulator

    try:
        simulator = Simulator(
            port=port or 0,
            state_dir=config.demo_state_dir / "sim",
            qr_rotate_ms=config.demo.qr_rotate_ms,
            qr_rotations=config.demo.qr_rotations,
            page=config.demo.page,
        )
        await simulator.start()
    except SimError as exc:  # the simulator shares no error class with the core: say it as watui's
        raise SimulatorError(str(exc), getattr(exc, "exit_code", 1)) from exc
    return simulator
