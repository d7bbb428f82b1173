"""The one writer of the session's snapshot (watui/core/session/state.py), as the faces read it from its events.

No browser: the state is driven as the session's services drive it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from watui.core.events import Event
from watui.core.models import ConnectionState as S
from watui.core.models import Health, SessionInfo
from watui.core.session.state import Intent, SessionState


async def _events(state: SessionState, act: Callable[[], object]) -> list[Event]:
    """The events ``act`` makes the state publish, in order."""
    stream = state.subscribe()
    act()
    stream.close()
    return [event async for event in stream]


async def test_a_state_is_said_once_and_a_qr_does_not_outlive_the_qr_states() -> None:
    state = SessionState(SessionInfo(state=S.UNPAIRED, qr="ref-1", health=Health(is_healthy=True)))
    state.remember(last_qr="ref-1")

    def act() -> None:
        state.set_state(S.UNPAIRED, "waiting")  # the same state again: no event
        state.set_state(S.PAIRING, "QR scanned")

    events = await _events(state, act)
    assert [(e.type, e.state, e.message) for e in events] == [("state", S.PAIRING, "QR scanned")]
    assert state.info.qr is None and state.page.last_qr is None  # a new QR after this one is news
    assert not state.info.health.is_healthy and state.info.message == "QR scanned"


async def test_a_failure_stops_the_wish_and_says_why() -> None:
    intent = Intent(want_running=True)
    state = SessionState(SessionInfo(state=S.RECONNECTING), intent)
    results = []
    events = await _events(state, lambda: results.append(state.fail("gave up: HTTP 503")))
    assert [(e.type, e.message) for e in events] == [("state", "gave up: HTTP 503"), ("error", "gave up: HTTP 503")]
    assert results[0].state is S.FAILED and not results[0].success and results[0].message == "gave up: HTTP 503"
    assert state.info.state is S.FAILED and not intent.want_running


async def test_waiting_for_the_page_ends_when_it_settles_or_the_browser_goes() -> None:
    state = SessionState(SessionInfo(state=S.OPENING))
    alive = True

    async def later() -> None:
        await asyncio.sleep(0.05)
        state.set_state(S.CONFLICT)  # ignored by this wait
        await asyncio.sleep(0.05)
        state.set_state(S.CONNECTED)

    task = asyncio.create_task(later())
    settled = await state.wait_settled(5, ignore={S.CONFLICT}, alive=lambda: alive)
    await task
    assert settled is S.CONNECTED

    state.set_state(S.OPENING)
    alive = False
    assert await asyncio.wait_for(state.wait_settled(5, alive=lambda: alive), 1) is None  # the browser is gone
    alive = True
    assert await state.wait_settled(0.05, alive=lambda: alive) is None  # not settled in time
