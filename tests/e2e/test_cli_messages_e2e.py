"""`watui send` and `watui messages` end to end: a `watch` owner on a simulator that outlives it (`watui sim`),
the CLI run as real processes beside it (`watui --demo send ...` in the owner's folder, as a user would), what
the contacts received counted in `/__sim/messages`, their phones' acks moved with `/__sim/ack`, incoming
messages POSTed to `/__sim/incoming`. One site and one owner for the module (the last test restarts it).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.messaging_e2e import CONTACTS, Owner, Site, connected_owner, running_site, wait_until
from tests.support.watui_proc import WATUI

# One owner for the module, its tests in order (the listing finds the first test's send): one xdist worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("cli_messages_e2e")]
SHELL_BOT = Path(__file__).resolve().parents[2] / "examples" / "shell_bot.sh"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with running_site(tmp_path_factory.mktemp("site")) as running:
        yield running


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory, site: Site, chromium_path: Path) -> Iterator[Owner]:
    with connected_owner(tmp_path_factory.mktemp("owner"), site) as watui:
        yield watui


def watui(owner: Owner, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WATUI, "--demo", *argv], cwd=owner.cwd, env=owner.env, text=True, capture_output=True,
                          timeout=timeout, check=False)  # fmt: skip


class Lines:
    """A process's stdout read line by line in a thread, so a test waits for a line with a timeout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        self._lines: queue.Queue[str] = queue.Queue()
        stream = proc.stdout

        def pump() -> None:
            for line in stream:
                self._lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

    def next(self, timeout: float = 60) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout:g} s") from None


def _at_contacts(site: Site, body: str) -> list[dict[str, Any]]:
    return [m for m in site.received() if m["body"] == body]


def test_send_lands_once_and_wait_returns_at_the_ack_or_says_not_yet_or_why_it_failed(owner: Owner, site: Site) -> None:
    site.call("/__sim/ack?freeze=1", "POST")  # the contacts' phones ack only when the test says
    try:
        done = watui(owner, "send", CONTACTS[0], "hello from the shell")
        assert (done.returncode, done.stderr) == (0, "")
        message_id = done.stdout.strip()
        wait_until(lambda: _at_contacts(site, "hello from the shell"), "the text at the contact")
        time.sleep(0.5)  # a repeat would show now
        assert [m["id"] for m in _at_contacts(site, "hello from the shell")] == [message_id]

        waiting = subprocess.Popen([*WATUI, "--demo", "send", CONTACTS[1], "ack me", "--wait", "delivered"],
                                   cwd=owner.cwd, env=owner.env, text=True, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)  # fmt: skip
        waited_id = Lines(waiting).next().strip()  # the id at once, before the wait
        wait_until(lambda: owner.message(waited_id)["status"] == "sent", "sent")
        time.sleep(0.5)
        assert waiting.poll() is None  # sent is not delivered
        site.call(f"/__sim/ack?id={waited_id}&ack=2", "POST")
        assert waiting.wait(timeout=30) == 0 and owner.message(waited_id)["status"] == "delivered"

        late = watui(owner, "send", CONTACTS[2], "read me", "--wait", "read", "--timeout", "1", "--json")
        assert late.returncode == 3 and "not yet read" in late.stderr and "still goes" in late.stderr
        assert json.loads(late.stdout)["status"] in ("queued", "claimed", "sent")

        stranger = watui(owner, "send", "15559990000", "who are you?", "--wait", "sent")
        assert stranger.returncode == 1
        assert stranger.stderr.strip().endswith("failed: 15559990000 is not on WhatsApp")
        assert stranger.stderr.count("\n") == 1 and "Traceback" not in stranger.stderr
    finally:
        site.call("/__sim/ack?freeze=0", "POST")


def test_without_an_owner_send_says_how_to_start_one_and_starts_no_browser(owner: Owner, tmp_path: Path) -> None:
    env = {**owner.env, "XDG_STATE_HOME": str(tmp_path / "state")}  # another demo session: nobody runs it
    done = subprocess.run([*WATUI, "--demo", "send", CONTACTS[0], "hi"], cwd=owner.cwd, env=env, text=True,
                          capture_output=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "start one with 'watui --demo watch'" in done.stderr
    assert not (tmp_path / "state").exists()  # no session folder, so no profile: no browser ran on it


def test_messages_lists_what_went_and_came_and_follow_goes_on_through_a_restart(owner: Owner, site: Site) -> None:
    assert watui(owner, "send", CONTACTS[1], "listed going out").returncode == 0  # this test's own, in any order
    site.call("/__sim/incoming", "POST", {"from": CONTACTS[0], "text": "hi watui"})
    wait_until(lambda: any(m["direction"] == "in" for m in _listing(owner)), "the incoming message listed")
    listing = _listing(owner)
    assert "listed going out" in [m.get("body") for m in listing if m["direction"] == "out"]
    assert [m["body"] for m in listing if m["direction"] == "in"] == ["hi watui"]

    shell = {name: value for name, value in owner.env.items() if name != "PYTHONUNBUFFERED"}  # a pipe buffers
    follow = subprocess.Popen([*WATUI, "--demo", "messages", "--follow", "--json", "--since", listing[-1]["cursor"]],
                              cwd=owner.cwd, env=shell, text=True, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)  # fmt: skip
    try:
        lines = Lines(follow)
        time.sleep(1.0)
        site.call("/__sim/incoming", "POST", {"from": CONTACTS[1], "text": "are you following?"})
        first = json.loads(lines.next())
        assert (first["direction"], first["chat"]) == ("in", f"{CONTACTS[1]}@c.us")

        owner.kill9()  # the follower stays, reconnecting
        owner.signal_browsers(signal.SIGKILL)
        site.call("/__sim/incoming", "POST", {"from": CONTACTS[2], "text": "while watui was down"})
        owner.start()
        wait_until(lambda: owner.state() == "CONNECTED", "the restarted owner connected")
        second = json.loads(lines.next())
        assert (second["direction"], second["chat"]) == ("in", f"{CONTACTS[2]}@c.us")
        assert follow.poll() is None
        follow.send_signal(signal.SIGINT)
        assert follow.wait(timeout=30) == 130
    finally:
        if follow.poll() is None:
            follow.kill()
        follow.wait(timeout=30)
    assert follow.stderr is not None and "Traceback" not in follow.stderr.read()


def _listing(owner: Owner) -> list[dict[str, Any]]:
    done = watui(owner, "messages", "--json", "--bodies")
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_the_shell_bot_of_the_docs_answers_each_text_once(owner: Owner, site: Site) -> None:
    bin_dir = Path(sys.executable).parent  # where `watui` is installed beside this python
    env = {**owner.env, "PATH": f"{bin_dir}:{owner.env.get('PATH', '')}", "WATUI": "watui --demo"}
    env.pop("PYTHONUNBUFFERED", None)
    # Where a previous run of the bot stopped: after everything there now (so no race with `now` at its start).
    (owner.cwd / "bot.cursor").write_text(_listing(owner)[-1]["cursor"] + "\n")
    bot = subprocess.Popen(["sh", str(SHELL_BOT)], cwd=owner.cwd, env=env, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
    try:
        time.sleep(1.0)
        site.call("/__sim/incoming", "POST", {"from": CONTACTS[0], "text": "ping"})
        wait_until(lambda: _at_contacts(site, "echo: ping"), "the bot's answer")
        site.call("/__sim/incoming", "POST", {"from": CONTACTS[1], "text": "two\nlines"})
        wait_until(lambda: _at_contacts(site, "echo: two\nlines"), "the bot's second answer")
        time.sleep(1.0)  # a repeat would show now
        echoes = [(m["to"], m["body"]) for m in site.received() if m["body"].startswith("echo: ")]
        assert echoes == [(f"{CONTACTS[0]}@c.us", "echo: ping"), (f"{CONTACTS[1]}@c.us", "echo: two\nlines")]
        assert bot.poll() is None
        saved = (owner.cwd / "bot.cursor").read_text().strip()
        after = watui(owner, "messages", "--json", "--since", saved)
        assert [json.loads(line)["body"] for line in after.stdout.splitlines()] in ([], ["echo: two\nlines"])
    finally:
        os.killpg(bot.pid, signal.SIGTERM)
        _out, err = bot.communicate(timeout=30)
    assert "Traceback" not in err, err
