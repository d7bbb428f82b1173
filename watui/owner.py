"""The owner process's composition root: build the session (and, with --demo, the simulator), start it, serve
it, shut it down. Every face that owns the session (the dashboard, ``watui watch``, ``watui init`` run here,
``watui serve``) enters it.

``async with session_runtime(config, demo=..., demo_port=..., face="watch") as rt`` gives ``rt.session``
(started, ownership taken; a SessionPort to the faces), ``rt.journal`` (the journal and the alert rules,
the faces' HistoryPort, handed to each face rather than looked up), ``rt.simulator`` (None unless
demo) and ``rt.control``. While the block runs the owner serves its API on the session's control socket
(``watui/api/control.py``), so other watuis attach to it. Leaving the block shuts the browser down
cleanly, closes the socket and stops the simulator, also on Ctrl-C. With ``[demo] sim = "HOST:PORT"``
(``--demo-sim``) the simulator is one already running there: watui checks that it answers, points the
browser at it and leaves it running, as the real site outlives watui (watui/demo.py, both cases).
The signals of a face (stop, cancel, SIGUSR1's reconnect) are the CLI's: watui/cli/signals.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watui.config import Config
from watui.core.disk.locks import OwnerLock
from watui.core.disk.store import SessionStore
from watui.core.errors import EnvironmentProblem
from watui.core.journal.service import Watchers, start_watchers
from watui.core.ports import MESSAGES, SessionPort
from watui.core.session.manager import SessionManager
from watui.demo import demo_config, running_simulator, start_simulator

if TYPE_CHECKING:
    from watui.api.control import ControlServer
    from watui.sim.client import SimClient
    from watui.sim.server import Simulator


@dataclass
class Runtime:
    """What the owner process holds while it runs: the faces' SessionPort, its journal, the demo's simulator and
    the control socket other watuis attach to (None when it could not be made: the owner then runs alone)."""

    config: Config
    session: SessionManager
    journal: Watchers | None = None  # the journal and alert rules (None only before they started)
    simulator: Simulator | SimClient | None = None
    control: ControlServer | None = None


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
        state = config.demo_state_dir
        try:
            state.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise EnvironmentProblem.from_os_error(
                exc, state, "cannot create the demo folder", "[demo] state_dir"
            ) from None
        # The owner lock before anything binds: of several watuis starting on the demo session at once (say
        # attached dashboards taking over a dead owner), the losers find the session taken (SessionBusyError:
        # they attach to the winner) instead of failing on --demo-port that the winner's simulator holds.
        owner = await _take_owner(config.for_demo(), "[demo] state_dir")
        try:
            simulator = own = await start_simulator(config, demo_port)
        except BaseException:
            await asyncio.to_thread(owner.release)
            raise
        config = demo_config(config, simulator.port)
    manager = SessionManager(config)
    watchers: Watchers | None = None
    control: ControlServer | None = None
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
        yield Runtime(config=config, session=manager, journal=watchers, simulator=simulator, control=control)
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
