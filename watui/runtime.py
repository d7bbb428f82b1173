"""Wiring shared by every face: build the manager (and, with --demo, the simulator), start, shut down.

``async with session_runtime(config, demo=..., demo_port=..., face="watch") as rt`` gives ``rt.manager``
(started, ownership taken; a SessionPort to the faces), ``rt.journal`` (the journal and the alert rules,
the faces' HistoryPort, handed to each face rather than looked up) and ``rt.simulator`` (None unless
demo). While the block runs the owner serves its API on the session's control socket
(``watui/api/control.py``), so other watuis attach to it. Leaving the block shuts the browser down
cleanly, closes the socket and stops the simulator, also on Ctrl-C. With ``[demo] sim = "HOST:PORT"``
(``--demo-sim``) the simulator is one already running there: watui checks that it answers, points the
browser at it and leaves it running, as the real site outlives watui.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from watui.config import Config
from watui.core.disk.locks import OwnerLock
from watui.core.disk.store import SessionStore
from watui.core.errors import EnvironmentProblem, WatuiError
from watui.core.events import HINT_TAKEOVER
from watui.core.journal.service import Watchers, start_watchers
from watui.core.models import ConnectionState
from watui.core.ports import MESSAGES, SessionPort
from watui.core.session.manager import SessionManager

if TYPE_CHECKING:
    from watui.sim.client import SimClient
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
    simulator: Simulator | SimClient | None = None
    journal: Watchers | None = None  # the journal and alert rules (None only before they started)


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


# The signals that stop a face cleanly. SIGHUP too: a closed SSH session or terminal, or a supervisor
# sending it, must not kill watui with the browser still holding the profile.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def stop_on_signals(stop: asyncio.Event) -> None:
    """SIGINT, SIGTERM and SIGHUP set ``stop``: the face then leaves the runtime, which closes the browser
    cleanly."""
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


def headless_hints(face: str) -> dict[str, str]:
    """A headless face's words for what the operator can do about an event (Event.shown): its SIGUSR1
    (reconnect_on_sigusr1) where the dashboard has its r key, and for serve the API's verb too."""
    extra = " or POST /api/whatsapp/reconnect" if face == "serve" else ""
    return {
        HINT_TAKEOVER: f"to take over: kill -USR1 {os.getpid()}{extra}, or set [whatsapp] takeover_on_conflict = true"
    }


def reconnect_on_sigusr1(manager: SessionManager, say: Callable[[str], None], face: str) -> set[asyncio.Task[Any]]:
    """SIGUSR1 runs the reconnect verb (takes over a conflict, else restarts the browser): the headless
    faces' equivalent of the dashboard's r (their events say so: headless_hints). Returns the set holding
    the running verb tasks."""
    tasks: set[asyncio.Task[Any]] = set()

    async def run() -> None:
        taking_over = manager.info.state is ConnectionState.CONFLICT
        say(f"watui {face}: SIGUSR1: {'taking over the session' if taking_over else 'reconnecting'}")
        try:
            result = await manager.reconnect()
        except WatuiError as exc:
            say(f"watui {face}: SIGUSR1: {exc}")
            return
        say(f"watui {face}: SIGUSR1: {result.message or result.state.value}")

    def on_signal() -> None:
        task = asyncio.create_task(run())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, on_signal)
    return tasks


async def _take_owner(config: Config, key: str) -> OwnerLock:
    """The session's owner lock (SessionBusyError when another watui has it)."""
    try:
        return await asyncio.to_thread(SessionStore(config).acquire_owner)
    except OSError as exc:  # read-only or full filesystem, a name too long: the environment, not a bug
        raise EnvironmentProblem.from_os_error(exc, config.session_root, "cannot take the session", key) from None


@asynccontextmanager
async def session_runtime(
    config: Config, *, demo: bool = False, demo_port: int | None = None, face: str = "watui"
) -> AsyncIterator[Runtime]:
    simulator: Simulator | SimClient | None = None
    own: Simulator | None = None  # started here, so stopped here
    owner: OwnerLock | None = None
    if demo and config.demo.sim:
        simulator = await running_simulator(config.demo.sim)
        config = demo_config(config, simulator.port, simulator.host)
    elif demo:
        from watui.sim.server import Simulator

        state = config.demo_state_dir
        try:
            state.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise EnvironmentProblem.from_os_error(
                exc, state, "cannot create the demo folder", "[demo] state_dir"
            ) from None
        from watui.sim.errors import SimError

        # The owner lock before anything binds: of several watuis starting on the demo session at once (say
        # attached dashboards taking over a dead owner), the losers find the session taken (SessionBusyError:
        # they attach to the winner) instead of failing on --demo-port that the winner's simulator holds.
        owner = await _take_owner(config.for_demo(), "[demo] state_dir")
        try:
            simulator = own = Simulator(
                port=demo_port or 0,
                state_dir=state / "sim",
                qr_rotate_ms=config.demo.qr_rotate_ms,
                qr_rotations=config.demo.qr_rotations,
                page=config.demo.page,
            )
            await own.start()
        except SimError as exc:  # the simulator shares no error class with the core: say it as watui's
            await asyncio.to_thread(owner.release)
            raise SimulatorError(str(exc), getattr(exc, "exit_code", 1)) from exc
        except BaseException:
            await asyncio.to_thread(owner.release)
            raise
        config = demo_config(config, simulator.port)
    manager = SessionManager(config)
    watchers: Watchers | None = None
    control = None
    try:
        try:
            await manager.start(owner=owner)
        except OSError as exc:  # read-only or full filesystem, a name too long: the environment, not a bug
            key = "[demo] state_dir" if demo else "[session] session_path"
            raise EnvironmentProblem.from_os_error(exc, config.session_root, "cannot take the session", key) from None
        # The journal and the alerts, for every face; the messaging rules read the session's traffic.
        traffic = manager.traffic if MESSAGES in manager.capabilities else None
        watchers = await start_watchers(config, manager, traffic)
        # The API module (aiohttp) is wiring, not core: imported here so the core never needs it.
        from watui.api.control import start_control

        control = await start_control(
            manager,
            config,
            face=face,
            simulator=simulator,
            on_problem=lambda why: manager.announce("error", message=why),
            history=watchers,
        )
        yield Runtime(config=config, manager=manager, simulator=simulator, journal=watchers)
    finally:
        await manager.shutdown()  # attached faces see the owner's last events, then the stream ends
        if control is not None:
            await control.close()
        if watchers is not None:
            await watchers.close()
        if own is not None:
            await own.close()


if TYPE_CHECKING:

    def _conforms(config: Config) -> SessionPort:
        return SessionManager(config)  # mypy: the owner's session is the faces' SessionPort
