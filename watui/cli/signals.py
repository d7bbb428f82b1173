"""What the signals do to a command: SIGINT/SIGTERM/SIGHUP stop it (or cancel it), SIGUSR1 reconnects (and
``headless_hints`` says so in the events a headless face prints).

Light on purpose: the commands that only talk to an owner (``watui send``, ``watui messages``) cancel on a
signal too, and must not load the session's code (Playwright) for it; the session is a SessionPort here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from watui.core.errors import WatuiError
from watui.core.events import HINT_TAKEOVER
from watui.core.models import ConnectionState

if TYPE_CHECKING:
    from watui.core.ports import SessionPort

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


def cancel_on_signals() -> asyncio.Event:
    """SIGINT/SIGTERM/SIGHUP cancel the running command; the runtime then closes the browser cleanly. The
    event returned is set when a signal did it."""
    task = asyncio.current_task()
    interrupted = asyncio.Event()

    def cancel() -> None:
        if not interrupted.is_set() and task is not None:
            interrupted.set()
            task.cancel()

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, cancel)
    return interrupted


def headless_hints(face: str) -> dict[str, str]:
    """A headless face's words for what the operator can do about an event (Event.shown): its SIGUSR1
    (reconnect_on_sigusr1) where the dashboard has its r key, and for serve the API's verb too."""
    extra = " or POST /api/whatsapp/reconnect" if face == "serve" else ""
    return {
        HINT_TAKEOVER: f"to take over: kill -USR1 {os.getpid()}{extra}, or set [whatsapp] takeover_on_conflict = true"
    }


def reconnect_on_sigusr1(session: SessionPort, say: Callable[[str], None], face: str) -> set[asyncio.Task[Any]]:
    """SIGUSR1 runs the reconnect verb (takes over a conflict, else restarts the browser): the headless
    faces' equivalent of the dashboard's r (their events say so: headless_hints). Returns the set holding
    the running verb tasks."""
    tasks: set[asyncio.Task[Any]] = set()

    async def run() -> None:
        taking_over = session.info.state is ConnectionState.CONFLICT
        say(f"watui {face}: SIGUSR1: {'taking over the session' if taking_over else 'reconnecting'}")
        try:
            result = await session.reconnect()
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
