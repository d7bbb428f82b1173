"""``watui --demo`` in a real terminal: tmux runs the installed command, the test reads the screen.

The QR is read back from ``tmux capture-pane -p -e`` (half blocks painted in their colours → bitmap →
zxing-cpp, no inverted retry) and must equal the
simulator's own ``/__sim/state`` payload; ``s`` then connects, ``q`` quits with status 0 and the browser
is gone; a message from a contact (``/__sim/incoming``) shows in the Traffic panel. Run with TERM=screen
(16 colours, tmux's default) and with TERM=xterm-256color plus NO_COLOR.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.tmux import (
    HEIGHT,
    WATUI,
    WIDTH,
    Tmux,
    browsers_using,
    free_port,
    sim_incoming,
    sim_state,
    wait_screen,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]


@pytest.mark.parametrize(
    "env",
    [{"TERM": "screen"}, {"TERM": "xterm-256color", "NO_COLOR": "1"}],
    ids=["screen", "xterm-256color-NO_COLOR"],
)
async def test_watui_demo_in_tmux_shows_the_simulators_qr(tmp_path: Path, tmux: Tmux, env: dict[str, str]) -> None:
    (tmp_path / "config.toml").write_text('[demo]\nqr_rotate_ms = 120000\nstate_dir = "demo"\n')
    port = free_port()
    variables = {
        "LANG": "C.UTF-8",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        **env,
    }
    exports = " ".join(f"{name}={value}" for name, value in variables.items())
    # COLUMNS/LINES from the test runner would override the pane's real size.
    command = (
        f"cd {tmp_path} && env -u NO_COLOR -u COLUMNS -u LINES {exports} "
        f"{WATUI} --demo --demo-port {port} --config config.toml; echo WATUI-EXIT=$?; sleep 60"
    )
    tmux.start(command)

    text = await wait_screen(tmux, lambda t: bool(tmux.qr_codes()), "a scannable QR")
    state = await sim_state(port)
    assert tmux.qr_codes() == [state["qr"]]
    assert "UNPAIRED" in text and "press s to scan it" in text

    tmux.resize(80, 24)
    too_small = re.compile(r"Terminal too small for the QR: need \d+x\d+, have 80x24")
    await wait_screen(tmux, lambda t: bool(too_small.search(t)), "the size the QR needs")
    tmux.resize(WIDTH, HEIGHT)
    text = await wait_screen(tmux, lambda t: bool(tmux.qr_codes()), "the QR back after resizing")
    assert tmux.qr_codes() == [(await sim_state(port))["qr"]]

    tmux.keys("s")
    text = await wait_screen(tmux, lambda t: "State     ● CONNECTED" in t, "the connection")
    assert tmux.qr_codes() == []
    assert (await sim_state(port))["scans"] == 1
    # The Traffic panel (the demo session sends and receives): a contact writes, the panel counts it.
    assert "Traffic (m: messages)" in text and "Incoming none yet" in text
    await sim_incoming(port, "hi from tmux")
    text = await wait_screen(tmux, lambda t: "↓ 1 received" in t, "the incoming message in the Traffic panel")
    assert re.search(r"Incoming last \d+ s ago · webhook off", text)
    demo_folder = tmp_path / "demo"
    assert browsers_using(demo_folder), "the dashboard's browser should be running"

    tmux.keys("q")
    text = await wait_screen(tmux, lambda t: "WATUI-EXIT=" in t, "watui to exit")
    assert "WATUI-EXIT=0" in text
    assert browsers_using(demo_folder) == []
