"""Blocking work whose end nobody may wait for: a call to a receiver that may never answer (an alert's
webhook, command or Apprise URL; a message webhook's POST), run in a daemon thread of its own, so it holds
neither the event loop, the default executor nor watui's exit."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def in_daemon_thread(fn: Callable[[], T], on_error: Callable[[Exception], T], name: str) -> asyncio.Future[T]:
    """A future of ``fn()`` run in a daemon thread named ``name``; an exception of ``fn`` (a bug) becomes the
    answer ``on_error`` makes of it, never raised into the loop. A loop closed meanwhile is let be."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T) -> None:
        if not future.done():
            future.set_result(result)

    def run() -> None:
        try:
            result = fn()
        except Exception as exc:
            result = on_error(exc)
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
