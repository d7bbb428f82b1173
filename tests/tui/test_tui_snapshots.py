"""SVG snapshots of the dashboard at 80x24 and 120x40 (fixed clock, fake core: the same on every run).

Update after a deliberate change of the look: ``.venv/bin/python -m pytest tests/tui/test_tui_snapshots.py
--snapshot-update``; the report (``snapshot_report.html``) shows the differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.support.fakes import FakeSession
from tests.support.screen import (
    BUSY_TRAFFIC,
    FakeSimulator,
    MessagesFake,
    connected_info,
    damaged_info,
    fixed_clock,
    incoming,
    outgoing,
    qr_info,
    reconnecting_info,
)
from watui.core.models import SessionInfo
from watui.tui.app import WatuiApp, build_app
from watui.tui.screens.recent_messages import RecentMessagesScreen

STATES: dict[str, Callable[[], SessionInfo]] = {
    "qr": qr_info,
    "connected": connected_info,
    "reconnecting": reconnecting_info,
    "damaged": damaged_info,
}


def app_for(state: str) -> WatuiApp:
    simulator = FakeSimulator() if state == "qr" else None
    session = FakeSession(STATES[state]())
    return build_app(session, config=session.config, simulator=simulator, clock=fixed_clock, auto_initialize=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("state", list(STATES))
def test_dashboard_snapshot(snap_compare: Any, state: str, size: tuple[int, int]) -> None:
    assert snap_compare(app_for(state), terminal_size=size)


def test_clear_confirmation_snapshot(snap_compare: Any) -> None:
    assert snap_compare(app_for("damaged"), press=["c"], terminal_size=(80, 24))


def test_help_snapshot(snap_compare: Any) -> None:
    assert snap_compare(app_for("connected"), press=["question_mark"], terminal_size=(80, 24))


# A session that sends and receives (MESSAGES): the Traffic panel under the panels, beside the QR too.
MESSAGING_STATES = {"connected": connected_info, "qr": qr_info}
KEPT = (
    outgoing(1, status="read"),
    incoming(2),
    outgoing(3, status="failed", reason="expired"),
    outgoing(4, status="queued"),
)


def messaging_app(state: str) -> WatuiApp:
    session = MessagesFake(MESSAGING_STATES[state](), KEPT, traffic=BUSY_TRAFFIC)
    simulator = FakeSimulator() if state == "qr" else None
    return build_app(session, config=session.config, simulator=simulator, clock=fixed_clock, auto_initialize=False)


async def _read_traffic(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, WatuiApp)
    for _ in range(50):  # the first reading runs in a worker: draw once it is in
        if app.traffic.figures is not None:
            break
        await pilot.pause(0.02)
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
@pytest.mark.parametrize("state", list(MESSAGING_STATES))
def test_traffic_panel_snapshot(snap_compare: Any, state: str, size: tuple[int, int]) -> None:
    assert snap_compare(messaging_app(state), terminal_size=size, run_before=_read_traffic)


async def _messages_screen(pilot: Pilot[Any], ready: Callable[[RecentMessagesScreen], bool]) -> None:
    for _ in range(50):
        screen = pilot.app.screen
        if isinstance(screen, RecentMessagesScreen) and ready(screen):
            break
        await pilot.pause(0.02)
    await pilot.pause()


async def _open_messages(pilot: Pilot[Any]) -> None:
    await pilot.press("m")
    await _messages_screen(pilot, lambda screen: screen.cursor is not None)


def test_recent_messages_snapshot(snap_compare: Any) -> None:
    assert snap_compare(messaging_app("connected"), terminal_size=(80, 24), run_before=_open_messages)


async def _open_messages_with_texts(pilot: Pilot[Any]) -> None:
    await _open_messages(pilot)
    await pilot.press("t")
    await _messages_screen(pilot, lambda screen: any(m.body for m in screen.shown))


def test_recent_messages_with_texts_snapshot(snap_compare: Any) -> None:
    assert snap_compare(messaging_app("connected"), terminal_size=(80, 24), run_before=_open_messages_with_texts)
