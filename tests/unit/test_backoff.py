"""Reconnect backoff as configured: each delay is the previous one times ``multiplier``, stops growing at
``max_delay_ms``, and carries up to ``jitter_ms`` of random delay, so many bots do not retry in step.

The browser is faked behind the recovery's slot and launch gate (every start fails as a site answering 503
would) and the sleeps are recorded instead of slept; the policy, the events and the give-up are the
session's own ``Recovery`` and ``SessionState``.
"""

from __future__ import annotations

from pathlib import Path

from watui.config import Config, ReconnectSettings, SessionSettings
from watui.core.browser.driver import BrowserDriver
from watui.core.errors import InitFailed
from watui.core.models import ConnectionState, SessionInfo
from watui.core.session.recovery import Recovery
from watui.core.session.state import SessionState


class FailingSlot:
    """No browser, and every start of one fails as a site answering HTTP 503 does (slot and gate alike)."""

    driver: BrowserDriver | None = None

    def new_run(self) -> None:
        pass

    async def open(self, notes: list[str]) -> ConnectionState | None:
        raise InitFailed("WhatsApp Web answered HTTP 503")

    async def settled(self, state: ConnectionState | None, notes: list[str]) -> ConnectionState | None:
        raise AssertionError("no page is ever reloaded: there is no browser")

    async def answers(self, driver: BrowserDriver) -> bool:
        return False

    async def open_page(self) -> None:
        raise AssertionError("no page is ever reloaded: there is no browser")

    async def wait_settled(
        self, timeout_s: float, ignore: frozenset[ConnectionState] | set[ConnectionState] = frozenset()
    ) -> ConnectionState | None:
        return None

    async def unrecognised(self) -> bool:
        return False

    async def kill(self) -> None:
        pass

    async def close(self) -> None:
        pass


async def test_reconnect_delays_grow_by_the_multiplier_carry_jitter_and_stop_at_the_cap(tmp_path: Path) -> None:
    reconnect = ReconnectSettings(initial_delay_ms=1000, multiplier=3.0, max_delay_ms=10000, jitter_ms=500,
                                  max_attempts=7)  # fmt: skip
    config = Config(session=SessionSettings(session_path=str(tmp_path / "s")), reconnect=reconnect, base_dir=tmp_path)
    slept: list[float] = []

    async def recorded(seconds: float) -> None:
        slept.append(seconds)

    state = SessionState(SessionInfo())
    slot = FailingSlot()
    recovery = Recovery(state, slot, config.reconnect, 10.0, gate=slot, sleep=recorded)
    stream = state.subscribe()
    await recovery.run("WhatsApp Web lost its connection")
    stream.close()
    retries = [event async for event in stream if event.type == "retry"]

    bases = [1.0, 3.0, 9.0, 10.0, 10.0, 10.0]  # x3 each attempt, then the 10 s cap
    assert len(slept) == len(bases) == len(retries)
    jitters = [slept - base for slept, base in zip(slept, bases, strict=True)]
    assert all(0.0 <= jitter <= 0.5 for jitter in jitters), slept
    assert len({round(jitter, 3) for jitter in jitters}) > 1, f"no jitter: {slept}"
    assert any(jitter > 0 for jitter in jitters[3:]), f"no jitter at the cap: {slept}"
    assert [event.data["delay_s"] for event in retries] == [round(s, 2) for s in slept]
    assert state.info.state is ConnectionState.FAILED
