"""Make the docs' SVG screenshots of the real dashboard on the real core and the simulator.

``make screenshots`` (or ``.venv/bin/python scripts/screenshots.py [OUT_DIR]``) writes into docs/screenshots/
(inside the docs site, and shown by the README):
waiting for a scan (the QR), connected (its Traffic panel after a message each way), the recent messages
(``m``), reconnecting, a damaged session with its recommendation, and the QR on an 80x24 terminal (too
small: the size it needs). Everything runs in a temporary folder.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from watui.config import Config, DemoSettings, ReconnectSettings, SessionSettings
from watui.core.messages.port import Traffic
from watui.core.models import ConnectionState, SessionInfo
from watui.owner import Runtime, session_runtime
from watui.sim.server import Simulator
from watui.tui.app import WatuiApp, build_app_for

SIZE = (120, 40)
CONTACT = "15550002001"  # a number on the simulator's WhatsApp
IDB_CURRENT = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/CURRENT"


def demo_config(state_dir: Path) -> Config:
    return Config(
        session=SessionSettings(session_timeout_ms=30000, health_check_interval_ms=60000),
        reconnect=ReconnectSettings(initial_delay_ms=2000, max_delay_ms=8000, jitter_ms=200, max_attempts=0),
        demo=DemoSettings(qr_rotate_ms=120000, state_dir=str(state_dir)),
        base_dir=state_dir,
    )


async def until(pilot: object, app: WatuiApp, check: Callable[[SessionInfo], bool], what: str) -> None:
    """Let the app run until ``check(app.info)`` holds and no verb runs (60 s at most)."""
    for _ in range(300):
        if check(app.info) and app.busy is None:
            await pilot.pause(0.3)  # type: ignore[attr-defined]
            return
        await pilot.pause(0.2)  # type: ignore[attr-defined]
    raise SystemExit(f"screenshots: timed out waiting for {what} (state {app.info.state.value})")


async def until_traffic(pilot: object, app: WatuiApp, check: Callable[[Traffic], bool], what: str) -> None:
    """Let the app run until its Traffic panel's figures satisfy ``check`` (60 s at most)."""
    for _ in range(300):
        figures = app.traffic.figures
        if figures is not None and check(figures):
            await pilot.pause(0.3)  # type: ignore[attr-defined]
            return
        await pilot.pause(0.2)  # type: ignore[attr-defined]
    raise SystemExit(f"screenshots: timed out waiting for {what} (traffic {app.traffic})")


def save(app: WatuiApp, out: Path, name: str) -> None:
    app.save_screenshot(f"{name}.svg", str(out))
    print(f"screenshots: wrote {out / name}.svg")


async def login_shots(runtime: Runtime, out: Path) -> None:
    """The QR, beside the panels and on a terminal too small for it; then s links the session."""
    app = build_app_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app, lambda i: i.qr is not None, "the QR")
        save(app, out, "waiting-for-scan")
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        save(app, out, "qr-too-small-80x24")
        await pilot.resize_terminal(*SIZE)
        await pilot.press("s")
        await until(pilot, app, lambda i: i.state is ConnectionState.CONNECTED, "the connection")
        await pilot.press("q")


async def reopen_shots(runtime: Runtime, out: Path) -> None:
    """watui opened again on the saved session: connected without a QR, a message out and one in (the
    Traffic panel, then m: the recent messages), then the simulator goes down."""
    simulator = runtime.simulator
    assert isinstance(simulator, Simulator)
    app = build_app_for(runtime)
    async with app.run_test(size=SIZE) as pilot:
        await until(
            pilot, app, lambda i: i.state is ConnectionState.CONNECTED and i.browser is not None, "the connection"
        )
        await runtime.session.send_text(CONTACT, "Your order 12345 has shipped", key="order-12345")
        await until_traffic(pilot, app, lambda t: t.sent >= 1, "the message sent")
        await simulator.incoming(CONTACT, "Thanks! When does it arrive?")
        await until_traffic(pilot, app, lambda t: t.received >= 1, "the message received")
        save(app, out, "connected")
        await pilot.press("m")
        await pilot.pause(1.0)
        save(app, out, "recent-messages")
        await pilot.press("escape")
        await simulator.down()
        await until(
            pilot,
            app,
            lambda i: (
                i.state is ConnectionState.RECONNECTING
                and i.health.reconnect_attempts >= 2
                and i.health.next_retry_at is not None
            ),
            "reconnect attempts",
        )
        save(app, out, "reconnecting")
        await simulator.up()
        await until(pilot, app, lambda i: i.state is ConnectionState.CONNECTED, "the reconnection")
        await pilot.press("q")


async def damaged_shot(config: Config, out: Path) -> None:
    """A session whose login database lost its CURRENT file: the dashboard waits for c."""
    async with session_runtime(config, demo=True) as runtime:
        (runtime.config.profile_dir / IDB_CURRENT).write_bytes(b"")
        await runtime.session.refresh_disk()
        app = build_app_for(runtime)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, app, lambda i: i.should_clear_session, "the damaged session")
            save(app, out, "damaged-session")
            await pilot.press("q")


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="watui-shots-") as tmp:
        config = demo_config(Path(tmp) / "demo")
        async with session_runtime(config, demo=True) as runtime:
            await login_shots(runtime, out)
        async with session_runtime(config, demo=True) as runtime:
            await reopen_shots(runtime, out)
        await damaged_shot(config, out)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    asyncio.run(main(target))
