"""``watui --serve``: the dashboard and the HTTP API in one process, on one manager (one owner, two faces)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.tmux import WATUI, Tmux, browsers_using, free_port, wait_screen

pytestmark = pytest.mark.browser


async def api_get(port: int, path: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}{path}") as response:
        body: dict[str, Any] = await response.json()
        return body


async def wait_api_state(port: int, state: str, timeout: float = 60) -> dict[str, Any]:

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: dict[str, Any] = {}
    while loop.time() < deadline:
        try:
            last = await api_get(port, "/api/whatsapp/session-info")
            if last["connection"]["state"] == state:
                return last
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.3)
    raise AssertionError(f"the API never reported {state}; last {json.dumps(last)[:300]}")


async def test_dashboard_and_api_share_one_session(tmp_path: Path, tmux: Tmux) -> None:
    (tmp_path / "config.toml").write_text('[demo]\nqr_rotate_ms = 120000\nstate_dir = "demo"\n')
    api_port, sim_port = free_port(), free_port()
    command = (
        f"cd {tmp_path} && env -u COLUMNS -u LINES LANG=C.UTF-8 TERM=xterm-256color "
        f"XDG_STATE_HOME={tmp_path / 'state'} XDG_CONFIG_HOME={tmp_path / 'xdg'} "
        f"{WATUI} --serve --port {api_port} --demo --demo-port {sim_port} --config config.toml; "
        "echo WATUI-EXIT=$?; sleep 60"
    )
    tmux.start(command)
    info = await wait_api_state(api_port, "UNPAIRED")
    assert info["recommendations"]["needsQRScan"] is True
    await wait_screen(tmux, lambda t: "UNPAIRED" in t, "the dashboard showing the QR state")

    async with aiohttp.ClientSession() as http, http.post(f"http://127.0.0.1:{api_port}/api/demo/scan") as res:
        assert res.status == 200, await res.text()
    await wait_screen(tmux, lambda t: "● CONNECTED" in t, "the dashboard to show the scan made through the API")
    info = await wait_api_state(api_port, "CONNECTED")
    assert info["connection"]["isConnected"] is True
    assert len([p for p in browsers_using(tmp_path / "demo") if "--type=" not in " ".join(p.cmdline())]) == 1

    tmux.keys("q")
    text = await wait_screen(tmux, lambda t: "WATUI-EXIT=" in t, "watui to exit")
    assert "WATUI-EXIT=0" in text
    assert browsers_using(tmp_path / "demo") == []
    with pytest.raises(aiohttp.ClientError):
        await api_get(api_port, "/api/whatsapp/session-info")


def test_serve_beyond_loopback_without_a_token_is_refused_before_anything_starts(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[session]\nsession_path = "sessions"\n')
    done = subprocess.run(
        [sys.executable, "-m", "watui", "--serve", "--host", "0.0.0.0", "--config", "config.toml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "token" in done.stderr and "0.0.0.0" in done.stderr
    assert not (tmp_path / "sessions").exists()  # no session taken, no browser started
