"""Shared fixtures: a real Chromium profile made once, session folders laid out as watui expects, configs.

``chromium_profile_template`` launches the real browser once per test session on a page served as
``https://web.whatsapp.com`` (Playwright answers the request itself: no network), which stores data in
IndexedDB and localStorage the way WhatsApp Web does, so the template has the exact login folders of a
real session. ``session_layout`` copies it per test into ``<tmp>/sessions/session-<client_id>/``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.layout import (
    CLIENT_ID,
    ConfigWriter,
    LockSetter,
    SessionLayout,
    run_page_on_profile,
)
from watui.core.browser.chromium import find_browser
from watui.core.errors import BrowserNotFoundError
from watui.sim.server import Simulator

# The fixtures that start a real Chromium, or need one to exist: a test whose fixtures reach any of them
# (through session_layout, other_owner, ... as well) is marked `browser` at collection.
BROWSER_FIXTURES = frozenset({"chromium_path"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `browser` what needs Chromium, from the fixture closure: `-m "not browser"` then never reaches
    chromium_path, so it runs on a machine without a browser."""
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _isolated_config_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the developer's WATUI_* variables and ~/.config/watui out of every test."""
    for name in list(os.environ):
        if name.startswith("WATUI_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.getbasetemp() / "xdg-config-empty"))


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    try:
        return find_browser("")
    except BrowserNotFoundError as exc:
        pytest.fail(f"these tests drive a real Chromium: {exc}")


@pytest.fixture(scope="session")
def chromium_profile_template(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real Chromium user-data-dir with WhatsApp Web's login folders, made once per test session."""
    folder = tmp_path_factory.mktemp("chromium-template") / "profile"
    run_page_on_profile(chromium_path, folder)
    for rel in (
        "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb/CURRENT",
        "Default/Local Storage/leveldb/CURRENT",
        "Local State",
        "Default/Preferences",
    ):
        assert (folder / rel).exists(), f"Chromium did not write {rel}"
    return folder


@pytest.fixture
def write_config(tmp_path: Path) -> ConfigWriter:
    """``write_config(session_path=..., max_session_size_mb=..., folder=..., raw=...) -> Path``.

    Keyword arguments go into ``[session]`` (strings quoted, numbers as they are); ``raw`` is appended
    as TOML text; the file is ``<folder or tmp_path>/config.toml``.
    """

    def write(folder: Path | None = None, raw: str = "", **session: Any) -> Path:
        target = (folder or tmp_path) / "config.toml"
        target.parent.mkdir(parents=True, exist_ok=True)
        lines = ["[session]"] + [f"{key} = {_toml_value(value)}" for key, value in session.items()]
        target.write_text("\n".join(lines) + "\n" + raw)
        return target

    return write


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture
def session_layout(
    tmp_path: Path, chromium_profile_template: Path, write_config: ConfigWriter
) -> Iterator[SessionLayout]:
    """A copy of the real profile at ``<tmp>/sessions/session-testbot/`` and a config pointing at it."""
    root = tmp_path / "sessions"
    root.mkdir(mode=0o700)
    profile = root / f"session-{CLIENT_ID}"
    shutil.copytree(chromium_profile_template, profile, symlinks=True)
    config_path = write_config(session_path="sessions", client_id=CLIENT_ID)
    yield SessionLayout(root=root, profile=profile, config_path=config_path)


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A real live process (``sleep 60``) to point a SingletonLock at."""
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has just exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def set_lock() -> LockSetter:
    """``set_lock(profile, pid, host=None)``: point SingletonLock at ``host-pid`` as Chromium does."""
    return _set_lock


def _set_lock(profile: Path, pid: int, host: str | None = None) -> Path:
    lock = profile / "SingletonLock"
    if os.path.lexists(lock):
        lock.unlink()
    os.symlink(f"{host or socket.gethostname()}-{pid}", lock)
    return lock


@pytest.fixture
def other_owner(session_layout: SessionLayout) -> Iterator[subprocess.Popen[str]]:
    """Another watui process that owns ``session_layout``'s session (holds its owner lock) until the test ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from watui.config import load_config; from watui.core.disk.store import SessionStore;"
            "lock = SessionStore(load_config(sys.argv[1])).acquire_owner(); print('held', flush=True);"
            "time.sleep(60)",
            str(session_layout.config_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
async def sim(tmp_path: Path) -> AsyncIterator[Simulator]:
    """The WhatsApp Web simulator on a free port of 127.0.0.1, its logins kept in tmp_path."""
    simulator = Simulator(state_dir=tmp_path / "sim-state", qr_rotate_ms=20000, qr_rotations=6)
    await simulator.start()
    try:
        yield simulator
    finally:
        await simulator.close()
