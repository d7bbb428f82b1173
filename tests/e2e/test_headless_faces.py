"""`watui watch` and `watui serve` as a supervisor runs them: real processes, the real simulator, real signals.

A conflict has a way out without keys (SIGUSR1), `--jsonl` events carry their figures, and SIGHUP stops
like SIGTERM: the browser closed cleanly, nothing left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.watui_proc import WATUI, free_port, sim_call

pytestmark = pytest.mark.browser
PROFILE = "state/watui/demo/session/session-whatsapp-automation-pro"


class Face:
    """A watui process whose stdout and stderr lines are collected as they come."""

    def __init__(self, tmp_path: Path, *args: str, new_group: bool = False) -> None:
        self.sim_port = free_port()
        env = dict(os.environ, XDG_STATE_HOME=str(tmp_path / "state"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
        self.proc = subprocess.Popen(
            [*WATUI, *args, "--config", "config.toml", "--demo", "--demo-port", str(self.sim_port)],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_group,  # its own process group, as systemd gives a service
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()
        self.profile = tmp_path / PROFILE

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.out) if line.startswith("{")]

    def wait(self, check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"never saw {what}; stdout {self.out[-15:]}, stderr {self.err[-15:]}")

    def wait_event(self, check: Callable[[dict[str, Any]], bool], what: str, after: int = 0) -> dict[str, Any]:
        return self.wait(lambda: next((e for e in self.events()[after:] if check(e)), None), what)  # type: ignore[no-any-return]

    def wait_sim(self, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        def state() -> dict[str, Any] | None:
            try:
                got = sim_call(self.sim_port, "/__sim/state", "GET")
            except OSError:
                return None
            return got if check(got) else None

        return self.wait(state, what)  # type: ignore[no-any-return]

    def stop(self, sig: signal.Signals, group: bool = False) -> int:
        if group:  # to every process of the group: watui, Playwright's driver, Chromium (systemd, `timeout`)
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)  # a hang guard, not a measure: a clean stop takes a few seconds
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def browsers(self) -> list[psutil.Process]:
        marker = f"--user-data-dir={self.profile}"
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            if any(marker in arg for arg in proc.info["cmdline"] or []):
                found.append(proc)
        return found


@pytest.fixture
def face_factory(tmp_path: Path, chromium_path: Path) -> Iterator[Callable[..., Face]]:
    faces: list[Face] = []

    def make(*args: str, config: str = "", new_group: bool = False) -> Face:
        (tmp_path / "config.toml").write_text(config)
        face = Face(tmp_path, *args, new_group=new_group)
        faces.append(face)
        return face

    yield make
    for face in faces:
        if face.proc.poll() is None:
            face.proc.kill()
            face.proc.wait()
        for proc in face.browsers():
            proc.kill()


def initialize_done(event: dict[str, Any]) -> bool:
    """The start is over: a reconnect now is a new run, not joined to the start's."""
    return event["type"] == "action" and event.get("verb") == "initialize" and event.get("phase") == "done"


def _connect(face: Face) -> None:
    face.wait_sim(lambda s: s.get("state") == "UNPAIRED" and bool(s.get("qr")), "the simulator's QR")
    sim_call(face.sim_port, "/__sim/scan")
    face.wait_event(lambda e: e["type"] == "state" and e["state"] == "CONNECTED", "CONNECTED")


def test_watch_conflict_is_taken_over_with_sigusr1_and_jsonl_events_carry_their_data(
    face_factory: Callable[..., Face],
) -> None:
    watch = face_factory("watch", "--jsonl", config="[session]\nhealth_check_interval_ms = 1000\n")
    _connect(watch)
    connected = len(watch.events())

    # Health and disk events say what they found, not only that they happened.
    disk = watch.wait_event(lambda e: e["type"] == "disk" and e.get("valid") is True, "a valid disk", connected)
    assert disk["size_bytes"] > 100_000 and disk["problems"] == [], disk
    health = watch.wait_event(lambda e: e["type"] == "health" and not e.get("sample"), "a health check", connected)
    assert health["healthy"] is True and health["reason"] == "", health

    seen = len(watch.events())
    sim_call(watch.sim_port, "/__sim/conflict")
    conflict = watch.wait_event(lambda e: e["type"] == "error" and "another window" in e["message"], "conflict", seen)
    assert f"kill -USR1 {watch.proc.pid}" in conflict["message"], conflict
    assert "takeover_on_conflict" in conflict["message"] and "press r" not in conflict["message"], conflict

    seen = len(watch.events())
    watch.proc.send_signal(signal.SIGUSR1)
    watch.wait_event(lambda e: e["type"] == "state" and e["state"] == "CONNECTED", "CONNECTED after SIGUSR1", seen)
    assert any("SIGUSR1: taking over" in line for line in watch.err), watch.err
    assert watch.stop(signal.SIGTERM) == 0
    assert not watch.browsers()


def _assert_stopped_cleanly(face: Face, code: int) -> None:
    assert code == 0, f"exit {code}; stderr {face.err[-10:]}"
    assert not face.browsers(), "a browser was left running"
    assert (face.profile / "Default").is_dir()  # the session is kept
    assert not os.path.lexists(face.profile / "SingletonLock")  # Chromium was closed, not killed
    assert not [line for line in face.err if "Traceback" in line]


@pytest.mark.parametrize("command", [["watch", "--jsonl"], ["serve", "--port", "0"]], ids=["watch", "serve"])
def test_sighup_stops_like_sigterm(face_factory: Callable[..., Face], command: list[str]) -> None:
    face = face_factory(*command)
    face.wait_sim(lambda s: s.get("state") == "UNPAIRED" and bool(s.get("qr")), "the simulator's QR")
    _assert_stopped_cleanly(face, face.stop(signal.SIGHUP))


def test_sigterm_while_the_simulator_holds_a_page_load_stops_cleanly(face_factory: Callable[..., Face]) -> None:
    # The stop used to wait for the in-process simulator's slowed handler (aiohttp's 60 s shutdown grace);
    # Face.stop gives up after 30 s, so that hang fails. The time a stop takes is measured by bench/.
    watch = face_factory("watch", "--jsonl")
    watch.wait_event(initialize_done, "the start to end on the QR")
    sim_call(watch.sim_port, "/__sim/slow?ms=600000")
    seen = len(watch.events())
    watch.proc.send_signal(signal.SIGUSR1)  # reconnect: a new browser, whose page load the simulator holds
    watch.wait_event(lambda e: e["type"] == "state" and e["state"] == "OPENING", "the reload", seen)
    watch.wait_sim(lambda s: any(p["state"] == "OPENING" for p in s["pages"]), "a page load held by the simulator")
    _assert_stopped_cleanly(watch, watch.stop(signal.SIGTERM))


def test_sigterm_to_the_whole_process_group_is_a_clean_stop(face_factory: Callable[..., Face]) -> None:
    # systemd's default KillMode (control-group) and `timeout` signal every process of the group at once:
    # Playwright's driver dies under watui while it closes the browser.
    watch = face_factory("watch", "--jsonl", new_group=True)
    _connect(watch)
    code = watch.stop(signal.SIGTERM, group=True)
    assert code == 0, f"exit {code}; stderr {watch.err[-10:]}"
    assert not [line for line in watch.err if "Traceback" in line or "never retrieved" in line], watch.err
    assert not watch.browsers(), "a browser was left running"
    assert (watch.profile / "Default").is_dir()  # the session is kept
