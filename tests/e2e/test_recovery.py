"""Recovery as an operator reads it: why watui gave up, and what it does not retry.

Real Chromium and the real simulator (``/__sim/down`` answers 503) where the cause comes from the page;
a fake attempt where the point is what a programming error does to the retry loop.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support.core import sim_config, started_manager
from watui.config import Config
from watui.core.models import ConnectionState as S
from watui.core.session.manager import SessionManager
from watui.core.session.recovery import Recovery
from watui.sim.server import Simulator


def _quick_retries(config: Config, attempts: int) -> Config:
    reconnect = replace(config.reconnect, initial_delay_ms=200, max_delay_ms=500, jitter_ms=50, max_attempts=attempts)
    return replace(config, reconnect=reconnect, session=replace(config.session, session_timeout_ms=5000))


@pytest.mark.browser
async def test_give_up_message_names_the_last_real_cause(tmp_path: Path, sim: Simulator) -> None:
    async with started_manager(_quick_retries(sim_config(tmp_path, sim), 2)) as (manager, rec):
        result = await manager.smart_initialize()
        assert result.needs_qr, result
        await sim.scan()
        await rec.state(S.CONNECTED)
        await sim.down()  # closes the live connection; page loads now get HTTP 503
        info = await rec.state(S.FAILED, 60)
        assert "gave up after 2 reconnect attempts" in info.message, info.message
        assert "WhatsApp Web answered HTTP 503" in info.message, info.message
        for leak in ("RetryError", "Future", "InitFailed", "0x"):
            assert leak not in info.message, info.message
        retries = [e for e in rec.events if e.type == "retry"]
        assert retries and all("HTTP 503" in str(e.data.get("cause")) for e in retries), [e.data for e in retries]


async def test_a_programming_error_is_not_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _quick_retries(Config(base_dir=tmp_path), 5)
    manager = SessionManager(config)
    calls: list[int] = []

    async def broken_attempt(self: Recovery, attempt: int, reason: str) -> bool:
        calls.append(attempt)
        raise TypeError("'NoneType' object is not callable")

    monkeypatch.setattr(Recovery, "attempt", broken_attempt)
    await asyncio.wait_for(manager.recovery.run("WhatsApp Web lost its connection"), 10)
    assert calls == [1]
    assert manager.info.state is S.FAILED
    assert "internal error" in manager.info.message and "TypeError" in manager.info.message, manager.info.message
