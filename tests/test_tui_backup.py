"""The dashboard's `b` key and last-snapshot age, on the real core (no browser needed) and a real profile."""

from __future__ import annotations

from pathlib import Path

from conftest import SessionLayout
from tui_helpers import screen_text

from tests.core_helpers import started_manager
from watui.core import snapshots as sn
from watui.tui.app import build_app


async def test_b_takes_a_snapshot_and_the_session_panel_shows_its_age(
    session_layout: SessionLayout, tmp_path: Path
) -> None:
    key = tmp_path / "id.txt"
    sn.generate_identity(key)
    session_layout.config_path.write_text(
        session_layout.config_path.read_text() + f'\n[snapshots]\nidentity = "{key}"\n'
    )
    async with started_manager(session_layout.config()) as (manager, _):
        app = build_app(manager, auto_initialize=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert "Backup none yet (b: take one)" in screen_text(app)
            assert app.check_action("backup", ()) is True
            await pilot.press("b")
            for _ in range(200):  # the backup runs off the loop; wait until its line is on screen
                await pilot.pause(0.05)
                if "taken and verified" in screen_text(app):
                    break
            text = screen_text(app)
            snaps = sn.list_snapshots(session_layout.config())
            assert len(snaps) == 1 and snaps[0].verified
            assert f"Snapshot {snaps[0].id} taken and verified" in text
            assert "Backup ✔ " in text and " s ago" in text


async def test_without_a_key_the_b_key_is_hidden(session_layout: SessionLayout) -> None:
    async with started_manager(session_layout.config()) as (manager, _):
        app = build_app(manager, auto_initialize=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.check_action("backup", ()) is False
            assert "Backup" not in screen_text(app)
