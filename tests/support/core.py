"""Helpers for the live-core tests: a simulator per test, configs pointed at it, waiting for states."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from watui.config import Config, DemoSettings, ReconnectSettings, SessionSettings, WhatsAppSettings
from watui.core.events import Event
from watui.core.models import ConnectionState, SessionInfo
from watui.core.session.manager import SessionManager
from watui.sim.server import Simulator


def sim_config(tmp_path: Path, sim: Simulator, **session: Any) -> Config:
    """A config whose session lives in tmp_path, pointed at ``sim``, with test-sized timeouts."""
    settings = {
        "session_path": str(tmp_path / "sessions"),
        "session_timeout_ms": 20000,
        "browser_timeout_ms": 20000,
        "health_check_interval_ms": 60000,
        "max_init_retries": 1,
        **session,
    }
    return Config(
        session=SessionSettings(**settings),
        reconnect=ReconnectSettings(initial_delay_ms=500, max_delay_ms=2000, multiplier=2.0, jitter_ms=100),
        whatsapp=WhatsAppSettings(),
        demo=DemoSettings(qr_rotate_ms=sim.qr_rotate_ms if hasattr(sim, "qr_rotate_ms") else 20000),
        base_dir=tmp_path,
    ).with_sim(sim.port)


def with_whatsapp(config: Config, **changes: Any) -> Config:
    return replace(config, whatsapp=replace(config.whatsapp, **changes))


class Recorder:
    """Records every event of a manager and waits for a condition on the snapshot."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager
        self.events: list[Event] = []
        self._stream = manager.subscribe()
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self._stream:
            self.events.append(event)
            self._changed.set()

    async def until(self, check: Callable[[SessionInfo], bool], timeout: float = 30.0, what: str = "") -> SessionInfo:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not check(self.manager.info):
            remaining = deadline - loop.time()
            if remaining <= 0:
                states = [e.state.value for e in self.events if e.type == "state" and e.state]
                raise AssertionError(
                    f"timed out waiting for {what or check}; state {self.manager.info.state}, "
                    f"message {self.manager.info.message!r}, states seen {states}"
                )
            self._changed.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return self.manager.info

    async def state(self, state: ConnectionState, timeout: float = 30.0) -> SessionInfo:
        return await self.until(lambda info: info.state is state, timeout, f"state {state.value}")

    def states(self) -> list[ConnectionState]:
        return [e.state for e in self.events if e.type == "state" and e.state is not None]

    def close(self) -> None:
        self._stream.close()
        self._task.cancel()


@asynccontextmanager
async def started_manager(config: Config) -> AsyncIterator[tuple[SessionManager, Recorder]]:
    manager = SessionManager(config)
    await manager.start()
    recorder = Recorder(manager)
    try:
        yield manager, recorder
    finally:
        recorder.close()
        await manager.shutdown()
