"""watui/core/daemon.py: a call that may never return runs in a daemon thread; its bug is an answer."""

from __future__ import annotations

import asyncio
import threading

from watui.core.daemon import in_daemon_thread


async def test_an_answer_comes_back_and_a_bug_is_the_answer_on_error_makes() -> None:
    assert await in_daemon_thread(lambda: "answered", lambda exc: f"bug: {exc}", "t") == "answered"

    def broken() -> str:
        raise ValueError("no such receiver")

    assert await in_daemon_thread(broken, lambda exc: f"bug: {exc}", "t") == "bug: no such receiver"


async def test_a_call_that_never_returns_holds_neither_the_loop_nor_exit() -> None:
    release = threading.Event()
    pending = in_daemon_thread(lambda: release.wait(60), lambda exc: False, "watui-test-hang")
    await asyncio.sleep(0.05)  # the loop runs on meanwhile
    assert not pending.done()
    hung = [t for t in threading.enumerate() if t.name == "watui-test-hang"]
    assert hung and all(t.daemon for t in hung)  # it would not hold the interpreter's exit
    release.set()
    assert await pending is True
