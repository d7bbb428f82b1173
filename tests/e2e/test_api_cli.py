"""``watui serve`` as a user runs it: a real process, real signals, the simulator with --demo."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest

from tests.support.api import wait_for


def serve_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATUI_")}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "config"), **extra)
    return env


def run_watui(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "watui", *args],
        cwd=tmp_path,
        env=serve_env(tmp_path, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "example.org"])
def test_serving_beyond_loopback_without_a_token_is_refused_before_anything_starts(tmp_path: Path, host: str) -> None:
    done = run_watui(tmp_path, "serve", "--host", host, "--port", "0")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "[api] token" in lines[0] and host in lines[0], done.stderr
    assert not (tmp_path / "whatsapp-session-pro").exists()  # no session folder was touched


def test_a_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    done = run_watui(tmp_path, "serve", "--port", "70000")
    assert done.returncode == 2 and "0-65535" in done.stderr and "Traceback" not in done.stderr


def test_a_token_in_the_environment_allows_a_wide_bind_check(tmp_path: Path) -> None:
    # Refused without, accepted with: the error names the way out.
    done = run_watui(tmp_path, "serve", "--host", "0.0.0.0", "--port", "70000", WATUI_API__TOKEN="t0k")
    assert done.returncode == 2 and "[api] token" not in done.stderr and "0-65535" in done.stderr


class Served:
    def __init__(self, proc: subprocess.Popen[str], url: str, profile: Path) -> None:
        self.proc = proc
        self.url = url
        self.profile = profile


def browsers_on(profile: Path) -> list[int]:
    marker = f"--user-data-dir={profile}"
    out = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["status"] != psutil.STATUS_ZOMBIE and marker in cmdline:
            out.append(proc.pid)
    return out


def start_serve(tmp_path: Path, *args: str, port: str | None = "0") -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``watui serve --demo`` on ``--port port`` (None: the config's port); yields it and its API URL."""
    port_args = ["--port", port] if port is not None else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "watui", "serve", "--demo", *port_args, *args],
        cwd=tmp_path,
        env=serve_env(tmp_path),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = ""
        for line in proc.stderr:
            found = re.search(r"API on (http://\S+?)/api/whatsapp/", line)
            if found:
                url = found.group(1)
                break
        assert url, f"watui serve did not start (exit {proc.poll()})"
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.browser
async def test_api_port_0_in_the_config_serves_on_a_free_port_and_says_which(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[api]\nport = 0\n")
    for proc, url in start_serve(tmp_path, "--config", "config.toml", port=None):
        port = int(url.rsplit(":", 1)[1])
        assert port != 0
        async with aiohttp.ClientSession() as http, http.get(f"{url}/api/whatsapp/session-info") as res:
            assert res.status == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0


@pytest.fixture
def served(tmp_path: Path, chromium_path: Path) -> Iterator[Served]:
    profile = tmp_path / "state" / "watui" / "demo" / "session" / "session-whatsapp-automation-pro"
    for proc, url in start_serve(tmp_path):
        yield Served(proc, url, profile)


async def state_of(http: aiohttp.ClientSession, url: str) -> str:
    async with http.get(f"{url}/api/whatsapp/session-info") as res:
        body: dict[str, Any] = await res.json()
        return str(body["connection"]["state"])


async def until_state(http: aiohttp.ClientSession, url: str, state: str, timeout: float = 45.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (current := await state_of(http, url)) != state:
        assert loop.time() < deadline, f"still {current}, waiting for {state}"
        await asyncio.sleep(0.1)


@pytest.mark.browser
async def test_serve_demo_initializes_by_itself_connects_on_scan_and_stops_cleanly_on_sigterm(
    served: Served,
) -> None:
    async with aiohttp.ClientSession() as http:
        await until_state(http, served.url, "UNPAIRED")  # smart-initialize ran in the background
        async with http.get(f"{served.url}/api/whatsapp/qr.png") as res:
            assert res.status == 200
        async with http.post(f"{served.url}/api/demo/scan") as res:
            assert res.status == 200, await res.text()
        await until_state(http, served.url, "CONNECTED")
    assert len(browsers_on(served.profile)) >= 1
    served.proc.send_signal(signal.SIGTERM)
    assert served.proc.wait(timeout=30) == 0
    assert served.proc.stderr is not None
    log = served.proc.stderr.read()
    assert "state CONNECTED" in log and "stopped" in log and "Traceback" not in log
    await wait_for(lambda: not browsers_on(served.profile), what="the browser to exit")
    # The login survived the stop.
    assert (served.profile / "Default" / "IndexedDB" / "https_web.whatsapp.com_0.indexeddb.leveldb").is_dir()


@pytest.mark.browser
def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_watui(tmp_path, "serve", "--demo", "--port", str(port))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "in use" in lines[0], done.stderr
