"""The manager's own reactions, as the faces read them from its events: WhatsApp's blocking states are not
retried, the attempt count is the attempt in progress, the evidence of an unrecognised page goes once
connected, and the browser is recycled by age.

No browser: the page's reports are fed to the manager as the driver delivers them, and the launch is a
stand-in that fails the way a site that does not answer does.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from watui.config import Config
from watui.core.browser.contract import PageReport, map_state
from watui.core.errors import InitFailed
from watui.core.events import Event
from watui.core.models import ConnectionState as S
from watui.core.models import InitResult
from watui.core.session import liveness
from watui.core.session.manager import SessionManager

# WhatsApp's own states that mean "this account, network or browser is refused" (whatsapp-web.js WAState):
# reloading the page would only be refused again, and for a banned account look like a bot that insists.
BLOCKING = ("TOS_BLOCK", "SMB_TOS_BLOCK", "PROXYBLOCK", "DEPRECATED_VERSION")


def _manager(tmp_path: Path, **reconnect: int) -> SessionManager:
    config = Config(base_dir=tmp_path)
    settings = {"initial_delay_ms": 10, "max_delay_ms": 20, "jitter_ms": 0, "max_attempts": 3, **reconnect}
    return SessionManager(replace(config, reconnect=replace(config.reconnect, **settings)))


async def _settle(manager: SessionManager) -> None:
    for task in list(manager._tasks):
        task.cancel()
    await asyncio.gather(*manager._tasks, return_exceptions=True)
    await manager.recovery.cancel()


@pytest.mark.parametrize("wa_state", BLOCKING)
async def test_every_blocking_state_stops_the_session_instead_of_reloading(tmp_path: Path, wa_state: str) -> None:
    manager = _manager(tmp_path)
    manager.intent.want_running = True
    manager._on_report(PageReport(S.CONNECTED, detection="modules"))
    state, message = map_state(wa_state)
    manager._on_report(PageReport(state, detection="modules", message=message))
    try:
        info = manager.info
        assert info.state is S.BLOCKED and wa_state in info.message
        assert not manager.recovery.running and not manager.intent.want_running  # nothing reloads it
        assert "press r" not in info.message.lower()
    finally:
        await _settle(manager)


async def test_the_attempt_count_faces_read_is_the_attempt_in_progress(tmp_path: Path) -> None:
    manager = _manager(tmp_path, max_attempts=3)
    stream = manager.subscribe()
    seen: list[Event] = []
    during: list[int] = []

    async def collect() -> None:
        async for event in stream:
            seen.append(event)

    collector = asyncio.create_task(collect())

    async def site_not_answering() -> None:
        await asyncio.sleep(0.05)  # the faces' events arrive meanwhile
        during.append(seen[-1].info.health.reconnect_attempts)
        raise InitFailed("WhatsApp Web did not load within 45 s")

    manager.slot.launch = site_not_answering  # type: ignore[method-assign]
    manager.intent.want_running = True
    await asyncio.wait_for(manager.recovery.run("browser closed"), 10)  # as after a kill -9: no browser
    stream.close()
    collector.cancel()
    assert during == [1, 2, 3]
    assert manager.info.state is S.FAILED and "gave up after 3 reconnect attempts" in manager.info.message


async def test_the_evidence_of_an_unrecognised_page_goes_once_connected(tmp_path: Path) -> None:
    manager = _manager(tmp_path)
    folder = str(tmp_path / "diagnostics" / "20261201T080000.000000Z")
    manager.state.update(evidence=folder, state=S.UNRECOGNISED)
    assert manager.get_detailed_session_info()["connection"]["evidence"] == folder
    manager._on_report(PageReport(S.CONNECTED, detection="dom"))
    try:
        assert manager.info.state is S.CONNECTED
        assert manager.get_detailed_session_info()["connection"]["evidence"] is None
    finally:
        await _settle(manager)


async def test_a_browser_older_than_recycle_every_h_is_recycled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config(base_dir=tmp_path)
    config = replace(config, browser=replace(config.browser, recycle_every_h=2.0, recycle_min_interval_s=0))
    manager = SessionManager(config)
    recycled: list[str] = []

    async def recycle(self: liveness.Recycler, reason: str = "asked") -> InitResult:
        recycled.append(reason)
        self.note_launched()  # a new browser: young again
        return InitResult(True, False, "connected", S.CONNECTED)

    monkeypatch.setattr(liveness, "SAMPLE_INTERVAL_S", 0.01)
    monkeypatch.setattr(liveness.Recycler, "recycle", recycle)
    loops = [asyncio.create_task(manager.recycler.run())]
    try:
        manager.state.update(state=S.CONNECTED)
        manager.recycler.note_launched()
        await asyncio.sleep(0.1)
        assert recycled == []  # young: kept
        loop = asyncio.get_running_loop()
        manager.recycler.note_launched(loop.time() - 2.5 * 3600)  # as after 2.5 h of running
        for _ in range(100):
            if recycled:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
    finally:
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
    assert len(recycled) == 1 and "recycle_every_h = 2" in recycled[0], recycled
