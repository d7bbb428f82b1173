"""The headless parts of watui load no face: each module, imported alone in a fresh interpreter, leaves
Textual, Rich and aiohttp.web out of sys.modules (harlequin's check). pyproject's import contracts say the
same on the static graph; this checks what actually loads, third-party imports included, and aiohttp.web,
which import-linter cannot name apart from aiohttp.

One subprocess imports nothing of watui, then forks a child per module: each child starts from the same
clean interpreter, imports its one module and reports which faces it loaded. So ~60 imports take seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

import watui

PACKAGE = Path(watui.__file__).parent
FACES = ("textual", "rich", "aiohttp.web")
DASHBOARD = ("textual", "rich")

# The commands that never show the dashboard: status, info, clean, clear, reconnect, takeover (cli.session), init
# and watch (cli.live), keygen/backup/snapshots/restore (cli.snapshots), history/alerts (cli.history), doctor,
# send/messages (cli.messages), and what they share (reach, output, signals, base, the owner's composition root
# and the demo's simulator); and watui.cli itself, which parses every command line before it knows which one it
# runs. (cli.serve and cli.dashboard load their face only when they run.)
HEADLESS_COMMANDS = (
    "watui.cli",
    "watui.cli.base",
    "watui.cli.doctor",
    "watui.cli.history",
    "watui.cli.live",
    "watui.cli.messages",
    "watui.cli.output",
    "watui.cli.reach",
    "watui.cli.session",
    "watui.cli.signals",
    "watui.cli.snapshots",
    "watui.demo",
    "watui.present",
    "watui.owner",
)

# What only talks to a running owner loads no browser: `watui send` and `watui messages` (cli.messages), the
# signals they cancel on, and the public client. The owner itself (watui.owner) does, which the probe must see.
BROWSER = ("playwright",)
OWNER_TALKERS = ("watui.cli.messages", "watui.cli.signals", "watui.client")

# Reaching a running owner (`watui status`, `info`, ... beside `watui watch`) loads its client, not its server.
OWNER_CLIENTS = ("watui.cli.reach", "watui.api.paths")

_PROBE = """
import importlib, json, os, sys
names, watched = json.loads(sys.argv[1]), json.loads(sys.argv[2])
found = {}
for name in names:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            importlib.import_module(name)
            result = [m for m in watched if m in sys.modules]
        except BaseException as e:
            result = "import failed: " + repr(e)
        os.write(write, json.dumps(result).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        found[name] = json.loads(pipe.read() or '"child died"')
    os.waitpid(pid, 0)
print(json.dumps(found))
"""


def modules_under(*parts: str) -> list[str]:
    """The dotted names of a package's modules, read from the files (importing nothing)."""
    base = PACKAGE.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return [".".join(("watui", *parts))]
    names = []
    for path in sorted(base.rglob("*.py")):
        rel = path.relative_to(PACKAGE).with_suffix("").parts
        rel = rel[:-1] if rel[-1] == "__init__" else rel
        names.append(".".join(("watui", *rel)))
    return names


CORE = [*modules_under("core"), *modules_under("config"), *modules_under("qr")]
SERVER_SIDE = [*modules_under("api"), *modules_under("sim")]  # aiohttp.web is theirs; Textual and Rich are not
CONTROLS = ["watui.tui.app", "watui.api.app"]
LAYOUT = ["watui.tui.layout"]  # the dashboard's arithmetic: where the QR goes, pure
# The owner's clients, and the public one built on them: aiohttp's client, never its server.
REMOTE = [*modules_under("remote"), "watui.client"]


@cache
def loaded_faces() -> dict[str, list[str] | str]:
    """For every module checked here: the faces its import loaded (or why the import failed)."""
    return loaded([*CORE, *HEADLESS_COMMANDS, *SERVER_SIDE, *CONTROLS, *REMOTE, *LAYOUT], FACES)


@cache
def loaded_browser() -> dict[str, list[str] | str]:
    """For the owner's clients, and the owner: whether their import loaded Playwright (or why it failed)."""
    return loaded([*OWNER_TALKERS, "watui.owner"], BROWSER)


def loaded(names: list[str], watched: tuple[str, ...]) -> dict[str, list[str] | str]:
    """For each of ``names``, imported alone in a clean interpreter: which of ``watched`` were then loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(names), json.dumps(watched)],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    found: dict[str, list[str] | str] = json.loads(proc.stdout)
    return found


def offenders(
    names: list[str] | tuple[str, ...], forbidden: tuple[str, ...], found: dict[str, list[str] | str] | None = None
) -> dict[str, list[str] | str]:
    bad: dict[str, list[str] | str] = {}
    for name in names:
        result = (loaded_faces() if found is None else found)[name]
        if isinstance(result, str):
            bad[name] = result
        elif hits := [m for m in result if m in forbidden]:
            bad[name] = hits
    return bad


def test_the_probe_sees_a_face_when_one_loads() -> None:
    # Without this, a probe that saw nothing (a wrong module name, a broken fork) would pass every test below.
    assert loaded_faces()["watui.tui.app"] == ["textual", "rich"]
    assert "aiohttp.web" in loaded_faces()["watui.api.app"]


def test_the_core_config_and_qr_load_no_face() -> None:
    assert len(CORE) > 20  # every module under watui/core, found from the files
    assert offenders(CORE, FACES) == {}


def test_headless_commands_load_no_face() -> None:
    assert offenders(HEADLESS_COMMANDS, FACES) == {}


def test_the_remote_clients_load_no_face() -> None:
    # cli/reach.py and the attached dashboard reach the owner through remote/ and api/paths.py, never the server.
    assert len(REMOTE) >= 5  # remote/__init__, client, errors, session; watui.client
    assert offenders(REMOTE, FACES) == {}


@pytest.mark.parametrize("name", OWNER_CLIENTS)
def test_reaching_the_owner_loads_no_server(name: str) -> None:
    assert offenders([name], FACES) == {}


def test_the_api_and_the_simulator_load_no_dashboard() -> None:
    assert offenders(SERVER_SIDE, DASHBOARD) == {}


def test_the_dashboards_layout_loads_no_face() -> None:
    assert offenders(LAYOUT, FACES) == {}


def test_the_owners_clients_load_no_browser() -> None:
    # `watui send` and `watui messages` talk to the running owner: they must not pay for Playwright's import.
    assert loaded_browser()["watui.owner"] == ["playwright"]  # the probe sees it where it does load
    assert offenders(OWNER_TALKERS, BROWSER, loaded_browser()) == {}


# A command run for real (its lazy imports included), on an empty session folder and no owner: which faces were
# in sys.modules when it exited.
_RUN = """
import atexit, json, sys
atexit.register(lambda: print("\\nLOADED " + json.dumps([m for m in json.loads(sys.argv[1]) if m in sys.modules])))
from watui.cli import main
raise SystemExit(main(sys.argv[2:]))
"""
# `watui send` and `watui messages` with no owner: they say how to start one, and never load a browser for it.
OWNER_COMMANDS = ("send +15550001234 hello", "messages")
COMMANDS = ("info --json", "status", "history --json", "snapshots", *OWNER_COMMANDS)


@pytest.fixture(scope="module")
def command_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("headless-commands")
    (root / "config.toml").write_text(f'[session]\nsession_path = "{root / "sessions"}"\n')
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WATUI_")},
        "XDG_CONFIG_HOME": str(root / "xdg-config"),
        "XDG_STATE_HOME": str(root / "xdg-state"),
        "XDG_RUNTIME_DIR": str(root / "xdg-runtime"),
    }
    runs: dict[str, list[str]] = {}
    for command in COMMANDS:
        proc = subprocess.run(
            [sys.executable, "-c", _RUN, json.dumps([*FACES, *BROWSER]), "--config", "config.toml", *command.split()],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        loaded = [line for line in proc.stdout.splitlines() if line.startswith("LOADED ")]
        assert loaded, f"watui {command} did not run to its exit: {proc.stdout}{proc.stderr}"
        runs[command] = json.loads(loaded[-1].removeprefix("LOADED "))
    return runs


@pytest.mark.parametrize("command", COMMANDS)
def test_a_headless_command_runs_without_the_dashboard(command_runs: dict[str, list[str]], command: str) -> None:
    assert [m for m in command_runs[command] if m in DASHBOARD] == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_headless_command_runs_without_the_server(command_runs: dict[str, list[str]], command: str) -> None:
    assert "aiohttp.web" not in command_runs[command]


@pytest.mark.parametrize("command", OWNER_COMMANDS)
def test_a_command_for_the_owner_runs_without_a_browser(command_runs: dict[str, list[str]], command: str) -> None:
    assert "playwright" not in command_runs[command]
