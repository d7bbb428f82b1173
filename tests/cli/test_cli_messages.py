"""`watui send` and `watui messages` as real processes against a real owner's control socket: the messaging
service on real files behind ``start_control`` (tests/test_client.py's Owner; the tab is the messaging tests'
FakeTab, which "sends" at once and acks when the test pushes one). A restart of the owner is its socket closed
and its service stopped, then both again on the same files (tests/test_cli_messages_e2e.py kills a real one).
`watui messages webhook-test` against tests/alert_helpers.py's receiver (it checks the signature).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.api.test_client import Owner
from tests.support.alert_receiver import receiver
from tests.support.api import wait_for
from tests.support.messaging import ACCOUNT, CONTACT
from tests.support.watui_proc import WATUI
from watui.cli.messages import message_line
from watui.config import load_config
from watui.core.disk.store import SessionStore
from watui.core.messages.inbox import InboxRow
from watui.core.messages.outbox_rows import OutboxRow, State
from watui.core.messages.port import Cursor, Message, page_of
from watui.core.session.offline import owner_lock

# As from a shell: stdout to a pipe is block-buffered unless the command flushes (a follower must, per line).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}


def write_config(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f'[session]\nsession_path = "{folder / "session"}"\n'
        f"[messages]\nmax_per_minute = 600\nmin_gap_per_chat_s = 0\nmax_queued = 3\n{extra}"
    )
    return path


@asynccontextmanager
async def owner_on(tmp_path: Path) -> AsyncIterator[tuple[Owner, Path]]:
    """A running owner, and its config.toml (the CLI is pointed at it with --config)."""
    toml = write_config(tmp_path)
    owner = Owner(tmp_path)
    owner.config = owner.session.config = load_config(toml)
    await owner.start()
    await owner.serve()
    try:
        yield owner, toml
    finally:
        await owner.stop()


async def watui(toml: Path, *argv: str, stdin: bytes = b"", timeout: float = 30) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        *WATUI, "--config", str(toml), *argv,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(stdin), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_line(err: str) -> str:
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def sent_by(owner: Owner) -> list[tuple[str, str, str]]:
    assert owner.session.tab is not None
    return list(owner.session.tab.sent)


async def test_send_queues_through_the_owner_and_prints_the_id(tmp_path: Path) -> None:
    async with owner_on(tmp_path) as (owner, toml):
        code, out, err = await watui(toml, "send", CONTACT, "hello there")
        assert (code, err) == (0, "")
        message_id = out.strip()
        await wait_for(lambda: len(sent_by(owner)) == 1, what="the send at the contact")
        assert sent_by(owner) == [(message_id, CONTACT, "hello there")]

        code, out, _ = await watui(toml, "send", CONTACT, "-", "--key", "k1", "--json", stdin=b"from stdin\n")
        first = json.loads(out)
        assert code == 0 and out.count("\n") == 1  # one line of JSON
        assert (first["status"], first["key"], first["size"]) == ("queued", "k1", len("from stdin"))
        code, out, _ = await watui(toml, "send", CONTACT, "-", "--key", "k1", "--json", stdin=b"from stdin\n")
        assert json.loads(out)["id"] == first["id"]  # the same key: the same message, not a second one
        await wait_for(lambda: len(sent_by(owner)) == 2, what="the stdin send")
        await asyncio.sleep(0.3)
        assert [body for _id, _chat, body in sent_by(owner)] == ["hello there", "from stdin"]


async def test_send_wait_exits_0_at_the_ack_3_when_not_yet_and_1_with_the_reason(tmp_path: Path) -> None:
    async with owner_on(tmp_path) as (owner, toml):
        waiting = asyncio.create_task(watui(toml, "send", CONTACT, "are you there?", "--wait", "delivered"))
        await wait_for(lambda: len(sent_by(owner)) == 1, what="the send")
        await asyncio.sleep(0.5)
        assert not waiting.done()  # sent is not delivered
        message_id = sent_by(owner)[0][0]
        await owner.ack(message_id, 2, "delivered")
        code, out, err = await waiting
        assert (code, out.strip(), err) == (0, message_id, "")

        code, out, err = await watui(toml, "send", CONTACT, "and now?", "--wait", "read", "--timeout", "0.5", "--json")
        late = json.loads(out)
        assert code == 3 and late["status"] in ("sent", "claimed", "queued")
        assert "not yet read, after 0.5 s" in one_line(err) and "still goes" in err

        proc = await asyncio.create_subprocess_exec(
            *WATUI, "--config", str(toml), "send", CONTACT, "stop waiting", "--wait", "read",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV,
        )  # fmt: skip
        await wait_for(lambda: len(sent_by(owner)) == 3, what="the interrupted one's send")
        await asyncio.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        out_b, err_b = await asyncio.wait_for(proc.communicate(), 15)
        assert proc.returncode == 130 and out_b.decode().strip() == sent_by(owner)[2][0]
        assert "stopped waiting; message " in one_line(err_b.decode()) and "still goes" in err_b.decode()

        failing = asyncio.create_task(watui(toml, "send", CONTACT, "this one fails", "--wait", "read"))
        await wait_for(lambda: len(sent_by(owner)) == 4, what="the fourth send")
        await asyncio.sleep(0.3)
        await owner.ack(sent_by(owner)[3][0], -1, "failed")
        code, out, err = await failing
        assert code == 1 and out.strip() == sent_by(owner)[3][0]
        assert one_line(err).startswith(f"watui send: message {out.strip()} to {CONTACT} failed: ")


async def test_the_owners_refusals_are_one_line_each(tmp_path: Path) -> None:
    async with owner_on(tmp_path) as (owner, toml):
        code, _out, err = await watui(toml, "send", "0612345678", "x")
        assert code == 2 and "to: '0612345678' starts with 0" in one_line(err)
        assert owner.session.tab is not None
        owner.session.tab.hold = True  # the page never answers a send: the outbox fills (max_queued = 3)
        accepted = 0
        while (answer := await watui(toml, "send", CONTACT, f"waits {accepted}"))[0] == 0 and accepted < 6:
            accepted += 1
        code, _out, err = answer
        assert code == 1 and accepted == 3 and "max_queued" in one_line(err) and "try again in" in err
        owner.session.tab.hang.set()
        owner.session.on_disk = owner.session.wid = None
        code, _out, err = await watui(toml, "send", CONTACT, "from nobody", "--key", "other")
        assert code == 1 and "scan the QR" in one_line(err)


async def test_without_an_owner_send_and_messages_say_how_to_start_one_and_start_nothing(tmp_path: Path) -> None:
    toml = write_config(tmp_path)
    for argv in (("send", CONTACT, "hi"), ("messages", "--follow")):
        code, out, err = await watui(toml, *argv)
        line = one_line(err)
        assert (code, out) == (1, "") and "no watui runs the session" in line
        assert f"'watui --config {toml} watch'" in line and "systemd" in line
    assert not (tmp_path / "session").exists()  # no browser, no profile: nothing started
    code, _out, err = await watui(toml, "send", CONTACT, "hi", "--timeout", "5")
    assert code == 2 and "--timeout needs --wait" in one_line(err)
    code, _out, err = await watui(toml, "send", CONTACT, "-", stdin=b"\n")
    assert code == 2 and "the text is empty" in one_line(err)
    code, _out, err = await watui(toml, "messages", "--since", "yesterday")
    assert code == 2 and "--since must be a duration such as 30m" in one_line(err)


async def test_messages_lists_what_went_and_came_and_a_cursor_resumes_exactly(tmp_path: Path) -> None:
    async with owner_on(tmp_path) as (owner, toml):
        await owner.incoming("3A01", "first in")
        assert (await watui(toml, "send", CONTACT, "first out"))[0] == 0
        await owner.incoming("3A02", "second in\nover two lines")
        code, out, err = await watui(toml, "messages", "--json", "--bodies")
        lines = [json.loads(line) for line in out.splitlines()]
        assert (code, err) == (0, "")
        assert [(m["direction"], m["body"]) for m in lines] == [
            ("in", "first in"), ("out", "first out"), ("in", "second in\nover two lines"),
        ]  # fmt: skip
        code, out, _ = await watui(toml, "messages", "--json", "--since", lines[0]["cursor"])
        assert [json.loads(line)["id"] for line in out.splitlines()] == [lines[1]["id"], lines[2]["id"]]
        assert "body" not in out  # no texts unless asked
        code, out, _ = await watui(toml, "messages", "--json", "--since", lines[2]["cursor"])
        assert (code, out) == (0, "")
        code, out, _ = await watui(toml, "messages", "--json", "--since", "now")
        assert (code, out) == (0, "")  # now: only what comes next
        code, out, _ = await watui(toml, "messages", "--limit", "1", "--bodies")
        assert out.count("\n") == 1 and "← " in out and "second in\\nover two lines" in out  # newest, one line
        code, out, _ = await watui(toml, "messages", "--since", "1h")
        assert [line.split()[1:] for line in out.splitlines()] == [
            ["←", CONTACT, "received", "8", "chars"], ["→", CONTACT, "sent", "9", "chars"],
            ["←", CONTACT, "received", "24", "chars"],
        ]  # fmt: skip
        await asyncio.sleep(1.2)
        code, out, _ = await watui(toml, "messages", "--since", "1s", "--json")
        assert (code, out) == (0, "")  # all older than 1 s now: none shown (--since 1h above showed them all)


async def test_messages_follow_prints_each_new_one_through_an_owner_restart_until_ctrl_c(tmp_path: Path) -> None:
    async with owner_on(tmp_path) as (owner, toml):
        await owner.incoming("3A01", "before")
        (before,) = (await watui(toml, "messages", "--json"))[1].splitlines()
        proc = await asyncio.create_subprocess_exec(
            *WATUI, "--config", str(toml), "messages", "--follow", "--json", "--since", json.loads(before)["cursor"],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=ENV,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            await asyncio.sleep(1.0)  # following (what comes before that is read by the cursor all the same)
            await owner.incoming("3A02", "while it follows")
            first = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
            assert (first["id"], first["direction"]) == ("3A02", "in")  # not 3A01: it is before the cursor

            await owner.stop()
            await asyncio.sleep(0.5)
            await owner.start()
            await owner.incoming("3A03", "while the owner was away")
            await owner.incoming("3A04", "and another")  # read in one page after the restart
            await owner.serve()
            second = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
            third = json.loads(await asyncio.wait_for(proc.stdout.readline(), 15))
            assert [second["id"], third["id"]] == ["3A03", "3A04"]
            # Each line's cursor is right after it, even mid-page: a bot stopped after 3A03 resumes at 3A04.
            code, out, _ = await watui(toml, "messages", "--json", "--since", second["cursor"])
            assert [json.loads(line)["id"] for line in out.splitlines()] == ["3A04"]
            proc.send_signal(signal.SIGINT)
            assert await asyncio.wait_for(proc.wait(), 15) == 130
            assert await proc.stdout.read() == b""  # nothing twice
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.stderr is not None and b"Traceback" not in await proc.stderr.read()


def test_each_message_of_a_page_has_the_cursor_that_resumes_right_after_it() -> None:
    out = [OutboxRow(seq=n, id=f"3EB0{n}", account=ACCOUNT, chat=CONTACT, body=f"o{n}", accepted_at=float(n * 2),
                     expires_at=9e9, state=State.SENT, sent_at=float(n * 2 + 1)) for n in range(1, 4)]  # fmt: skip
    inc = [InboxRow(seq=n, id=f"3A{n}", account=ACCOUNT, chat=CONTACT, sender=None, t=1.0, received_at=float(n * 2 + 1),
                    kind="chat", body=f"i{n}") for n in range(1, 4)]  # fmt: skip

    def after(cursor: Cursor) -> list[str]:
        page = page_of([r for r in out if r.seq > cursor.out_seq], [r for r in inc if r.seq > cursor.in_seq],
                       cursor, 100)  # fmt: skip
        return [m.id for m in page.messages]

    page = page_of(out, inc, Cursor(), 100)
    ids = [m.id for m in page.messages]
    assert len(page.cursors) == len(ids) == 6
    for index in range(6):
        assert after(Cursor.parse(page.cursor_after(index))) == ids[index + 1 :]  # exactly the rest
    assert [m["cursor"] for m in page.to_json()["messages"]] == list(page.cursors)


def test_a_message_line_says_when_which_way_where_how_it_is_and_its_size() -> None:
    now = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    out = Message("3EB01", "out", "15550002001@c.us", "failed", 22, reason="expired",
                  accepted_at=(now - timedelta(minutes=3)).timestamp(), body="two\nlines")  # fmt: skip
    assert message_line(out, now=now) == "    13:57:00  → 15550002001@c.us  failed (expired)  22 chars"
    assert message_line(out, now=now, bodies=True).endswith("22 chars  two\\nlines")
    came = Message("3A1", "in", "1203@g.us", "received", 1, sender="15550002002@c.us",
                   received_at=(now - timedelta(days=2)).timestamp())  # fmt: skip
    assert message_line(came, now=now) == "Nov 29 14:00  ← 1203@g.us (15550002002@c.us)  received  1 char"


async def test_webhook_test_says_what_the_receiver_answered(tmp_path: Path) -> None:
    with receiver(secret="s3cret") as good:
        toml = write_config(tmp_path / "good", f'[messages.webhook]\nurl = "{good.url}"\nsecret = "s3cret"\n')
        code, out, err = await watui(toml, "messages", "webhook-test")
        assert (code, err) == (0, "") and out.startswith(f"✓ http://127.0.0.1:{good.port}/… answered HTTP 200 in ")
        (request,) = good.requests
        assert request.json["event"] == "test" and request.headers["x-watui-event"] == "test"

        toml = write_config(tmp_path / "wrong", f'[messages.webhook]\nurl = "{good.url}"\nsecret = "guess"\n')
        code, out, _ = await watui(toml, "messages", "webhook-test", "--json")
        answer: dict[str, Any] = json.loads(out)
        assert code == 1 and (answer["status"], answer["reason"]) == (401, "HTTP 401: bad signature")
    # The receiver is gone: its port refuses.
    code, out, _ = await watui(tmp_path / "good" / "config.toml", "messages", "webhook-test")
    assert code == 1 and out.startswith("✗ http://127.0.0.1:") and "connection refused" in out
    code, out, err = await watui(write_config(tmp_path / "none"), "messages", "webhook-test")
    assert (code, out) == (2, "") and "no webhook: set [messages.webhook] url" in one_line(err)


def test_the_shell_bot_of_the_docs_is_the_example_the_e2e_test_runs() -> None:
    root = Path(__file__).resolve().parents[2]
    code = (root / "examples" / "shell_bot.sh").read_text()
    assert code in re.findall(r"```sh\n(.*?)```", (root / "docs" / "messaging.md").read_text(), re.S)


def test_send_and_messages_load_neither_the_dashboard_nor_a_server() -> None:
    probe = (
        "import sys, watui.cli.messages, watui.client, watui.cli.signals, watui.core.messages.webhook_post\n"
        "print(','.join(m for m in ('textual', 'rich', 'aiohttp.web') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == ""


async def test_a_watui_that_holds_the_session_but_serves_no_socket_is_named_not_mistaken_for_none(
    tmp_path: Path,
) -> None:
    toml = write_config(tmp_path)
    store = SessionStore(load_config(toml))
    store.root.mkdir(parents=True)
    with owner_lock(store):  # this process owns the session, as a watui whose socket could not be served
        code, out, err = await watui(toml, "send", CONTACT, "hi")  # waits for a starting owner's socket first
    assert (code, out) == (1, "")
    assert f"watui (pid {os.getpid()}) runs but serves no control socket: no socket at " in one_line(err)
