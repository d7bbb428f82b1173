"""The dashboard's messaging face on a fake session: the Traffic panel (its words, read again on events and
only on events, a slow or failing traffic()), the m key's recent messages (metadata, bodies on t, following
the events), and nothing of it for a session without MESSAGES.

The real owner, and the attached dashboard on it over the control socket, are in
tests/e2e/test_tui_messages_real.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from textual.pilot import Pilot

from tests.support.fakes import FakeSession
from tests.support.screen import (
    BUSY_TRAFFIC,
    T0,
    MessagesFake,
    connected_info,
    fixed_clock,
    incoming,
    outgoing,
    reconnecting_info,
    screen_text,
    until,
)
from watui.config import KeySettings
from watui.core.events import Event
from watui.core.messages.port import Traffic
from watui.core.models import ConnectionState
from watui.tui.app import WatuiApp, build_app
from watui.tui.screens.help import HelpScreen
from watui.tui.screens.recent_messages import RECENT, RecentMessagesScreen, last_seq, messages_text, recent_page
from watui.tui.widgets.traffic_panel import TrafficPanel, TrafficView, traffic_text


def make_app(session: FakeSession) -> WatuiApp:
    return build_app(session, config=session.config, clock=fixed_clock, auto_initialize=False)


def traffic_calls(session: FakeSession) -> int:
    return session.verbs.count("traffic")


# -- the panel's words ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("figures", "lines"),
    [
        (
            BUSY_TRAFFIC,
            [
                "Outbox   ◌ 2 queued · ◔ 1 sending · oldest 12 s",
                "Last 1 h ✓ 41 sent · ✖ 2 failed · ↓ 17 received",
                "Incoming last 3 min ago · webhook ⚠ 3 waiting, oldest 5 min",
            ],
        ),
        (
            Traffic(at=T0),
            [
                "Outbox   ◌ 0 queued · ◔ 0 sending",
                "Last 1 h ✓ 0 sent · 0 failed · ↓ 0 received",
                "Incoming none yet · webhook off",
            ],
        ),
        (
            Traffic(at=T0, received=1, last_received_at=T0 - 5400, webhook=True),
            [
                "Outbox   ◌ 0 queued · ◔ 0 sending",
                "Last 1 h ✓ 0 sent · 0 failed · ↓ 1 received",
                "Incoming last 90 min ago · webhook ✔ 0 waiting",
            ],
        ),
        (
            Traffic(at=T0, webhook=True, webhook_backlog=7, webhook_error="connection refused"),
            [
                "Outbox   ◌ 0 queued · ◔ 0 sending",
                "Last 1 h ✓ 0 sent · 0 failed · ↓ 0 received",
                "Incoming none yet · webhook ✖ 7 waiting · failing: connection refused",
            ],
        ),
    ],
    ids=["busy", "quiet", "an-hour-and-a-half", "webhook-failing"],
)
def test_the_traffic_panel_says_each_figure_in_words(figures: Traffic, lines: list[str]) -> None:
    assert traffic_text(TrafficView(figures), fixed_clock()).plain.splitlines() == lines


def test_the_traffic_panel_gives_up_a_detail_before_cutting_a_count() -> None:
    narrow = traffic_text(TrafficView(BUSY_TRAFFIC), fixed_clock(), width=46).plain.splitlines()
    assert narrow[0] == "Outbox   ◌ 2 queued · ◔ 1 sending"  # "oldest 12 s" would not fit
    assert narrow[2] == "Incoming last 3 min ago · webhook ⚠ 3 waiting"
    narrower = traffic_text(TrafficView(BUSY_TRAFFIC), fixed_clock(), width=42).plain.splitlines()
    assert narrower[1:] == ["Last 1 h ✓41 sent ✖2 failed ↓17 received", "Incoming 3 min ago · webhook ⚠ 3 waiting"]
    assert all(len(line) <= 42 for line in narrower)  # beside the QR at its narrowest: no count cut


async def test_the_panel_shows_the_figures_at_80x24() -> None:
    session = MessagesFake(connected_info(), traffic=BUSY_TRAFFIC)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await until(pilot, app, lambda t: "41 sent" in t and "q Quit" in t, "the figures and the footer")
        assert "Traffic (m: messages)" in text
        assert "Outbox   ◌ 2 queued · ◔ 1 sending · oldest 12 s" in text
        assert "Last 1 h ✓ 41 sent · ✖ 2 failed · ↓ 17 received" in text
        assert "Incoming last 3 min ago · webhook ⚠ 3 waiting, oldest 5 min" in text
        assert "m Messages" in text  # the footer offers the key


# -- read on events, and only on events -----------------------------------------------------------------
async def test_each_message_ack_and_state_event_reads_the_traffic_again_and_nothing_else_does() -> None:
    session = MessagesFake(connected_info(), traffic=Traffic(at=T0))
    app = make_app(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app, lambda t: "✓ 0 sent" in t, "the first figures")
        assert traffic_calls(session) == 1
        session.results["traffic"] = Traffic(at=T0, sent=1)
        session.announce(outgoing(1, status="sent"))
        await until(pilot, app, lambda t: "✓ 1 sent" in t, "the figure after the ack")
        assert traffic_calls(session) == 2
        # Events that do not move the figures read nothing; nor does the time passing (no polling).
        session.publish("health")
        session.publish("disk")
        await pilot.pause(0.5)
        assert traffic_calls(session) == 2
        session.results["traffic"] = Traffic(at=T0, sent=1, received=1, last_received_at=T0 - 1)
        session.announce(incoming(1))
        await until(pilot, app, lambda t: "↓ 1 received" in t, "the figure after the message")
        assert traffic_calls(session) == 3
        session.emit(Event(type="state", info=reconnecting_info(), state=ConnectionState.RECONNECTING))
        await until(pilot, app, lambda t: "RECONNECTING" in t, "the state change")
        await pilot.pause(0.1)
        assert traffic_calls(session) == 4


async def test_a_slow_traffic_never_blocks_the_dashboard_and_events_meanwhile_make_one_more_reading() -> None:
    session = MessagesFake(connected_info(), traffic=Traffic(at=T0))
    gate = session.gates["traffic"] = asyncio.Event()
    app = make_app(session)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, app, lambda t: "reading the figures…" in t, "the panel waiting for its first reading")
        await pilot.press("l")  # the dashboard answers keys while traffic() hangs
        await until(pilot, app, lambda t: "Log (l hides)" not in t, "the log hidden")
        for n in range(5):
            session.announce(outgoing(n, status="sent"))
        await pilot.pause(0.2)
        assert traffic_calls(session) == 1  # one reading at a time
        session.results["traffic"] = Traffic(at=T0, sent=5)
        gate.set()
        await until(pilot, app, lambda t: "✓ 5 sent" in t, "the figures after the slow reading")
        await pilot.pause(0.2)
        assert traffic_calls(session) == 2  # the five events made one more reading, not five


async def test_a_traffic_that_raises_is_one_line_and_the_next_event_reads_again() -> None:
    session = MessagesFake(connected_info(), traffic=Traffic(at=T0))
    session.fail["traffic"] = OSError("/srv/watui/outbox.sqlite3: disk I/O error\nTraceback (most recent call last)")
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await until(pilot, app, lambda t: "cannot read" in t, "the error")
        assert "✖ cannot read the traffic: /srv/watui/outbox.sqlite3: disk I/O error" in text
        assert "Traceback" not in text
        assert "Outbox" not in text
        del session.fail["traffic"]
        session.announce(outgoing(1, status="sent"))
        text = await until(pilot, app, lambda t: "Outbox" in t, "the figures back")
        assert "cannot read" not in text


async def test_while_the_last_hour_counted_something_it_is_read_again_after_a_while() -> None:
    # What leaves the hour's window leaves the panel, without an event; a quiet session is not read again.
    for figures, more in ((Traffic(at=T0, sent=3), True), (Traffic(at=T0), False)):
        session = MessagesFake(connected_info(), traffic=figures)
        app = make_app(session)
        app.traffic_recount_s = 0.2
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.pause(1.0)
            assert (traffic_calls(session) > 2) is more, traffic_calls(session)


async def test_without_messages_there_is_no_panel_no_key_and_no_reading() -> None:
    session = FakeSession(connected_info())
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "Traffic" not in text and "Messages" not in text
        assert app.check_action("messages", ()) is False
        await pilot.press("m")
        await pilot.pause()
        assert not isinstance(app.screen, RecentMessagesScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "recent messages" not in screen_text(app) and "Traffic" not in screen_text(app)
        assert session.verbs == []
        assert not app.query(TrafficPanel)


async def test_the_help_lists_m_and_the_traffic_panel_with_messages() -> None:
    app = make_app(MessagesFake(connected_info()))
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = screen_text(app)
        assert "m  recent messages: the last 100 in and out" in text
        assert "Traffic          outbox queued / sending" in text


# -- the recent messages ----------------------------------------------------------------------------
KEPT = (
    outgoing(1, status="delivered"),
    incoming(2, chat="120363000000000001@g.us"),
    outgoing(3, status="failed", reason="expired"),
    outgoing(4, status="queued"),
)


async def open_messages(pilot: Pilot[int], app: WatuiApp) -> str:
    await pilot.press("m")
    for _ in range(100):
        await pilot.pause(0.05)
        if isinstance(app.screen, RecentMessagesScreen) and app.screen.cursor is not None:
            await pilot.pause()
            return screen_text(app)
    raise AssertionError(f"the messages were never read; the screen:\n{screen_text(app)}")


async def test_m_lists_the_messages_metadata_newest_last_and_escape_closes() -> None:
    session = MessagesFake(connected_info(), KEPT)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        text = await open_messages(pilot, app)
        assert isinstance(app.screen, RecentMessagesScreen)
        lines = [line.strip("│ ") for line in text.splitlines() if "chars" in line]
        assert lines == [
            "11:50:01  → 15550002001@c.us         ✓✓ delivered     19 chars",
            "11:50:02  ← 120363000000000001@g.us  ↓ received        9 chars",
            "11:50:03  → 15550002001@c.us         ✖ failed         19 chars · expired",
            "11:50:04  → 15550002001@c.us         ◌ queued         19 chars",
        ]
        assert "4 messages, newest last (→ outgoing, ← incoming)" in text
        assert "shipped" not in text and "hi back" not in text  # metadata only
        assert all(not kwargs["bodies"] for name, kwargs in session.calls if name == "messages")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, RecentMessagesScreen)


async def test_t_shows_the_texts_by_asking_for_the_bodies_and_hides_them_again() -> None:
    session = MessagesFake(connected_info(), KEPT)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_messages(pilot, app)
        asked = len(session.calls)
        await pilot.press("t")
        text = await until(pilot, app, lambda t: "order 1 has shipped" in t, "the texts")
        assert "hi back 2" in text and "t hides the texts" in text
        assert any(kwargs.get("bodies") for _, kwargs in session.calls[asked:])
        await pilot.press("t")
        text = await until(pilot, app, lambda t: "shipped" not in t, "the texts hidden")
        assert "t shows the texts" in text and "✓✓ delivered" in text
        # Shown and hidden again while the read with the texts hangs: they stay hidden when it ends.
        gate = session.gates["messages"] = asyncio.Event()
        await pilot.press("t")
        await pilot.pause(0.1)
        await pilot.press("t")
        gate.set()
        await pilot.pause(0.3)
        assert "shipped" not in screen_text(app) and "✓✓ delivered" in screen_text(app)


async def test_the_open_screen_follows_new_messages_and_acks() -> None:
    session = MessagesFake(connected_info(), KEPT)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_messages(pilot, app)
        session.announce(incoming(5, body="are you open?"))
        text = await until(pilot, app, lambda t: "11:50:05" in t, "the new message")
        rows = [line.strip("│ ") for line in text.splitlines() if "chars" in line]
        assert rows[-1] == "11:50:05  ← 15550002001@c.us         ↓ received       13 chars"  # newest last
        reads = session.verbs.count("messages")
        session.announce(replace(KEPT[3], status="read"))  # an ack of a message shown moves it at once
        text = await until(pilot, app, lambda t: "◌ queued" not in t, "the ack")
        assert "11:50:04  → 15550002001@c.us         ✓✓ read" in text
        assert session.verbs.count("messages") == reads  # no read for what the event says


async def test_events_during_a_read_are_applied_after_it_in_order() -> None:
    session = MessagesFake(connected_info(), KEPT)
    gate = session.gates["messages"] = asyncio.Event()
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        await pilot.pause(0.1)
        reads = session.verbs.count("messages")
        # While the first read hangs: message 4 is sent, then read, and a new one comes in.
        session.announce(replace(KEPT[3], status="sent"))
        session.announce(replace(KEPT[3], status="read"))
        session.announce(incoming(6))
        await pilot.pause(0.2)
        assert session.verbs.count("messages") == reads  # one read at a time: the events wait for it
        gate.set()
        text = await until(pilot, app, lambda t: "11:50:06" in t, "the message that came during the read")
        assert "11:50:04  → 15550002001@c.us         ✓✓ read" in text


async def test_the_screen_shows_the_last_hundred_read_in_a_few_calls() -> None:
    kept = tuple(outgoing(n, status="sent") for n in range(1, 301)) + tuple(incoming(n) for n in range(301, 351))
    session = MessagesFake(connected_info(), kept)
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await open_messages(pilot, app)
        screen = app.screen
        assert isinstance(screen, RecentMessagesScreen)
        assert [m.id for m in screen.shown] == [m.id for m in kept[-RECENT:]]
        assert session.verbs.count("messages") < 40  # not 350 messages read one page at a time


@pytest.mark.parametrize("count", [0, 1, 2, 3, 7, 8, 9, 64, 65, 1000])
async def test_last_seq_finds_the_newest_of_each_side(count: int) -> None:
    session = MessagesFake(connected_info(), tuple(outgoing(n) for n in range(count)) + (incoming(1),))
    assert await last_seq(session, "out") == count
    assert await last_seq(session, "in") == 1
    page = await recent_page(session, 5)
    by_time = sorted([*session.sides["out"], *session.sides["in"]], key=lambda m: (m.time, m.direction == "in"))
    assert [m.id for m in page.messages] == [m.id for m in by_time[-5:]]


async def test_a_read_that_fails_is_one_line_on_the_screen() -> None:
    session = MessagesFake(connected_info(), KEPT)
    session.fail["messages"] = OSError("inbox.sqlite3: database disk image is malformed\nmore")
    app = make_app(session)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("m")
        text = await until(pilot, app, lambda t: "cannot read" in t, "the error")
        assert "✖ cannot read the messages: inbox.sqlite3: database disk image is malformed" in text
        assert "more" not in text
        assert isinstance(app.screen, RecentMessagesScreen)  # still open, nothing crashed


def test_each_status_has_a_glyph_and_a_word() -> None:
    # claimed is "sending" to a reader; a status this face does not know yet is still said in words.
    rows = [replace(outgoing(1), status=status) for status in ("claimed", "sent", "bounced")]
    lines = messages_text(rows, fixed_clock(), False).plain.splitlines()[1:]
    assert ["◔ sending" in lines[0], "✓ sent" in lines[1], "? bounced" in lines[2]] == [True, True, True]


async def test_the_messages_key_is_remapped_from_the_config() -> None:
    session = MessagesFake(connected_info(), KEPT)
    config = replace(session.config, keys=KeySettings(messages="f6"))
    app = build_app(session, config=config, clock=fixed_clock, auto_initialize=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, app, lambda t: "Traffic (f6: messages)" in t, "the panel's title with the key")
        await pilot.press("f6")
        await pilot.pause(0.2)
        assert isinstance(app.screen, RecentMessagesScreen)
