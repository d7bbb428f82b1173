"""Reconnect backoff as configured: each delay is the previous one times ``multiplier``, stops growing at
``max_delay_ms``, and carries up to ``jitter_ms`` of random delay, so many bots do not retry in step.

The browser is faked behind ``_recover_once`` (every attempt fails as a site answering 503 would) and the
sleeps are recorded instead of slept; the policy, the events and the give-up are the manager's own.
"""

from __future__ import annotations

from pathlib import Path

from watui.config import Config, ReconnectSettings, SessionSettings
from watui.core.errors import InitFailed
from watui.core.models import ConnectionState
from watui.core.session.manager import SessionManager


class UnreachableSite(SessionManager):
    """A manager whose every reconnect attempt fails, and whose backoff sleeps are only recorded."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self.slept: list[float] = []

    async def _recover_once(self, attempt: int, reason: str) -> bool:
        raise InitFailed("WhatsApp Web answered HTTP 503")

    async def _retry_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


async def test_reconnect_delays_grow_by_the_multiplier_carry_jitter_and_stop_at_the_cap(tmp_path: Path) -> None:
    reconnect = ReconnectSettings(initial_delay_ms=1000, multiplier=3.0, max_delay_ms=10000, jitter_ms=500,
                                  max_attempts=7)  # fmt: skip
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s")), reconnect=reconnect, base_dir=tmp_path)
    manager = UnreachableSite(config)
    stream = manager.subscribe()
    await manager._recover("WhatsApp Web lost its connection")
    stream.close()
    retries = [event async for event in stream if event.type == "retry"]

    bases = [1.0, 3.0, 9.0, 10.0, 10.0, 10.0]  # x3 each attempt, then the 10 s cap
    assert len(manager.slept) == len(bases) == len(retries)
    jitters = [slept - base for slept, base in zip(manager.slept, bases, strict=True)]
    assert all(0.0 <= jitter <= 0.5 for jitter in jitters), manager.slept
    assert len({round(jitter, 3) for jitter in jitters}) > 1, f"no jitter: {manager.slept}"
    assert any(jitter > 0 for jitter in jitters[3:]), f"no jitter at the cap: {manager.slept}"
    assert [event.data["delay_s"] for event in retries] == [round(s, 2) for s in manager.slept]
    assert manager.info.state is ConnectionState.FAILED
