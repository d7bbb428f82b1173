"""The dashboard on a fake session: every key, the greyed-out keys, the panels, the QR's three layouts.

Fast (no browser): ``FakeSession`` (tests/support/fakes.py) stands in for the core and records what the
keys asked of it.
The real core and simulator are driven in ``test_tui_real.py``.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from tests.support.fakes import SESSION_ROOT, FakeSession
from tests.support.screen import (
    DASHBOARD_RESULTS,
    FIXED_NOW,
    QR_PAYLOAD,
    FakeSimulator,
    at,
    connected_info,
    damaged_info,
    decode_qr,
    disk,
    empty_info,
    event,
    fixed_clock,
    qr_info,
    reconnecting_info,
    screen_text,
)
from watui.core.errors import ActionUnavailable
from watui.core.events import HINT_TAKEOVER
from watui.core.models import PROBLEM_LOCKED, ConnectionState, LockInfo, SessionInfo
from watui.tui.app import WatuiApp, build_app, build_app_for
from watui.tui.layout import qr_layout
from watui.tui.screens.confirm_clear import ConfirmClear
from watui.tui.screens.help import HelpScreen


def make_app(
    info: SessionInfo, *, simulator: FakeSimulator | None = None, auto: bool = False, clock: Any = fixed_clock
) -> tuple[WatuiApp, FakeSession]:
    manager = FakeSession(info, results=DASHBOARD_RESULTS)
    return build_app(manager, config=manager.config, simulator=simulator, clock=clock, auto_initialize=auto), manager


async def settle(pilot: Any, app: WatuiApp) -> None:
    """Let posted messages and workers run (no sleeps: wait for the workers, then for the messages)."""
    await pilot.pause()
    verbs = [w for w in app.workers if w.group.startswith("verb-")]
    if verbs:  # an empty list would mean "wait for every worker", the event stream included
        await app.workers.wait_for_complete(verbs)
    await pilot.pause()


# -- start ------------------------------------------------------------------------------------------
async def test_opening_initializes_once_and_shows_progress_until_done() -> None:
    app, manager = make_app(empty_info(), auto=True)
    manager.gates["initialize"] = asyncio.Event()
    async with app.run_test() as pilot:
        await pilot.pause()
        assert manager.verbs == ["initialize"]
        assert "Initializing…" in screen_text(app)
        assert app.check_action("reconnect", ()) is None  # greyed while initialize runs
        manager.gates["initialize"].set()
        await settle(pilot, app)
        assert "→ Scan the QR code" in screen_text(app)
        assert app.check_action("reconnect", ()) is True


async def test_a_damaged_session_is_not_touched_on_opening() -> None:
    app, manager = make_app(damaged_info(), auto=True)
    async with app.run_test() as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert manager.verbs == []
        assert "Valid  ✖ no: IndexedDB is corrupt" in text
        assert "[c] Session damaged (IndexedDB is corrupt): clear it" in text


async def test_a_session_held_by_another_process_is_not_touched_on_opening() -> None:
    held = disk(problems=(PROBLEM_LOCKED,), lock=LockInfo("live", pid=1234, name="node"))
    app, manager = make_app(SessionInfo(disk=held, updated_at=FIXED_NOW), auto=True)
    async with app.run_test() as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert manager.verbs == []
        assert "held by pid 1234 node" in text
        assert "pid 1234 (node) holds the session: stop it" in text


# -- keys -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "verb", "shown"),
    [
        ("i", "initialize", "→ Scan the QR code"),
        ("r", "reconnect", "✔ Connected"),
        ("k", "cleanup", "✔ Cleaned: freed 12.3 MB"),
    ],
)
async def test_verb_keys_call_the_core_and_report(key: str, verb: str, shown: str) -> None:
    app, manager = make_app(reconnecting_info())
    async with app.run_test() as pilot:
        await pilot.press(key)
        await settle(pilot, app)
        assert manager.verbs == [verb]
        assert shown in screen_text(app)


async def test_clear_asks_first_and_names_the_quarantine() -> None:
    app, manager = make_app(damaged_info())
    async with app.run_test() as pilot:
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmClear)
        assert f"{SESSION_ROOT}/.quarantine/" in screen_text(app)
        await pilot.press("n")
        await settle(pilot, app)
        assert manager.verbs == []
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("y")
        await settle(pilot, app)
        assert manager.verbs == ["clear"]
        assert f"✔ Session moved to {SESSION_ROOT}/.quarantine/" in screen_text(app)


async def test_clear_keeps_the_session_on_escape_and_enter() -> None:
    app, manager = make_app(damaged_info())
    async with app.run_test() as pilot:
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.press("c")
        await pilot.pause()
        await pilot.press("enter")  # the focused button is the safe one
        await settle(pilot, app)
        assert manager.verbs == []
        assert not isinstance(app.screen, ConfirmClear)


async def test_keys_are_blocked_behind_a_modal() -> None:
    app, manager = make_app(reconnecting_info())
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "clear: move the session to <session_path>/.quarantine/" in screen_text(app)
        await pilot.press("r")
        await pilot.press("escape")
        await settle(pilot, app)
        assert manager.verbs == []
        assert not isinstance(app.screen, HelpScreen)


async def test_scan_key_only_in_demo_and_only_with_a_qr() -> None:
    app, _ = make_app(qr_info())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert app.check_action("scan", ()) is False  # hidden outside the demo
        assert "Scan" not in screen_text(app).splitlines()[-1]
    simulator = FakeSimulator()
    app, _ = make_app(qr_info(), simulator=simulator)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert "s Scan" in screen_text(app).splitlines()[-1]
        await pilot.press("s")
        await settle(pilot, app)
        assert simulator.scans == 1
        assert "✔ QR scanned on the simulator" in screen_text(app)
    app, _ = make_app(connected_info(), simulator=FakeSimulator())
    async with app.run_test():
        assert app.check_action("scan", ()) is None  # nothing to scan: greyed


async def test_log_key_hides_and_shows_the_log() -> None:
    app, _ = make_app(connected_info())
    async with app.run_test() as pilot:
        assert "Log (l hides)" in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert "Log (l hides)" not in screen_text(app)
        await pilot.press("l")
        await pilot.pause()
        assert "Log (l hides)" in screen_text(app)


async def test_quit_key_exits() -> None:
    app, _ = make_app(connected_info())
    async with app.run_test() as pilot:
        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0
    assert not app.is_running


async def test_keys_the_core_refuses_are_greyed_and_do_nothing() -> None:
    app, manager = make_app(connected_info())
    manager.allowed = {"initialize"}
    async with app.run_test() as pilot:
        assert app.check_action("reconnect", ()) is None
        assert app.check_action("clean", ()) is None
        assert app.check_action("clear", ()) is None
        await pilot.press("r", "k", "c")
        await settle(pilot, app)
        assert manager.verbs == []
        assert not isinstance(app.screen, ConfirmClear)


async def test_a_failing_verb_is_reported_and_the_dashboard_stays() -> None:
    app, manager = make_app(reconnecting_info())
    manager.fail["reconnect"] = ActionUnavailable("cannot reconnect now: 'cleanup' is running")
    async with app.run_test() as pilot:
        await pilot.press("r")
        await settle(pilot, app)
        assert "✖ cannot reconnect now: 'cleanup' is running" in screen_text(app)
        assert app.is_running
        await pilot.press("k")
        await settle(pilot, app)
        assert manager.verbs == ["reconnect", "cleanup"]


# -- what the panels show ---------------------------------------------------------------------------
async def test_events_update_the_panels_and_log_newest_first() -> None:
    app, manager = make_app(reconnecting_info())
    async with app.run_test(size=(100, 30)) as pilot:
        manager.emit(event("retry", reconnecting_info(), 0, data={"attempt": 3, "delay_s": 7.0}))
        manager.emit(event("state", connected_info(), 2, state=ConnectionState.CONNECTED))
        await pilot.pause()
        await pilot.pause()
        text = screen_text(app)
        assert "● CONNECTED" in text
        assert "Demo Shop · +1 555 0100" in text
        assert "up 1h 02m" in text
        newest, older = text.index("12:00:02  ● CONNECTED"), text.index("12:00:00  ↻ reconnect attempt 3 in 7.0s")
        assert newest < older


async def test_a_conflict_says_how_to_take_over_with_the_dashboards_key() -> None:
    # The core gives the hint's kind (data["hint"]), not words: the dashboard says its own key.
    app, manager = make_app(connected_info())
    async with app.run_test(size=(120, 30)) as pilot:
        conflict = replace(connected_info(), state=ConnectionState.CONFLICT)
        message = "WhatsApp is open in another window"
        manager.emit(event("error", conflict, 1, message=message, data={"hint": HINT_TAKEOVER}))
        await pilot.pause()
        await pilot.pause()
        assert "✖ WhatsApp is open in another window; press r to take over" in screen_text(app)


async def test_session_panel_shows_size_against_the_limit_and_the_lock() -> None:
    app, _ = make_app(damaged_info())
    async with app.run_test() as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "74.2/200 MB" in text
        assert "1,234 · clean frees 12.3 MB" in text
        assert "stale (pid 999 gone)" in text


async def test_countdown_to_the_next_retry_follows_the_clock() -> None:
    now = [FIXED_NOW]
    app, _ = make_app(reconnecting_info(), clock=lambda: now[0])
    async with app.run_test() as pilot:
        assert "3 attempts · next in 7s" in screen_text(app)
        now[0] = at(5)
        app._tick()
        await pilot.pause()
        assert "3 attempts · next in 2s" in screen_text(app)


# -- the QR -----------------------------------------------------------------------------------------
def test_qr_layout_needs_room_for_code_caption_and_chrome() -> None:
    info = qr_info()
    assert qr_layout(info, 120, 40).mode == "beside"
    assert qr_layout(info, 60, 36).mode == "full"
    small = qr_layout(info, 80, 24)
    assert small.mode == "too_small" and small.need == (57, 33)
    assert qr_layout(replace(info, state=ConnectionState.CONNECTED), 120, 40).mode == "none"


@pytest.mark.parametrize("size", [(120, 40), (60, 36)])
async def test_the_drawn_qr_decodes_to_the_payload(size: tuple[int, int]) -> None:
    app, _ = make_app(qr_info())
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert decode_qr(app) == [QR_PAYLOAD]
        assert "Code #2 expires in 14s (at 12:00:14)" in text


async def test_qr_follows_rotation_resize_and_gives_way_once_connected() -> None:
    app, manager = make_app(qr_info())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Terminal too small for the QR: need 57x33, have 80x24" in screen_text(app)
        await pilot.resize_terminal(120, 40)
        await pilot.pause()
        assert "Terminal too small" not in screen_text(app)
        assert decode_qr(app) == [QR_PAYLOAD]
        rotated = replace(qr_info(QR_PAYLOAD.replace("Y", "Z")), qr_rotations=2, qr_expires_at=at(20))
        manager.emit(event("qr", rotated, 1, qr=rotated.qr))
        await pilot.pause()
        await pilot.pause()
        assert decode_qr(app) == [rotated.qr]
        assert "Code #3 expires in 20s" in screen_text(app)
        manager.emit(event("state", connected_info(), 2, state=ConnectionState.CONNECTED))
        await pilot.pause()
        await pilot.pause()
        assert decode_qr(app) == []
        assert "● CONNECTED" in screen_text(app)


async def test_qr_colours_are_black_on_white_whatever_the_theme() -> None:
    app, _ = make_app(qr_info())
    async with app.run_test(size=(120, 40)) as pilot:
        for theme in ("textual-dark", "textual-light"):
            app.theme = theme
            await pilot.pause()
            code = app.query_one("#qr-code")
            strip = code.render_line(3)
            styles = {
                (seg.style.color and seg.style.color.triplet, seg.style.bgcolor and seg.style.bgcolor.triplet)
                for seg in strip
                if seg.style
            }
            assert styles == {((0, 0, 0), (255, 255, 255))}


async def test_works_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = make_app(qr_info())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.no_color
        text = screen_text(app)
        assert "▣ UNPAIRED" in text
        assert decode_qr(app) == [QR_PAYLOAD]


def test_build_app_takes_a_runtime() -> None:
    class Runtime:
        def __init__(self) -> None:
            self.session = FakeSession(empty_info())
            self.simulator = FakeSimulator()
            self.config = self.session.config
            self.journal = None

    runtime = Runtime()
    app = build_app_for(runtime)
    assert app.manager is runtime.session and app.simulator is runtime.simulator
    assert app.session_root == SESSION_ROOT
    assert isinstance(app.clock(), datetime)


async def test_command_palette_lists_the_keys_that_can_act() -> None:
    app, manager = make_app(reconnecting_info())
    manager.allowed = {"reconnect"}
    async with app.run_test() as pilot:
        await pilot.pause()
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Reconnect (r)" in titles and "Log (l)" in titles
        assert "Clean (k)" not in titles and "Scan (s)" not in titles


async def test_keys_can_be_remapped_from_config_by_binding_id() -> None:
    from watui.config import KeySettings

    manager = FakeSession(connected_info())
    manager.config = replace(manager.config, keys=KeySettings(reconnect="f5", quit="ctrl+q"))
    app = build_app(manager, config=manager.config, clock=fixed_clock, auto_initialize=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")  # no longer bound
        await settle(pilot, app)
        assert manager.verbs == []
        await pilot.press("f5")
        await settle(pilot, app)
        assert manager.verbs == ["reconnect"]
        assert "f5" in screen_text(app).lower()  # the footer shows the key the operator chose
        await pilot.press("question_mark")
        await settle(pilot, app)
        help_lines = screen_text(app).splitlines()
        assert any("f5" in line and "reconnect: restart" in line for line in help_lines)
        assert any("^q" in line and "quit (closes" in line for line in help_lines)


async def test_while_watui_reconnects_by_itself_the_advice_says_so() -> None:
    app, manager = make_app(reconnecting_info())
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        assert "[r] watui is reconnecting by itself (attempt 3): retry now" in text
        assert "Valid session, not connected" not in text


async def test_a_login_chromium_has_not_written_yet_is_being_saved_while_connected() -> None:
    # Just scanned: the page is connected, and Chromium writes Local Storage some seconds later, so the last
    # disk report still says no login. The panel must not tell the operator the login is missing.
    from watui.core.models import PROBLEM_NO_LOGIN

    unsaved = disk(is_valid=False, problems=(PROBLEM_NO_LOGIN,),
                   validation_details="no WhatsApp login stored (a QR scan is needed)")  # fmt: skip
    app, manager = make_app(replace(connected_info(), disk=unsaved))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        text = screen_text(app)
        assert "login being saved" in text and "no WhatsApp login stored" not in text, text
        manager.emit(event("state", replace(qr_info(), disk=unsaved), state=ConnectionState.UNPAIRED))
        await settle(pilot, app)
        text = screen_text(app)  # not connected: the disk's own words again
        assert "no WhatsApp login stored" in text and "login being saved" not in text, text
