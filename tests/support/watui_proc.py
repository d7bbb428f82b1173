"""watui as a user runs it, from a test: the command, a free port, the simulator's own API, an environment
of its own (XDG folders in the test's tmp_path)."""

from __future__ import annotations

import json
import os
import socket
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

WATUI = [sys.executable, "-m", "watui"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sim_call(port: int, path: str, method: str = "POST") -> dict[str, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", method=method)
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        state: dict[str, Any] = json.loads(response.read())
        return state


def wait_for_sim_state(
    port: int, predicate: Callable[[dict[str, Any]], object], timeout: float = 30.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = sim_call(port, "/__sim/state", "GET")
            if predicate(last):
                return last
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"simulator never reached the expected state; last {last}")


def env_for(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_STATE_HOME"] = str(tmp_path / "state")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    return env
