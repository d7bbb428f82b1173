"""The dashboard on the real core and the simulator (real Chromium, real sockets): every key, end to end.

Built through ``session_runtime(config, demo=True)`` and ``build_app_for(runtime)``, exactly as ``watui --demo``
does; what is asserted is what the screen shows, the simulator's own state and the session on disk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.screen import decode_qr, idle, screen_text, wait_for
from watui.config import Config, DemoSettings, ReconnectSettings, SessionSettings
from watui.owner import Runtime, session_runtime
from watui.sim.server import Simulator
from watui.tui.app import WatuiApp, build_app_for
from watui.tui.screens.confirm_clear import ConfirmClear
from watui.tui.screens.help import HelpScreen

pytestmark = pytest.mark.browser
SIZE = (130, 45)  # room for the QR beside the panels


def demo_test_config(tmp_path: Path) -> Config:
    """``watui --demo``'s config with test-sized timeouts; a QR that does not rotate under the test."""
    return Config(
        session=SessionSettings(
            session_timeout_ms=20000, browser_timeout_ms=20000, health_check_interval_ms=60000, max_init_retries=1
        ),
        reconnect=ReconnectSettings(
            initial_delay_ms=500, max_delay_ms=2000, multiplier=2.0, jitter_ms=100, max_attempts=0
        ),
        demo=DemoSettings(qr_rotate_ms=120000, qr_rotations=6, state_dir=str(tmp_path / "demo")),
        base_dir=tmp_path,
    )


@pytest.fixture
async def runtime(tmp_path: Path, chromium_path: Path) -> AsyncIterator[Runtime]:
    async with session_runtime(demo_test_config(tmp_path), demo=True) as rt:
        yield rt


def sim_qr(rt: Runtime) -> str | None:
    assert isinstance(rt.simulator, Simulator)  # the owner's own simulator (not a client of another's)
    qr: str | None = rt.simulator.state()["qr"]
    return qr


async def connected(pilot: Any, app: WatuiApp) -> str:
    """Connected and settled: the next key acts on a quiet session."""
    await wait_for(pilot, app, lambda text: "State     ● CONNECTED" in text, 40, "the panel to say ● CONNECTED")
    await idle(pilot, app)
    return screen_text(app)


async def test_every_key_on_the_real_core(runtime: Runtime) -> None:
    app = build_app_for(runtime)
    assert runtime.simulator is not None
    async with app.run_test(size=SIZE) as pilot:
        # Opening initializes by itself: the simulator's QR is on screen and scans as its payload.
        text = await wait_for(pilot, app, lambda t: bool(decode_qr(app)), 40, "a scannable QR")
        assert decode_qr(app) == [sim_qr(runtime)]
        assert "▣ UNPAIRED" in text and "press s to scan it" in text

        await pilot.press("s")
        text = await connected(pilot, app)
        assert decode_qr(app) == []  # the QR made way for the panels
        assert isinstance(runtime.simulator, Simulator)
        assert runtime.simulator.state()["scans"] == 1
        info = app.info
        assert info.account is not None and info.account.number
        assert info.account.number in text

        await pilot.press("l")
        await pilot.pause()
        assert "Log (l hides)" not in screen_text(app)
        await pilot.press("l")

        await pilot.press("k")  # cleanup: closes the browser, cleans, starts it again
        await wait_for(pilot, app, lambda t: "✔ Cleaned: freed" in t, 40, "the cleanup result")
        await connected(pilot, app)

        await pilot.press("r")
        await wait_for(pilot, app, lambda t: "✔ Connected to WhatsApp Web" in t, 40, "the reconnect result")
        await connected(pilot, app)

        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")

        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmClear)
        quarantine = runtime.config.session_root / ".quarantine"
        assert f"{quarantine}/" in screen_text(app)
        await pilot.press("y")
        await wait_for(pilot, app, lambda t: "State     ○ UNLAUNCHED" in t, 40, "the cleared session")
        await idle(pilot, app)
        assert any(quarantine.iterdir())
        assert not runtime.config.profile_dir.exists()

        await pilot.press("i")
        text = await wait_for(pilot, app, lambda t: bool(decode_qr(app)), 40, "a new QR")
        assert decode_qr(app) == [sim_qr(runtime)]
        await pilot.press("s")
        await connected(pilot, app)

        await pilot.press("q")
        await pilot.pause()
    assert app.return_code == 0


async def test_reconnecting_shows_attempts_and_comes_back(runtime: Runtime) -> None:
    app = build_app_for(runtime)
    assert isinstance(runtime.simulator, Simulator)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, app, lambda t: bool(decode_qr(app)), 40, "a scannable QR")
        await pilot.press("s")
        await connected(pilot, app)
        await runtime.simulator.down()
        retrying = "State     ↻ RECONNECTING"
        text = await wait_for(pilot, app, lambda t: "↻ reconnect attempt" in t and retrying in t, 60, "retries")
        assert "✖ not healthy" in text
        await runtime.simulator.up()
        text = await connected(pilot, app)
        assert "✔ healthy" in text, text


async def test_quitting_closes_the_browser(tmp_path: Path) -> None:
    async with session_runtime(demo_test_config(tmp_path), demo=True) as rt:
        app = build_app_for(rt)
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, app, lambda t: "Browser   pid" in t, 40, "the browser's pid")
            pid = app.info.browser.pid if app.info.browser else None
            await pilot.press("q")
    assert pid is not None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
