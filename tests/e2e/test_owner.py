"""One owner, many faces: a running `watui watch` serves its session on a control socket, and the CLI
verbs and the dashboard act through it. Real processes, real sockets, the real simulator."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.layout import ConfigWriter
from tests.support.qr_decode import LIGHT, decode_ansi
from tests.support.screen import connected_info, damaged_info, qr_info, reconnecting_info, screen_text
from tests.support.watui_proc import WATUI, env_for, free_port, sim_call, wait_for_sim_state
from watui.api.control import start_control
from watui.api.paths import socket_path
from watui.config import load_config
from watui.core.models import SessionInfo
from watui.remote.client import find_owner
from watui.remote.session import RemoteScanner, RemoteSession
from watui.tui.attached import AttachedApp


@dataclass
class Owner:
    proc: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    cwd: Path
    socket: Path

    def watui(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*WATUI, *args, "--demo"], cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=90
        )

    def status(self) -> dict[str, Any]:
        done = self.watui("status", "--json")
        assert "Traceback" not in done.stderr, done.stderr
        return dict(json.loads(done.stdout))


def _wait(predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


@pytest.fixture
def owner(tmp_path: Path, chromium_path: Path) -> Iterator[Owner]:
    """`watui watch --demo` running, showing its QR."""
    port = free_port()
    env = env_for(tmp_path)
    proc = subprocess.Popen(
        [*WATUI, "watch", "--demo", "--demo-port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sock = tmp_path / "state" / "watui" / "demo" / "session" / ".watui-whatsapp-automation-pro.sock"
    try:
        wait_for_sim_state(port, lambda s: s.get("state") == "UNPAIRED" and s.get("qr"))
        _wait(sock.exists, "the owner's control socket")
        yield Owner(proc, port, env, tmp_path, sock)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.browser
def test_cli_verbs_act_through_a_running_watch_and_survive_its_kill_9(owner: Owner) -> None:
    mode = os.stat(owner.socket).st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(owner.socket.parent).st_mode) == 0o700

    status = owner.status()
    assert status["attached"] is True
    assert status["owner"] == {"pid": owner.proc.pid, "face": "watch"}
    assert status["connection"]["state"] == "UNPAIRED" and status["connection"]["qr"]

    # init on an owned session: the owner's outcome, with the owner's QR, instead of "in use".
    init = subprocess.Popen(
        [*WATUI, "init", "--json", "--timeout", "60", "--demo"],
        cwd=owner.cwd,
        env=owner.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert init.stderr is not None
        lines = [init.stderr.readline()]
        while lines[-1] and "Scan this QR" not in lines[-1]:
            lines.append(init.stderr.readline())
        assert "watui watch" in lines[0] and "Scan this QR" in lines[-1], lines
        qr = sim_call(owner.port, "/__sim/state", "GET")["qr"]
        sim_call(owner.port, "/__sim/scan")
        out, err = init.communicate(timeout=60)
    finally:
        init.kill()
    assert init.returncode == 0, err
    assert json.loads(out)["state"] == "CONNECTED"
    assert qr in decode_ansi(err, LIGHT)  # no terminal: plain half blocks, dark on a light page
    line = owner.watui("status").stdout
    assert line.startswith("● CONNECTED") and f"watui watch (pid {owner.proc.pid})" in line

    # clean through the owner instead of "in use": the owner closes, cleans and restarts its browser.
    done = owner.watui("clean", "--json")
    assert done.returncode == 0, done.stderr
    assert "freedBytes" in json.loads(done.stdout)
    _wait(lambda: owner.status()["connection"]["state"] == "CONNECTED", "connected again after clean")

    done = owner.watui("reconnect")
    assert done.returncode == 0 and f"by watui watch (pid {owner.proc.pid})" in done.stdout, done

    info = json.loads(owner.watui("info", "--json").stdout)
    assert info["attached"] is True and info["connection"]["state"] == "CONNECTED"

    sim_call(owner.port, "/__sim/conflict")  # "WhatsApp is open in another window"
    _wait(lambda: owner.status()["connection"]["state"] == "CONFLICT", "the conflict seen by the owner")
    done = owner.watui("takeover")
    assert done.returncode == 0, done
    assert owner.status()["connection"]["state"] == "CONNECTED"

    # kill -9: the socket file stays behind; the next watui sees no owner instead of failing.
    owner.proc.kill()
    owner.proc.wait(10)
    assert owner.socket.exists()
    done = owner.watui("status", "--json")
    assert done.returncode == 1 and done.stderr == ""
    assert json.loads(done.stdout)["attached"] is False


def detected_info() -> SessionInfo:
    """Connected, with what the page channels, the browser choice and snapshots add to the status."""
    info = connected_info()
    assert info.browser is not None
    browser = replace(info.browser, executable="/usr/lib/chromium/chromium-headless-shell")
    return replace(
        info,
        detection="modules",
        evidence="/srv/wa/diagnostics/20261128-101500",
        browser=browser,
        snapshots_on=True,
        last_snapshot_at=info.updated_at,
    )


@pytest.mark.parametrize("make", [connected_info, qr_info, reconnecting_info, damaged_info, detected_info])
def test_a_snapshot_survives_the_socket(make: Callable[[], SessionInfo]) -> None:
    """What an attached face rebuilds from the status JSON shows what the owner's snapshot shows."""
    info = make()
    assert SessionInfo.from_json(info.to_json()).to_json() == info.to_json()


@pytest.mark.browser
def test_reconnect_without_an_owner_acts_here_with_the_same_exit_status(tmp_path: Path) -> None:
    done = subprocess.run(
        [*WATUI, "reconnect", "--demo"], cwd=tmp_path, env=env_for(tmp_path), capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 3, done  # a new demo session: a QR scan is needed
    assert "by watui" not in done.stdout and "Traceback" not in done.stderr
    session = tmp_path / "state" / "watui" / "demo" / "session"
    assert (session / "session-whatsapp-automation-pro").is_dir()  # it ran here...
    assert not (session / ".watui-whatsapp-automation-pro.sock").exists()  # ...and its socket left with it


@pytest.mark.browser
def test_doctor_beside_a_running_owner_probes_the_owners_page(owner: Owner) -> None:
    done = owner.watui("doctor", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["recognised"] and report["detection"] == "modules" and report["state"] == "UNPAIRED"
    assert report["owner"] == {"pid": owner.proc.pid, "face": "watch"}
    probes = {(p["channel"], p["probe"]): p for p in report["probes"]}
    assert probes[("modules", "require('WAWebSocketModel')")]["matched"]
    assert Path(report["evidence"]).parent.name == "diagnostics"
    text = owner.watui("doctor")
    assert text.returncode == 0 and f"probed by watui watch (pid {owner.proc.pid})" in text.stdout
    assert owner.proc.poll() is None and owner.status()["connection"]["state"] == "UNPAIRED"


async def test_doctor_beside_an_owner_without_a_browser_says_so_with_its_own_code(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    from watui.cli import main
    from watui.core.session.manager import SessionManager

    config_path = write_config(session_path=str(tmp_path / "s"), client_id="bot")
    manager = SessionManager(load_config(config_path))
    await manager.start()  # owns the session; no browser started
    server = await start_control(manager, manager.config, face="watch")
    assert server is not None
    try:
        code = await asyncio.to_thread(main, ["doctor", "--json", "--config", str(config_path)])
    finally:
        await server.close()
        await manager.shutdown()
    out, err = capsys.readouterr()
    assert code == 4
    answer = json.loads(out)
    assert answer["recognised"] is None
    assert answer["error"].startswith(f"watui watch (pid {os.getpid()}) owns this session: cannot run the doctor")
    assert err.startswith("watui doctor: ") and len(err.splitlines()) == 1


async def test_an_owner_that_cannot_serve_its_socket_says_so_to_every_face(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    """A symlink where the socket goes: the owner runs without a socket, says so in an `error` event (the
    journal, watch --jsonl, the API's stream), and `watui status` says it runs but serves no socket."""
    from watui.core.disk.store import SessionStore
    from watui.core.journal.journal import history_path, read_rows
    from watui.owner import session_runtime

    config_path = write_config(session_path=str(tmp_path / "s"), client_id="bot")
    config = load_config(config_path)
    path = socket_path(config)
    SessionStore(config).ensure_root()
    os.symlink(tmp_path / "elsewhere", path)
    status = [*WATUI, "--config", str(config_path), "status"]
    async with session_runtime(config, face="watch"):
        line = await asyncio.to_thread(subprocess.run, status, capture_output=True, text=True, timeout=60)
        data = await asyncio.to_thread(subprocess.run, [*status, "--json"], capture_output=True, text=True, timeout=60)
    problem = f"watui (pid {os.getpid()}) runs but serves no control socket: {path} is a symlink, not a socket"
    assert line.returncode == 1 and problem in line.stdout and "not answering" not in line.stdout, line
    owner = json.loads(data.stdout)["owner"]
    assert owner["pid"] == os.getpid() and owner["socket"] is False and owner["problem"].startswith(problem)
    rows, _ = read_rows(history_path(config), 0)
    errors = [row.message for row in rows if row.kind == "error"]
    assert any(f"cannot serve the control socket: {path} is a symlink, not a socket" in m for m in errors), errors
    assert path.is_symlink()  # not ours to remove: it stays for whoever made it


class _Quiet:
    """A manager nobody drives: the socket tests only need an API to answer."""

    info = SessionInfo()
    busy = None
    capabilities: frozenset[str] = frozenset()  # no optional ability (the API asks before it offers one)

    def can(self, verb: str) -> bool:
        return False

    def get_detailed_session_info(self) -> dict[str, Any]:
        return self.info.to_json()


async def test_a_dead_owners_socket_is_replaced(tmp_path: Path, write_config: ConfigWriter) -> None:
    config = load_config(write_config(session_path=str(tmp_path / "s"), client_id="bot"))
    path = socket_path(config)
    path.parent.mkdir(mode=0o700)
    # A process that bound the socket and was killed -9 leaves the file, refusing connections.
    code = f"import socket,time; s=socket.socket(socket.AF_UNIX); s.bind({str(path)!r}); s.listen(); time.sleep(60)"
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    while not path.exists():
        await asyncio.sleep(0.1)
    dead.kill()
    await dead.wait()
    assert await find_owner(config) is None  # stale: no owner

    server = await start_control(_Quiet(), config, face="watch")  # type: ignore[arg-type]
    assert server is not None
    try:
        client = await find_owner(config)
        assert client is not None
        async with client:
            assert client.owner == {"pid": os.getpid(), "face": "watch", "demo": False}
    finally:
        await server.close()
    assert not path.exists()


def _as_nobody(path: Path) -> str:
    """What a process of uid nobody gets when it asks the socket at ``path`` who owns the session."""
    code = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(path)!r})\n"
        "except OSError as e:\n"
        "    print('connect:', e.strerror); sys.exit()\n"
        "s.sendall(b'GET /api/owner HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n')\n"
        "print(s.recv(4096).decode(errors='replace'))\n"
    )
    # The system's Python: nobody may not enter the folder the test's virtualenv lives in.
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
    done = subprocess.run(
        [python, "-c", code],
        user="nobody",
        group="nogroup",
        extra_groups=[],
        capture_output=True,
        text=True,
        timeout=30,
        cwd="/",
    )
    return done.stdout + done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as nobody")
async def test_a_peer_of_another_uid_is_refused(write_config: ConfigWriter) -> None:
    pwd.getpwnam("nobody")
    # A folder nobody may traverse (the real session root is 0700: nobody gets no further than it).
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        os.chmod(folder, 0o711)
        config = load_config(write_config(session_path=f"{folder}/s", client_id="bot"))
        root = socket_path(config).parent
        root.mkdir()
        os.chmod(root, 0o711)
        server = await start_control(_Quiet(), config, face="watch")  # type: ignore[arg-type]
        assert server is not None
        try:
            seen = await asyncio.to_thread(_as_nobody, server.path)
            assert "connect: Permission denied" in seen  # the socket's own mode, 0600
            os.chmod(server.path, 0o666)  # even if its mode were widened, SO_PEERCRED refuses the peer
            seen = await asyncio.to_thread(_as_nobody, server.path)
            assert " 403 " in seen and "uid 65534 refused" in seen
            assert '"pid"' not in seen
        finally:
            await server.close()


async def _get_owner_raw(path: Path) -> str:
    """``GET /api/owner`` on the socket at ``path`` from this process, as raw HTTP."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"GET /api/owner HTTP/1.0\r\nHost: localhost\r\n\r\n")
    await writer.drain()
    raw = await reader.read()
    writer.close()
    return raw.decode(errors="replace")


async def test_the_owner_serves_only_peers_of_its_own_uid(tmp_path: Path, write_config: ConfigWriter) -> None:
    """As any user: the owner told to serve another uid refuses this process (SO_PEERCRED), and serves it
    when told its own."""
    config = load_config(write_config(session_path=str(tmp_path / "s"), client_id="bot"))
    socket_path(config).parent.mkdir(mode=0o700)
    other = os.geteuid() + 1
    server = await start_control(_Quiet(), config, face="watch", owner_uid=other)  # type: ignore[arg-type]
    assert server is not None
    try:
        seen = await _get_owner_raw(server.path)
        assert " 403 " in seen.splitlines()[0] and f"uid {os.geteuid()} refused" in seen
        assert '"pid"' not in seen
    finally:
        await server.close()
    server = await start_control(_Quiet(), config, face="watch")  # type: ignore[arg-type]
    assert server is not None
    try:
        assert '"pid"' in await _get_owner_raw(server.path)  # the same request, of the right uid
    finally:
        await server.close()


async def test_a_client_trusts_only_a_socket_of_its_own_uid(tmp_path: Path, write_config: ConfigWriter) -> None:
    """As any user: a client expecting another uid refuses the socket file (its owner) and, reached past
    that, the process serving it (SO_PEERCRED), before it sends a request."""
    from watui.remote.client import BASE, OwnerClient, OwnerRefused, _OwnersConnector

    config = load_config(write_config(session_path=str(tmp_path / "s"), client_id="bot"))
    socket_path(config).parent.mkdir(mode=0o700)
    other = os.geteuid() + 1
    server = await start_control(_Quiet(), config, face="watch")  # type: ignore[arg-type]
    assert server is not None
    try:
        mine = rf"owned by uid {os.geteuid()}, expected {other}; fix: run watui as uid {os.geteuid()}"
        with pytest.raises(OwnerRefused, match=mine):
            await find_owner(config, uid=other)
        connector = _OwnersConnector(str(server.path), server.path, other)
        async with aiohttp.ClientSession(connector=connector) as http:
            with pytest.raises(OwnerRefused, match=rf"served by uid {os.geteuid()}, expected {other}"):
                await http.get(BASE + "/api/owner")
        client = await find_owner(config)  # its own uid: trusted
        assert client is not None
        async with client:
            assert client.owner["pid"] == os.getpid()
        async with OwnerClient(server.path, uid=other) as refused:
            with pytest.raises(OwnerRefused):
                await refused.status()
    finally:
        await server.close()


_HOSTILE_OWNER = r"""
import json, os, socket, sys
root, path = sys.argv[1], sys.argv[2]
os.mkdir(root, 0o755)  # another user made the session folder first
s = socket.socket(socket.AF_UNIX)
s.bind(path)
os.chmod(path, 0o666)
s.listen()
print("ready", flush=True)
body = json.dumps({"pid": os.getpid(), "face": "watch", "demo": False}).encode()
while True:
    c, _ = s.accept()
    c.recv(65536)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
              b"Connection: close\r\n\r\n%s" % (len(body), body))
    c.close()
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a child as nobody")
async def test_a_socket_another_user_serves_at_the_owner_path_is_refused(write_config: ConfigWriter) -> None:
    """uid nobody makes the session folder first and listens at the owner's path: root's watui refuses
    the folder and the socket, by the file's owner and, were the file root's, by the peer's uid."""
    from watui.core.disk.store import SessionStore
    from watui.core.errors import UnsafePathError
    from watui.remote.client import OwnerRefused

    nobody = pwd.getpwnam("nobody").pw_uid
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        os.chmod(folder, 0o777)  # a shared folder: anyone may make the session folder in it
        config_path = write_config(session_path=f"{folder}/s", client_id="bot")
        config = load_config(config_path)
        python = shutil.which("python3", path="/usr/local/bin:/usr/bin:/bin") or sys.executable
        hostile = await asyncio.create_subprocess_exec(
            *(python, "-c", _HOSTILE_OWNER, f"{folder}/s", str(socket_path(config))),
            user="nobody", group="nogroup", extra_groups=[], stdout=subprocess.PIPE, cwd="/",
        )  # fmt: skip
        try:
            assert hostile.stdout is not None and await hostile.stdout.readline() == b"ready\n"
            theirs = rf"owned by uid {nobody}, expected 0; fix: run watui as uid {nobody} if the session is theirs"
            with pytest.raises(OwnerRefused, match=theirs):
                await find_owner(config)
            with pytest.raises(UnsafePathError, match=rf"{folder}/s: owned by uid {nobody}, expected 0; fix: chown 0"):
                SessionStore(config).check_root()
            done = await asyncio.to_thread(
                subprocess.run, [*WATUI, "--config", str(config_path), "status"], capture_output=True, text=True
            )
            assert done.returncode != 0 and "Traceback" not in done.stderr
            assert f"owned by uid {nobody}, expected 0" in done.stderr and '"pid"' not in done.stdout
            os.chown(socket_path(config), 0, 0)  # the file alone proves nothing: the peer is still nobody
            with pytest.raises(OwnerRefused, match=rf"served by uid {nobody}, expected 0"):
                await find_owner(config)
        finally:
            hostile.kill()
            await hostile.wait()


# -- the attached dashboard ---------------------------------------------------------------------------
@asynccontextmanager
async def attach(owner: Owner) -> AsyncIterator[AttachedApp]:
    """The dashboard as `watui --demo` builds it on a session `owner` runs (see watui/cli/dashboard.py)."""
    config = load_config(None).for_demo()
    client = await find_owner(config)
    assert client is not None
    async with client:
        manager = RemoteSession(client, await client.status())
        yield AttachedApp(manager, simulator=RemoteScanner(client), session_root=config.session_root)


async def _until(pilot: Any, predicate: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await pilot.pause(0.2)


@pytest.mark.browser
async def test_the_attached_dashboard_acts_through_the_owner_detaches_and_offers_takeover(
    owner: Owner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", owner.env["XDG_STATE_HOME"])
    pid = owner.proc.pid
    async with attach(owner) as app, app.run_test(size=(120, 40)) as pilot:
        assert app.sub_title == f"attached to watui watch (pid {pid}) · q detaches"
        assert app.active_bindings["q"].binding.description == "Detach"  # the footer's word for q
        await pilot.press("question_mark")
        assert "detach: leave this dashboard; the owner and its browser keep running" in screen_text(app)
        await pilot.press("escape")
        await _until(pilot, lambda: app.info.state.value == "UNPAIRED" and app.info.qr is not None, "the owner's QR")
        await pilot.press("s")  # the demo's scan, through the owner
        await _until(pilot, lambda: app.info.state.value == "CONNECTED", "CONNECTED, live from the owner")
        await pilot.press("q")
    assert owner.proc.poll() is None  # detached: the owner and its browser keep running
    assert owner.status()["connection"]["state"] == "CONNECTED"

    async with attach(owner) as app, app.run_test(size=(120, 40)) as pilot:
        owner.proc.kill()
        await _until(pilot, lambda: "exited" in app.sub_title, "the owner's exit on screen")
        assert app.sub_title.startswith(f"watui watch (pid {pid}) exited · i takes the session over")
        assert app.info.state.value == "UNLAUNCHED"
        assert any("press i to take the session over" in e.text for e in app.log_entries)
        await pilot.press("i")
        await pilot.pause()
    assert app.take_over  # the launcher then starts the session in this process


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
async def test_two_dashboards_attach_in_tmux_and_one_detaching_leaves_the_other_live(owner: Owner) -> None:
    from tests.support.tmux import WATUI as WATUI_COMMAND
    from tests.support.tmux import Tmux, sim_state, wait_screen

    exports = " ".join(f"{name}={owner.env[name]}" for name in ("XDG_STATE_HOME", "XDG_CONFIG_HOME"))
    command = (
        f"cd {owner.cwd} && env -u NO_COLOR -u COLUMNS -u LINES LANG=C.UTF-8 TERM=screen {exports} "
        f"{WATUI_COMMAND} --demo; echo WATUI-EXIT=$?; sleep 60"
    )
    first, second = (Tmux(f"watui-test-{os.getpid()}-{name}") for name in ("first", "second"))
    try:
        for window in (first, second):
            window.start(command)
        for window in (first, second):
            await wait_screen(
                window, lambda t, w=window: "attached to watui watch" in t and bool(w.qr_codes()), "the owner's QR"
            )
            assert window.qr_codes() == [(await sim_state(owner.port))["qr"]]
        first.keys("s")  # scanned from one dashboard: both see the owner connect
        for window in (first, second):
            await wait_screen(window, lambda t: "State     ● CONNECTED" in t, "CONNECTED")
        first.keys("q")
        assert "WATUI-EXIT=0" in await wait_screen(first, lambda t: "WATUI-EXIT=" in t, "the first to detach")
        assert owner.proc.poll() is None
        second.keys("r")  # the other one still acts through the owner
        await wait_screen(second, lambda t: "✔ Connected to WhatsApp Web" in t, "the reconnect's answer")
    finally:
        first.kill()
        second.kill()


async def test_a_second_demo_on_the_same_port_finds_the_session_taken_not_the_port(
    tmp_path: Path, write_config: ConfigWriter
) -> None:
    # As when three attached dashboards press i after their owner died: one wins, the others must attach to
    # it. They can only if they are told the session is taken, before they try to bind --demo-port.
    from watui.core.errors import SessionBusyError
    from watui.owner import session_runtime

    config = load_config(write_config(raw=f'[demo]\nstate_dir = "{tmp_path / "demo"}"\n'))
    port = free_port()
    async with session_runtime(config, demo=True, demo_port=port, face="dashboard") as winner:
        assert winner.simulator is not None and winner.simulator.port == port
        with pytest.raises(SessionBusyError, match=f"pid {os.getpid()}"):
            async with session_runtime(config, demo=True, demo_port=port, face="dashboard"):
                pass
        client = await find_owner(winner.config)
        assert client is not None  # the winner still serves its session
        async with client:
            assert client.owner["demo"] is True


def test_a_dashboard_that_loses_the_take_over_attaches_to_the_winner_and_can_take_over_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from watui.cli import dashboard as launch
    from watui.cli import reach
    from watui.core.errors import SessionBusyError

    calls: list[str] = []
    attaches = iter([launch.TAKE_OVER, launch.TAKE_OVER])  # i; once the winner has exited too, i again
    dashboards = iter([SessionBusyError("session in use by watui (pid 1)", 1, "watui"), None])

    async def attach(args: Any, config: Any, wait_s: float = 0.0) -> int | str | None:
        calls.append(f"attach {wait_s:g}")
        return next(attaches)

    async def dashboard(args: Any, config: Any) -> int:
        calls.append("own")
        outcome = next(dashboards)
        if outcome is not None:
            raise outcome  # another dashboard took the session first
        return 0

    monkeypatch.setattr(launch, "attach", attach)
    monkeypatch.setattr(launch, "dashboard", dashboard)
    code = launch.run(None, None)  # type: ignore[arg-type]
    assert code == 0
    assert calls == ["attach 0", "own", f"attach {reach.OWNER_STARTUP_WAIT_S:g}", "own"]
