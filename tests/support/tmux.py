"""A private tmux server for a test: run the installed ``watui`` in a window, read the pane, send keys."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import psutil

from tests.support.qr_decode import decode_ansi
from tests.support.watui_proc import free_port as free_port  # the tmux tests' import of it

WATUI = Path(sys.executable).with_name("watui")
WIDTH, HEIGHT = 120, 45


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
