"""SVG snapshots of the dashboard at 80x24 and 120x40 (fixed clock, fake core: the same on every run).

Update after a deliberate change of the look: ``.venv/bin/python -m pytest tests/tui/test_tui_snapshots.py
--snapshot-update``; the report (``snapshot_report.html``) shows the differences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.fakes import FakeSession
from tests.support.screen import (
    FakeSimulator,
    connected_info,
    damaged_info,
    fixed_clock,
    qr_info,
    reconnecting_info,
)
from watui.core.models import SessionInfo
from watui.tui.app import WatuiApp, build_app

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
