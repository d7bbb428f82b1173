"""config.toml as a user meets it through the command line: mistakes are one line, exit 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from watui.cli import main
from watui.config import Config, load_config

if TYPE_CHECKING:
    from tests.support.layout import ConfigWriter


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def profile_path(capsys: pytest.CaptureFixture[str], *argv: str) -> Path:
    """The session path watui settles on, read from `watui info --json` (no session exists: exit 1)."""
    code, out, err = run(capsys, "info", "--json", *argv)
    assert code == 1, err
    return Path(json.loads(out)["session"]["path"])


def assert_one_line_error(err: str, *needles: str) -> None:
    assert err.startswith("watui: ")
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ('[session]\nclient_idd = "x"\n', ["unknown key 'session.client_idd'", "client_id"]),
        ("[sesion]\n", ["unknown section [sesion]"]),
        ('[session]\nmax_session_size_mb = "big"\n', ["'session.max_session_size_mb'", "whole number", "'big'"]),
        ("[session]\nmax_session_size_mb = 0\n", ["'session.max_session_size_mb'", "between 1 and", "got 0"]),
        ("[browser]\nheadless = 1\n", ["'browser.headless'", "true or false"]),
        ("[reconnect]\nmultiplier = 0.5\n", ["'reconnect.multiplier'", "between 1.0 and 10.0"]),
        ('[session]\nclient_id = "a b"\n', ["'session.client_id'", "letters, digits"]),
        ('[whatsapp]\nselectors = { nonsense = "div" }\n', ["unknown selectors entry 'nonsense'"]),
        ('[whatsapp.selectors]\nconnected = "div[data-x"\n', ["'whatsapp.selectors'", "'connected'", "valid CSS"]),
        ('[whatsapp.pixels]\nqr_canvas = "canvas >"\n', ["'whatsapp.pixels'", "'qr_canvas'", "not a valid CSS"]),
        ('[whatsapp.modules]\nsocket = "WAWeb Socket"\n', ["'whatsapp.modules'", "'socket'", "not a module name"]),
        ('[whatsapp.modules]\nsockets = "X"\n', ["unknown modules entry 'sockets'", "socket"]),
        ('[demo]\npage = "classic"\n', ["'demo.page'", "modules, dom, canvas, unknown"]),
        ("[session\nclient_id = 1\n", ["not valid TOML"]),
        ("session = 3\n", ["[session] must be a table"]),
        ("[reconnect]\nmultiplier = nan\n", ["'reconnect.multiplier'", "finite number"]),
        ('[keys]\nreconnect = ""\n', ["'keys.reconnect'", "key names separated by commas"]),
        ('[keys]\nreload = "r"\n', ["unknown key 'keys.reload'", "reconnect"]),
    ],
)
def test_config_mistakes_are_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str, needles: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(raw)
    code, out, err = run(capsys, "info", "--config", str(config))
    assert code == 2 and out == ""
    assert_one_line_error(err, str(config), *needles)


def test_config_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_bytes(b'[session]\nclient_id = "\xff\xfe"\n')
    code, _, err = run(capsys, "info", "--config", str(config))
    assert code == 2
    assert_one_line_error(err, str(config), "not UTF-8")


def test_missing_config_file_given_with_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "info", "--config", str(tmp_path / "nope.toml"))
    assert code == 2
    assert_one_line_error(err, "nope.toml", "not found")


def test_environment_overrides_one_key(
    write_config: ConfigWriter, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(session_path="s", client_id="from-file")
    monkeypatch.setenv("WATUI_SESSION__CLIENT_ID", "abc")
    assert profile_path(capsys, "--config", str(config)).name == "session-abc"


def test_environment_mistake_names_the_variable(
    write_config: ConfigWriter, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATUI_SESSION__MAX_SESSION_SIZE_MB", "lots")
    code, _, err = run(capsys, "info", "--config", str(write_config()))
    assert code == 2
    assert_one_line_error(err, "WATUI_SESSION__MAX_SESSION_SIZE_MB", "session.max_session_size_mb", "whole number")
    monkeypatch.setenv("WATUI_SESSION__MAX_SESSION_SIZE_MB", "300")
    code, out, _ = run(capsys, "info", "--json", "--config", str(write_config()))
    assert json.loads(out)["session"]["maxSizeMB"] == 300


def test_relative_session_path_is_relative_to_the_config_file(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(folder=tmp_path / "etc" / "watui", session_path="./sessions", client_id="bot")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = profile_path(capsys, "--config", str(config))
    assert path == (tmp_path / "etc" / "watui" / "sessions" / "session-bot").resolve()


def test_lookup_order(
    tmp_path: Path, write_config: ConfigWriter, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "work"
    xdg = tmp_path / "xdg"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    # Nothing anywhere: built-in defaults, relative to the working folder.
    assert profile_path(capsys) == cwd.resolve() / "whatsapp-session-pro" / "session-whatsapp-automation-pro"
    # The user config folder.
    write_config(folder=xdg / "watui", client_id="from-xdg")
    assert profile_path(capsys).name == "session-from-xdg"
    # ./config.toml beats the user config folder.
    write_config(folder=cwd, client_id="from-cwd")
    assert profile_path(capsys).name == "session-from-cwd"
    # --config beats both, before or after the sub-command.
    explicit = write_config(folder=tmp_path / "explicit", client_id="from-flag")
    assert profile_path(capsys, "--config", str(explicit)).name == "session-from-flag"
    code, out, _ = run(capsys, "--config", str(explicit), "info", "--json")
    assert code == 1 and Path(json.loads(out)["session"]["path"]).name == "session-from-flag"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "info", "--jsn")
    assert code == 2 and "unrecognized arguments: --jsn" in err and "Traceback" not in err


def test_the_shipped_config_toml_loads_and_says_the_defaults() -> None:
    shipped = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    defaults = Config()
    for section in ("session", "reconnect", "browser", "whatsapp", "api", "demo"):
        assert getattr(shipped, section) == getattr(defaults, section), section


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        (f'[session]\nclient_id = "{"a" * 300}"\n', ["'session.client_id'", "at most 100 characters", "300"]),
        ('[session]\nsession_path = "a\\u0000b"\n', ["'session.session_path'", "NUL"]),
        ('[browser]\nexecutable = "/usr/bin/chro\\u0000mium"\n', ["'browser.executable'", "NUL"]),
    ],
    ids=["long-client-id", "nul-session-path", "nul-executable"],
)
@pytest.mark.parametrize("command", ["info", "init"])
def test_names_the_filesystem_cannot_hold_are_config_mistakes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str, needles: list[str], command: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(raw)
    code, out, err = run(capsys, command, "--config", str(config))
    assert code == 2 and out == ""
    assert_one_line_error(err, str(config), *needles)


def test_config_path_too_long_for_the_filesystem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    too_long = tmp_path / ("c" * 300 + ".toml")
    code, out, err = run(capsys, "info", "--config", str(too_long))
    assert code == 2 and out == ""
    assert_one_line_error(err, str(too_long), "File name too long")


@pytest.mark.parametrize(
    ("raw", "needles"),
    [
        ("[messages]\nttl_s = 0\n", ["'messages.ttl_s'", "between 10 and", "got 0"]),
        ('[messages]\nmax_per_minute = "lots"\n', ["'messages.max_per_minute'", "a number", "'lots'"]),
        ("[messages]\nmax_per_minute = 0\n", ["'messages.max_per_minute'", "between 0.1 and 600"]),
        ("[messages]\nmin_gap_per_chat_s = -1\n", ["'messages.min_gap_per_chat_s'", "between 0 and 3600"]),
        ("[messages]\nkeep_days = 1.5\n", ["'messages.keep_days'", "whole number"]),
        ("[messages]\nmax_queued = 0\n", ["'messages.max_queued'", "between 1 and"]),
        ("[messages]\nttl = 60\n", ["unknown key 'messages.ttl'", "ttl_s"]),
    ],
)
def test_messages_mistakes_are_one_line_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str, needles: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(raw)
    code, out, err = run(capsys, "info", "--config", str(config))
    assert code == 2 and out == ""
    assert_one_line_error(err, str(config), *needles)


def test_messages_settings_from_the_file_the_environment_and_the_shipped_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = load_config(Path(__file__).resolve().parents[2] / "config.toml")
    assert shipped.messages == Config().messages
    config = tmp_path / "config.toml"
    config.write_text("[messages]\nmax_per_minute = 6\nttl_s = 600\n")
    monkeypatch.setenv("WATUI_MESSAGES__MIN_GAP_PER_CHAT_S", "30")
    loaded = load_config(config).messages
    assert (loaded.max_per_minute, loaded.ttl_s, loaded.min_gap_per_chat_s) == (6.0, 600.0, 30.0)
    assert (loaded.keep_days, loaded.max_queued) == (30, 1000)
