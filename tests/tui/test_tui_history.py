"""The dashboard's history view (h) on a real journal file, and the alert bar fed by alert events."""

from __future__ import annotations

from pathlib import Path

from tests.support.fakes import FakeSession
from tests.support.screen import connected_info, event, fixed_clock
from watui.core.journal.journal import Journal
from watui.core.journal.report import read_report
from watui.tui.app import WatuiApp
from watui.tui.screens.history import HistoryScreen, history_text, sparkline
from watui.tui.widgets.alert_bar import AlertBar

NOW = 1_800_000_000.0


def journal_with_an_incident(path: Path) -> None:
    j = Journal(path)
    j.open()
    for dt, kind, state, message in (
        (-3600, "start", "UNLAUNCHED", ""),
        (-3590, "state", "CONNECTED", ""),
        (-2000, "state", "TIMEOUT", "WhatsApp Web lost its connection"),
        (-1400, "state", "CONNECTED", ""),
    ):
        j.record(NOW + dt, kind, state, message)
    for i, dt in enumerate(range(-3580, 0, 600)):
        state = "TIMEOUT" if -2000 <= dt < -1400 else "CONNECTED"
        j.sample(NOW + dt, state, (70 + i) * 1048576, (300 + 10 * i) * 1048576, 1.0)
    j.close()


async def test_h_shows_uptime_the_strip_sparklines_and_the_incident(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    journal_with_an_incident(path)

    async def source() -> dict:  # type: ignore[type-arg]
        return read_report(path, since_s=86400, down_after_s=60, gap_s=600, now=NOW)

    app = WatuiApp(FakeSession(connected_info()), clock=fixed_clock, auto_initialize=False, history=source)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("h")
        await pilot.pause()
        assert isinstance(app.screen, HistoryScreen)
        text = ""
        for _ in range(200):  # the journal is read in a worker
            text = str(app.screen.query_one("#history-text").render())
            if "Uptime" in text:
                break
            await pilot.pause(0.02)
        assert "1 h 83.06 %" in text  # 3600 s watched, 10 + 600 s not connected
        assert "Incidents: 1" in text and "10 min 00 s" in text and "TIMEOUT: WhatsApp Web lost its connection" in text
        assert "▁▂▄▅▇█" in text  # size grows by the same step each sample
        assert "··▒▒" in text  # the strip's last hour: partly down, before it watui was not running
        await pilot.press("h")
        await pilot.pause()
        assert not isinstance(app.screen, HistoryScreen)


def test_history_text_without_a_journal_says_so() -> None:
    text = history_text({"exists": False, "file": "/srv/wa/.watui-bot.history.sqlite"}).plain
    assert "No history yet: /srv/wa/.watui-bot.history.sqlite" in text
    assert sparkline([1.0, None, 1.0]) == "▁ ▁"


async def test_the_alert_bar_shows_firing_alerts_and_hides_when_they_resolve() -> None:
    manager = FakeSession(connected_info())
    app = WatuiApp(manager, clock=fixed_clock, auto_initialize=False)
    async with app.run_test(size=(100, 30)) as pilot:
        bar = app.query_one(AlertBar)
        assert not bar.display or not bar.has_class("-firing")
        firing = {"alert": "qr_needed", "status": "firing", "session": "bot", "state": "UNPAIRED"}
        manager.emit(event("alert", connected_info(), message="logged out: scan a new QR", data=firing))
        await pilot.pause()
        assert bar.has_class("-firing") and bar.region.height == 1
        assert "⚑ ALERT qr_needed: logged out: scan a new QR" in str(bar.render())
        manager.emit(event("alert", connected_info(), message="connected again", data={**firing, "status": "resolved"}))
        await pilot.pause()
        assert not bar.has_class("-firing") and bar.region.height == 0


async def test_the_view_shows_the_session_size_of_now_not_zero_for_a_session_made_since(tmp_path: Path) -> None:
    # A fresh session: none on disk when watui starts (the first sample), 1.3 MB once logged in, and the view
    # opened before the next sample is due.
    from watui.config import Config, SessionSettings
    from watui.core.journal.service import start_watchers
    from watui.core.session.manager import SessionManager
    from watui.tui.app import history_source

    config = Config(session=SessionSettings(session_path=str(tmp_path / "s"), client_id="bot"), base_dir=tmp_path)
    manager = SessionManager(config)
    await manager.start()
    watchers = await start_watchers(config, manager)
    try:
        assert manager.info.disk is not None and not manager.info.disk.exists
        login = config.profile_dir / "Default" / "Local Storage" / "leveldb"
        login.mkdir(parents=True)
        (login / "000003.log").write_bytes(b"\1" * (1363149))  # 1.3 MB
        await manager.refresh_disk()
        source = history_source(watchers, config)
        assert source is not None
        text = str(history_text(await source()))
    finally:
        await manager.shutdown()  # as the runtime does: the manager first, which ends the watchers' stream
        await watchers.close()
    assert "Session size" in text and "1.3 → 1.3 MB" in text, text
