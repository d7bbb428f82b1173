"""How a command reaches its session (watui.cli.reach.session_for), without a browser or an owner process: the
owner's lookup and the owner lock's reading are faked behind their small interfaces; the decisions are real."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from watui.cli import reach
from watui.cli.reach import Reached, session_for
from watui.config import Config, load_config
from watui.core.errors import SessionBusyError
from watui.core.models import SessionInfo
from watui.core.session.offline import OfflineSession
from watui.remote.session import RemoteSession


class FakeOwner:
    """What reach needs of an owner's client: who it is, its status, ``async with``."""

    def __init__(self, pid: int = 4242) -> None:
        self.owner = {"pid": pid, "face": "watch", "demo": False}
        self.closed = False

    @property
    def label(self) -> str:
        return f"watui watch (pid {self.owner['pid']})"

    async def status(self) -> dict[str, Any]:
        return SessionInfo().to_json()

    async def __aenter__(self) -> FakeOwner:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True


class World:
    """The owners that answer, in order of the lookups (None: none answers), and the pid in the owner lock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: list[FakeOwner | None], lock_pid: int | None):
        self.answers = answers
        self.lookups: list[float] = []
        self.lock_pid = lock_pid
        monkeypatch.setattr(reach, "find_owner_within", self.find_owner_within)
        monkeypatch.setattr(reach, "disk_store", self.disk_store)

    async def find_owner_within(self, config: Config, wait_s: float) -> FakeOwner | None:
        self.lookups.append(wait_s)
        return self.answers.pop(0) if self.answers else None

    def disk_store(self, config: Config) -> Any:
        world = self

        class Store:
            root = Path("/nonexistent")

            def owner_pid(self) -> int | None:
                return world.lock_pid

        return Store()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    (tmp_path / "config.toml").write_text(f'[session]\nsession_path = "{tmp_path / "s"}"\n')
    return load_config(tmp_path / "config.toml")


def test_with_no_owner_the_command_acts_on_the_disk_alone(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    world = World(monkeypatch, [None], lock_pid=None)
    seen: list[Reached] = []

    async def act(reached: Reached) -> int:
        seen.append(reached)
        return 0

    assert session_for(config, act) == 0
    assert isinstance(seen[0].session, OfflineSession) and seen[0].owner is None and seen[0].label is None
    assert world.lookups == [0.0]  # no waiting when nothing is in the way


def test_an_owner_that_answers_runs_the_command(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    owner = FakeOwner()
    World(monkeypatch, [owner], lock_pid=4242)
    seen: list[Reached] = []

    async def act(reached: Reached) -> int:
        seen.append(reached)
        return 7

    assert session_for(config, act) == 7
    assert isinstance(seen[0].session, RemoteSession) and seen[0].label == "watui watch (pid 4242)"
    assert seen[0].owner_json() == {"pid": 4242, "face": "watch"}
    assert owner.closed  # the client is closed after the command


def test_an_owner_starting_meanwhile_is_waited_for_and_asked(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    owner = FakeOwner(pid=99)
    world = World(monkeypatch, [None, owner], lock_pid=99)
    seen: list[str] = []

    async def act(reached: Reached) -> int:
        if reached.owner is None:
            seen.append("here")
            raise SessionBusyError("session in use by watui (pid 99)", 99, "watui")  # the lock was taken meanwhile
        seen.append(str(reached.label))
        return 0

    assert session_for(config, act) == 0
    assert seen == ["here", "watui watch (pid 99)"]
    assert world.lookups == [0.0, reach.OWNER_STARTUP_WAIT_S]


def test_a_session_busy_because_of_another_program_is_not_waited_for(
    monkeypatch: pytest.MonkeyPatch, config: Config
) -> None:
    world = World(monkeypatch, [None], lock_pid=None)  # no watui in the lock: a browser holds the profile

    async def act(reached: Reached) -> int:
        raise SessionBusyError("session in use by chromium (pid 5)", 5, "chromium")

    with pytest.raises(SessionBusyError, match=r"^session in use by chromium \(pid 5\)$"):
        session_for(config, act)
    assert world.lookups == [0.0]


def test_an_owner_that_never_listens_is_named_in_the_refusal(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    world = World(monkeypatch, [None, None], lock_pid=77)

    async def act(reached: Reached) -> int:
        raise SessionBusyError("session in use by watui (pid 77)", 77, "watui")

    with pytest.raises(SessionBusyError) as caught:
        session_for(config, act)
    assert str(caught.value) == (
        "session in use by watui (pid 77); watui (pid 77) runs but serves no control socket: "
        f"no socket at {config.session_root / '.watui-whatsapp-automation-pro.sock'}"
    )
    assert world.lookups == [0.0, reach.OWNER_STARTUP_WAIT_S]


def test_a_command_started_here_gets_the_started_session(monkeypatch: pytest.MonkeyPatch, config: Config) -> None:
    World(monkeypatch, [None], lock_pid=None)
    started: list[str] = []

    class Runtime:
        def __init__(self) -> None:
            self.config = config
            self.session = OfflineSession(config)  # any session will do: the point is which one the act gets

        async def __aenter__(self) -> Runtime:
            started.append("enter")
            return self

        async def __aexit__(self, *exc: object) -> None:
            started.append("exit")

    runtime = Runtime()

    async def act(reached: Reached) -> int:
        assert reached.runtime is runtime and reached.session is runtime.session  # type: ignore[comparison-overlap]
        started.append("act")
        return 0

    assert asyncio.run(reach.session_on(config, act, start=lambda: runtime)) == 0  # type: ignore[arg-type,return-value]
    assert started == ["enter", "act", "exit"]
