"""The dashboard's `b` key and last-snapshot age, on the real core (no browser needed) and a real profile:
owning the session, and attached to the watui that owns it (the key acts through the owner's socket)."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from tests.support.core import started_manager
from tests.support.layout import SessionLayout
from tests.support.screen import screen_text
from watui.api.control import start_control
from watui.config import Config
from watui.core import snapshots as sn
from watui.remote.client import find_owner
from watui.remote.session import RemoteSession
from watui.tui.app import WatuiApp, build_app
from watui.tui.attached import AttachedApp


def _with_a_key(session_layout: SessionLayout, tmp_path: Path) -> Config:
    key = tmp_path / "id.txt"
    sn.generate_identity(key)
    session_layout.config_path.write_text(
        session_layout.config_path.read_text() + f'\n[snapshots]\nidentity = "{key}"\n'
    )
    return session_layout.config()


async def _press_b_and_read(pilot: Pilot[int], app: WatuiApp) -> str:
    await pilot.press("b")
    for _ in range(200):  # the backup runs off the loop; wait until its line is on screen
        await pilot.pause(0.05)
        if "taken and verified" in screen_text(app):
            break
    return screen_text(app)


async def test_b_takes_a_snapshot_and_the_session_panel_shows_its_age(
    session_layout: SessionLayout, tmp_path: Path
) -> None:
    config = _with_a_key(session_layout, tmp_path)
    async with started_manager(config) as (manager, _):
        app = build_app(manager, config=manager.config, auto_initialize=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert "Backup none yet (b: take one)" in screen_text(app)
            assert app.check_action("backup", ()) is True
            text = await _press_b_and_read(pilot, app)
            snaps = sn.list_snapshots(session_layout.config())
            assert len(snaps) == 1 and snaps[0].verified
            assert f"Snapshot {snaps[0].id} taken and verified" in text
            assert "Backup ✔ " in text and " s ago" in text


async def test_the_attached_dashboard_takes_a_snapshot_through_the_owner(
    session_layout: SessionLayout, tmp_path: Path
) -> None:
    # A second `watui` on a session another watui owns: its b asks the owner (POST /backup on the socket).
    config = _with_a_key(session_layout, tmp_path)
    async with started_manager(config) as (manager, _):
        control = await start_control(manager, config, face="watch")
        assert control is not None
        try:
            client = await find_owner(config)
            assert client is not None
            async with client:
                app = AttachedApp(RemoteSession(client, await client.status()), session_root=config.session_root)
                async with app.run_test(size=(120, 40)) as pilot:
                    await pilot.pause()
                    assert "Backup none yet (b: take one)" in screen_text(app)
                    assert app.check_action("backup", ()) is True
                    text = await _press_b_and_read(pilot, app)
                    snaps = sn.list_snapshots(config)
                    assert len(snaps) == 1 and snaps[0].verified
                    assert f"Snapshot {snaps[0].id} taken and verified" in text
                    # The owner took it (its manager's last snapshot), and its age reached this dashboard.
                    assert manager.last_snapshot is not None and manager.last_snapshot.id == snaps[0].id
                    for _ in range(100):
                        if "Backup ✔ " in screen_text(app):
                            break
                        await pilot.pause(0.05)
                    assert "Backup ✔ " in screen_text(app)
        finally:
            await control.close()


async def test_without_a_key_the_b_key_is_hidden(session_layout: SessionLayout) -> None:
    async with started_manager(session_layout.config()) as (manager, _):
        app = build_app(manager, config=manager.config, auto_initialize=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            assert app.check_action("backup", ()) is False
            assert "Backup" not in screen_text(app)
