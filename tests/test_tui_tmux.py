"""``watui --demo`` in a real terminal: tmux runs the installed command, the test reads the screen.

The QR is read back from ``tmux capture-pane -p -e`` (half blocks painted in their colours → bitmap →
zxing-cpp, no inverted retry) and must equal the
simulator's own ``/__sim/state`` payload; ``s`` then connects, ``q`` quits with status 0 and the browser
is gone; a message from a contact (``/__sim/incoming``) shows in the Traffic panel. Run with TERM=screen
(16 colours, tmux's default) and with TERM=xterm-256color plus NO_COLOR.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from tests.qr_decode import decode_ansi

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed"),
]
WATUI = Path(sys.executable).with_name("watui")
WIDTH, HEIGHT = 120, 45


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Tmux:
    """One private tmux server (its own socket), one window running one command."""

    def __init__(self, socket_name: str) -> None:
        self.base = ["tmux", "-L", socket_name, "-f", "/dev/null"]

    def run(self, *args: str) -> str:
        done = subprocess.run([*self.base, *args], check=True, capture_output=True, text=True, timeout=10)
        return done.stdout

    def start(self, command: str) -> None:
        self.run("new-session", "-d", "-x", str(WIDTH), "-y", str(HEIGHT), "-s", "watui", command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "watui")

    def qr_codes(self) -> list[str]:
        """The QR codes on the pane as it is painted (its colours captured with -e)."""
        return decode_ansi(self.run("capture-pane", "-p", "-e", "-t", "watui"))

    def resize(self, width: int, height: int) -> None:
        self.run("resize-window", "-t", "watui", "-x", str(width), "-y", str(height))

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "watui", *keys)

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    server = Tmux(f"watui-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield server
    finally:
        server.kill()


async def wait_screen(tmux: Tmux, check: Any, what: str, timeout: float = 60) -> str:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        text = tmux.screen()
        if check(text):
            return text
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}; the pane:\n{text}")
        await asyncio.sleep(0.5)


async def sim_state(port: int) -> dict[str, Any]:
    url = f"https://127.0.0.1:{port}/__sim/state"
    async with aiohttp.ClientSession() as http, http.get(url, ssl=False) as response:
        state: dict[str, Any] = await response.json()
        return state


async def sim_incoming(port: int, text: str) -> None:
    """A contact writes to the linked account (the simulator's ``POST /__sim/incoming``)."""
    url = f"https://127.0.0.1:{port}/__sim/incoming"
    body = {"from": "15550002001", "text": text}
    async with aiohttp.ClientSession() as http, http.post(url, json=body, ssl=False) as response:
        assert response.status < 300, await response.text()


def browsers_using(folder: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(folder) in cmdline and "--user-data-dir" in cmdline:
            found.append(proc)
    return found


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
