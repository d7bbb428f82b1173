"""What the command line refuses, as one line and never a traceback: the environment (exit 1), usage (exit 2).

The environment on real filesystems where the test may mount them (root: a tmpfs mounted read-only, a tiny
full tmpfs); elsewhere the same OSError is raised at the store's interface.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.core import sim_config, started_manager
from watui.cli import main
from watui.config import load_config
from watui.core.disk.store import SessionStore
from watui.core.models import ConnectionState as S
from watui.sim.server import Simulator


def _mount_tmpfs(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "ro"
    if not _mount_tmpfs(target, "size=64k,ro"):
        pytest.skip("cannot mount a tmpfs here (not root); test_fake_read_only_root covers the interface")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture
def full_dir(tmp_path: Path) -> Iterator[Path]:
    target = tmp_path / "full"
    if not _mount_tmpfs(target, "size=8k"):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        with (target / "filler").open("wb") as fh, pytest.raises(OSError):
            fh.write(b"\0" * 65536)
            fh.flush()
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_one_line(err: str, *needles: str) -> None:
    assert err.startswith("watui: "), err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("demo", [False, True], ids=["real", "demo"])
def test_read_only_session_root(
    tmp_path: Path, read_only_dir: Path, capsys: pytest.CaptureFixture[str], demo: bool
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[session]\nsession_path = "{read_only_dir}/s"\n[demo]\nstate_dir = "{read_only_dir}/demo"\n')
    code, _, err = _run(capsys, "init", "--timeout", "5", "--config", str(config), *(["--demo"] if demo else []))
    assert code == 1
    _assert_one_line(err, str(read_only_dir), "Read-only file system")


def test_full_filesystem_at_the_session_root(
    tmp_path: Path, full_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[session]\nsession_path = "{full_dir}/s"\n')
    code, _, err = _run(capsys, "watch", "--config", str(config))
    assert code == 1
    _assert_one_line(err, str(full_dir / "s"), "No space left on device")


def test_fake_read_only_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(store: SessionStore) -> None:
        owner = store.root / ".watui-x.owner"
        raise OSError(errno.EROFS, "Read-only file system", str(owner))

    monkeypatch.setattr(SessionStore, "acquire_owner", refuse)
    config = tmp_path / "config.toml"
    config.write_text('[session]\nsession_path = "s"\n')
    code, _, err = _run(capsys, "init", "--config", str(config))
    assert code == 1
    _assert_one_line(err, str(tmp_path / "s" / ".watui-x.owner"), "Read-only file system")


@pytest.mark.parametrize("timeout", ["nan", "inf", "-inf", "1e309", "0", "-1", "soon"])
def test_init_refuses_a_timeout_that_is_not_a_positive_finite_number(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[session]\nsession_path = "s"\n')
    code, out, err = _run(capsys, "init", "--config", str(config), f"--timeout={timeout}")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "--timeout" in err and timeout in err, err
    assert not (tmp_path / "s").exists()  # refused before anything was started


def test_any_os_error_that_reaches_the_command_line_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from watui.cli.session import CLEAN

    def disk_full(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(CLEAN, "run", disk_full)
    config = tmp_path / "config.toml"
    config.write_text('[session]\nsession_path = "s"\n')
    code, _, err = _run(capsys, "clean", "--config", str(config))
    assert code == 1
    assert err == "watui: No space left on device\n"


def test_a_disk_error_without_a_file_name_still_names_the_session_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")  # as a write to a full disk raises it

    monkeypatch.setattr(SessionStore, "cleanup", disk_full)
    config = tmp_path / "config.toml"
    config.write_text('[session]\nsession_path = "s"\n')
    code, _, err = _run(capsys, "clean", "--config", str(config))
    assert code == 1
    assert err == f"watui: clean: {tmp_path / 's'}: No space left on device\n"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 48 MB filesystem of its own (a tmpfs), to fill up under a running session."""
    target = tmp_path / "disk"
    if not _mount_tmpfs(target, "size=48m"):
        pytest.skip("cannot mount a tmpfs here (not root)")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], check=False)


def _fill(folder: Path) -> None:
    with (folder / "filler").open("wb") as fh, pytest.raises(OSError) as full:
        while True:
            fh.write(b"\0" * 1048576)
            fh.flush()
    assert full.value.errno == errno.ENOSPC


async def test_a_full_disk_when_the_session_reconnects_is_one_error_and_the_session_goes_on(
    small_disk: Path, sim: Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = sim_config(small_disk, sim)
    async with started_manager(config) as (manager, rec):
        assert (await manager.smart_initialize()).needs_qr
        await sim.scan()
        await rec.state(S.CONNECTED)
        await asyncio.sleep(0.5)  # what the first connection noted is written
        _fill(small_disk)
        connected_before = len([s for s in rec.states() if s is S.CONNECTED])
        await sim.drop()  # WhatsApp Web loses its connection and comes back by itself
        await rec.until(lambda _: len([s for s in rec.states() if s is S.CONNECTED]) > connected_before, what="back")
        for _ in range(50):
            errors = [e.message for e in rec.events if e.type == "error" and "could not note" in e.message]
            if errors:
                break
            await asyncio.sleep(0.1)
        assert errors and "No space left on device" in errors[0] and "\n" not in errors[0]
        assert manager.info.state is S.CONNECTED  # the session goes on
    gc.collect()
    await asyncio.sleep(0)
    assert "exception was never retrieved" not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize("command", ["watch", "doctor"])
def test_a_taken_demo_port_is_one_line_and_frees_the_demo_session(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # The owner (watch) and the doctor start the demo's simulator through the same watui/demo.py: the port's
    # refusal is the simulator's own line, said as watui's, and the owner lock taken before it binds is let go.
    config = tmp_path / "config.toml"
    config.write_text(f'[session]\nsession_path = "{tmp_path}/s"\n[demo]\nstate_dir = "{tmp_path}/demo"\n')
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, out, err = _run(capsys, command, "--config", str(config), "--demo", "--demo-port", str(port))
    assert code == 1 and out == ""
    _assert_one_line(err, f"127.0.0.1:{port}", "in use")
    assert SessionStore(load_config(config).for_demo()).owner_pid() is None
