"""A watui owner and a simulator as separate processes, for messaging end to end (tests/e2e/test_messages_e2e.py)
and its benchmark (bench/bench_owner_send.py): `watui sim --port 0` (the site, which outlives watui), and
`watui --demo --demo-sim ADDRESS watch --jsonl` reached on its control socket with plain HTTP."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.support.watui_proc import WATUI
from watui.api.paths import reachable

CONTACTS = ("15550002001", "15550002002", "15550002003")
SESSION = Path("state/watui/demo/session")
SOCKET = SESSION / ".watui-whatsapp-automation-pro.sock"
PROFILE = SESSION / "session-whatsapp-automation-pro"
CONFIG = """
[messages]
max_per_minute = 600
min_gap_per_chat_s = 0
"""


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, http.client.HTTPException):
            last = None
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with reachable(self.socket_path) as address:
            sock.connect(address)
        self.sock = sock


@dataclass
class Site:
    """`watui sim --port 0`: the WhatsApp Web that outlives every watui of the test."""

    proc: subprocess.Popen[str]
    url: str

    @property
    def address(self) -> str:
        return self.url.removeprefix("https://")

    def call(self, path: str, method: str = "GET", payload: Any = None) -> dict[str, Any]:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(self.url + path, method=method, data=data)
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return dict(json.loads(response.read()))

    def received(self) -> list[dict[str, Any]]:
        """What the contacts received, in the order the server took it."""
        return list(self.call("/__sim/messages")["messages"])


@dataclass
class Owner:
    """`watui --demo --demo-sim ADDRESS watch --jsonl` (or ``command``, e.g. `serve --port N`) in ``cwd``,
    restartable; its events in ``events``."""

    cwd: Path
    site: Site
    env: dict[str, str]
    command: tuple[str, ...] = ("watch", "--jsonl")
    proc: subprocess.Popen[str] | None = None
    runs: list[subprocess.Popen[str]] = field(default_factory=list)

    def start(self) -> None:
        out = (self.cwd / f"events-{len(self.runs)}.jsonl").open("w")
        self.proc = subprocess.Popen(
            [*WATUI, "--demo", "--demo-sim", self.site.address, *self.command],
            cwd=self.cwd, env=self.env, text=True, stdout=out, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        out.close()
        self.runs.append(self.proc)
        wait_until(lambda: (self.cwd / SOCKET).exists() and self.api("GET", "/api/whatsapp/session-info")[0] == 200,
              "the owner's control socket")  # fmt: skip

    def api(self, method: str, path: str, payload: Any = None) -> tuple[int, Any]:
        conn = _UnixHTTP(self.cwd / SOCKET)
        try:
            body = None if payload is None else json.dumps(payload)
            conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            return response.status, json.loads(response.read() or b"null")
        finally:
            conn.close()

    def state(self) -> str:
        return str(self.api("GET", "/api/whatsapp/session-info")[1]["connection"]["state"])

    def send(self, to: str, text: str) -> dict[str, Any]:
        status, body = self.api("POST", "/api/whatsapp/messages", {"to": to, "text": text})
        assert status == 202, body
        return dict(body)

    def message(self, message_id: str) -> dict[str, Any]:
        status, body = self.api("GET", f"/api/whatsapp/messages/{message_id}")
        assert status == 200, body
        return dict(body)

    def events(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        for n in range(len(self.runs)):
            text = (self.cwd / f"events-{n}.jsonl").read_text()
            lines.extend(json.loads(line) for line in text.splitlines() if line.strip())
        return lines

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def browsers(self) -> list[psutil.Process]:
        marker = f"--user-data-dir={self.cwd / PROFILE}"
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            with contextlib.suppress(psutil.Error):
                if any(marker == arg or arg.startswith(marker) for arg in proc.info["cmdline"] or []):
                    found.append(proc)
        return found

    def signal_browsers(self, signum: int) -> None:
        for proc in self.browsers():
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signum)


@contextmanager
def running_site(folder: Path) -> Iterator[Site]:
    """`watui sim --port 0` with its state in ``folder``; stopped on exit."""
    env = {**os.environ, "XDG_STATE_HOME": str(folder / "simstate"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([*WATUI, "sim", "--port", "0"], cwd=folder, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert proc.stdout is not None
        url = ""
        while not url:
            line = proc.stdout.readline()
            assert line, "watui sim ended before saying where it listens"
            url = next((w for w in line.split() if w.startswith("https://127.0.0.1:")), "")
        yield Site(proc, url)
    finally:
        _stop(proc)


@contextmanager
def connected_owner(
    folder: Path, site: Site, config: str = CONFIG, command: tuple[str, ...] = ("watch", "--jsonl")
) -> Iterator[Owner]:
    """A `watch` owner (or ``command``) in ``folder`` with ``config``, connected (its QR scanned on ``site``);
    stopped on exit with every browser it left."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(config)
    env = {**os.environ, "XDG_STATE_HOME": str(folder / "state"), "XDG_CONFIG_HOME": str(folder / "config"),
           "PYTHONUNBUFFERED": "1"}  # fmt: skip
    watui = Owner(folder, site, env, command)
    try:
        watui.start()
        wait_until(lambda: site.call("/__sim/state")["state"] == "UNPAIRED", "the QR")
        site.call("/__sim/scan", "POST")
        wait_until(lambda: watui.state() == "CONNECTED", "watui connected")
        yield watui
    finally:
        for proc in watui.runs:
            _stop(proc)
        watui.signal_browsers(signal.SIGKILL)
