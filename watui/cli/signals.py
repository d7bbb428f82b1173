"""What the signals do to a command: SIGINT/SIGTERM/SIGHUP stop it (or cancel it), SIGUSR1 reconnects (and
``headless_hints`` says so in the events a headless face prints).

``stop_on_signals``, ``reconnect_on_sigusr1`` and ``headless_hints`` still live in ``watui/runtime.py`` (the
owner's composition root, reworked there); the commands take them from here, so they move in one place.
"""

from __future__ import annotations

import asyncio
import contextlib

from watui.runtime import STOP_SIGNALS, headless_hints, reconnect_on_sigusr1, stop_on_signals

__all__ = ["STOP_SIGNALS", "cancel_on_signals", "headless_hints", "reconnect_on_sigusr1", "stop_on_signals"]


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
