"""The outbox and the inbox on real files, with real processes killed by SIGKILL: what a user would lose.

The child processes are ``tests/support/messages.py``; the page is a fake that writes what it "sent" to
a file (the chat as the recipient sees it), so a duplicate or a loss shows there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.messages import ACCOUNT, CHATS, FAST, FakePage, send_everything
from watui.config import MessagesSettings
from watui.core.messages import (
    AddressError,
    Found,
    Inbox,
    Incoming,
    NotSent,
    Outbox,
    OutboxRow,
    Pace,
    Plan,
    Sender,
    SenderBusy,
    SendRefused,
    State,
    StoreDamaged,
    StoreError,
    normalise_to,
    plan_next,
)
from watui.core.messages.pacing import Head

ROOT = Path(__file__).resolve().parents[2]
HELPER = [sys.executable, str(ROOT / "tests" / "support" / "messages.py")]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
OTHER = "15559998888@c.us"  # another account, scanned later on the same session
T0 = 1_800_000_000.0


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def child(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([*HELPER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**ENV, **(env or {})})  # fmt: skip


def stored_ids(path: Path, table: str) -> dict[str, tuple[str, str]]:
    """Every row of the file as a fresh process would read it: id -> (body, state or chat)."""
    conn = sqlite3.connect(path)
    try:
        column = "state" if table == "outbox" else "chat"
        return {i: (b, s) for i, b, s in conn.execute(f"SELECT id, body, {column} FROM {table}")}
    finally:
        conn.close()


def sent_count(log: Path) -> int:
    return len(log.read_text().splitlines()) if log.exists() else 0


def one_line(error: BaseException, *needles: str) -> None:
    text = str(error)
    assert "\n" not in text and "Traceback" not in text, text
    for needle in needles:
        assert needle in text, (needle, text)


# -- committed before the id comes back ------------------------------------------------------------------


def test_every_id_returned_is_in_the_file_though_the_process_was_killed_right_after(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    returned: dict[str, str] = {}
    # Killed by itself the instant the id is printed (no later commit can save it) ...
    for _ in range(4):
        proc = child("accept", str(path), "1", "1")
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for line in out.splitlines():
            message_id, body = line.split(" ", 1)
            returned[message_id] = body
    # ... and by us at a random moment of a long run of accepts.
    for _ in range(2):
        proc = child("accept", str(path), "100000", "0")
        assert proc.stdout is not None
        for _ in range(random.randrange(20, 60)):
            message_id, body = proc.stdout.readline().rstrip("\n").split(" ", 1)
            returned[message_id] = body
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    rows = stored_ids(path, "outbox")
    assert len(returned) >= 44
    missing = {i: b for i, b in returned.items() if rows.get(i) != (b, "queued")}
    assert not missing, f"{len(missing)} accepted ids are not in {path}"


def test_an_incoming_message_is_in_the_file_before_it_is_announced(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    announced: dict[str, int] = {}
    for n in range(4):
        proc = child("record", str(path), str(n), "1", "1")
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        for line in out.splitlines():
            seq, message_id = line.split()
            announced[message_id] = int(seq)
    proc = child("record", str(path), "100", "100000", "0")
    assert proc.stdout is not None
    for _ in range(30):
        seq, message_id = proc.stdout.readline().split()
        announced[message_id] = int(seq)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert len(announced) == 34
    inbox = Inbox.open(path)
    rows = {r.id: r.seq for r in inbox.read(0, limit=100_000)}
    assert {i: rows.get(i) for i in announced} == announced


# -- exactly once ---------------------------------------------------------------------------------------


def test_every_accepted_message_is_sent_exactly_once_and_in_order_through_kill_9(tmp_path: Path) -> None:
    path, log = tmp_path / "outbox.sqlite", tmp_path / "sent.log"
    outbox = Outbox.open(path, FAST)
    accepted = [outbox.accept(CHATS[n % 3], f"message {n}", account=ACCOUNT) for n in range(90)]
    outbox.close()
    # watui killed after the page sent message 5 but before it recorded so (only the check can tell), and
    # after claiming message 11 but before asking the page (a blind skip would lose it).
    for env in ({"CRASH_AFTER_SEND": accepted[5].id}, {"CRASH_BEFORE_SEND": accepted[11].id}):
        proc = child("send", str(path), str(log), env=env)
        proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
    # Then killed at random moments while it sends, restarted each time, until it says it is done.
    rng = random.Random(18)
    kills = 0
    for _ in range(200):
        proc = child("send", str(path), str(log))
        until = sent_count(log) + rng.randrange(1, 8)
        deadline = time.monotonic() + 30
        while proc.poll() is None and sent_count(log) < until and time.monotonic() < deadline:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 0.004))  # anywhere between two sends: mid-claim, mid-send, mid-commit
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert proc.returncode == 0 and out.strip() == "done", err
            break
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        kills += 1
    else:
        pytest.fail("the sender never finished")
    assert kills >= 5
    sent = [line.split()[0] for line in log.read_text().splitlines()]
    twice = [i for i, n in Counter(sent).items() if n > 1]
    assert not twice, f"sent more than once: {twice}"
    assert set(sent) == {m.id for m in accepted}
    for chat in CHATS:  # each chat got its messages in the order they were accepted
        order = [m.id for m in accepted if m.chat == chat]
        assert [i for i in sent if i in order] == order
    states = stored_ids(path, "outbox")
    assert {s for _, s in states.values()} == {"sent"}


async def test_a_browser_that_dies_mid_send_neither_loses_nor_repeats(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    messages = [outbox.accept(CHATS[0], f"m{n}", account=ACCOUNT) for n in range(4)]
    page = FakePage(tmp_path / "sent.log", die_before={messages[1].id}, die_after={messages[2].id})
    await send_everything(outbox, page)
    assert [line.split()[0] for line in page.sent()] == [m.id for m in messages]
    assert messages[1].id in page.finds and messages[2].id in page.finds  # each checked before anything else
    assert [outbox.get(m.id).state for m in messages] == [State.SENT] * 4  # type: ignore[union-attr]


async def test_a_check_the_page_cannot_answer_holds_the_chat_and_never_resends(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    first = outbox.accept(CHATS[0], "first", account=ACCOUNT)
    later = outbox.accept(CHATS[0], "later", account=ACCOUNT)
    other = outbox.accept(CHATS[1], "elsewhere", account=ACCOUNT)
    assert outbox.claim_next(ACCOUNT) == outbox.get(first.id)  # then watui died

    class Syncing(FakePage):
        async def find(self, chat: str, message_id: str) -> Found:
            return Found.UNKNOWN

    page = Syncing(tmp_path / "sent.log")
    sender = Sender(outbox, page, ACCOUNT, retry_s=0.5)
    assert await sender.step() == 0.5  # it will ask the page again soon
    assert await sender.step() == 0.5
    # The other chat went; the first chat waits for its check, in order, and nothing was sent twice.
    assert [line.split()[0] for line in page.sent()] == [other.id]
    assert outbox.get(first.id).state is State.CLAIMED  # type: ignore[union-attr]
    assert outbox.get(later.id).state is State.QUEUED  # type: ignore[union-attr]


async def wait_until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_run_sends_what_is_accepted_and_a_send_cut_by_a_disconnect_is_checked_on_reconnect(
    tmp_path: Path,
) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)

    class Hangs(FakePage):
        """The page takes the message, then the connection drops before it answers."""

        async def send(self, message: OutboxRow) -> None:
            await super().send(message)
            if message.body == "cut":
                await asyncio.Event().wait()

    page = Hangs(tmp_path / "sent.log")
    sender = Sender(outbox, page, ACCOUNT, retry_s=0.01)
    task = asyncio.create_task(sender.run())  # CONNECTED
    first = await outbox.accept_async(CHATS[0], "hello", account=ACCOUNT)
    sender.wake()
    await wait_until(lambda: outbox.get(first.id).state is State.SENT, "the first send")  # type: ignore[union-attr]
    cut = await outbox.accept_async(CHATS[0], "cut", account=ACCOUNT)
    after = await outbox.accept_async(CHATS[0], "after", account=ACCOUNT)
    sender.wake()
    await wait_until(lambda: len(page.sent()) == 2, "the page to take the second")
    task.cancel()  # the connection went
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert outbox.get(cut.id).state is State.CLAIMED  # type: ignore[union-attr]
    reconnected = Sender(outbox, FakePage(page.log), ACCOUNT, retry_s=0.01)
    task = asyncio.create_task(reconnected.run())
    await wait_until(lambda: outbox.get(after.id).state is State.SENT, "the third send")  # type: ignore[union-attr]
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert [line.split()[0] for line in page.sent()] == [first.id, cut.id, after.id]
    assert outbox.get(cut.id).state is State.SENT  # type: ignore[union-attr]


async def test_a_send_accepted_while_the_sender_looks_at_the_queue_is_not_left_waiting(tmp_path: Path) -> None:
    loop = asyncio.get_running_loop()
    late: list[OutboxRow] = []

    class AcceptsMeanwhile(Outbox):
        def plan(self, account: str, now: float | None = None) -> Plan:
            answer = super().plan(account, now)
            if not late:  # a client's send lands just after the sender found the queue empty
                late.append(self.accept(CHATS[0], "just in", account=ACCOUNT))
                loop.call_soon_threadsafe(sender.wake)
            return answer

    outbox = AcceptsMeanwhile(Outbox.open(tmp_path / "outbox.sqlite").db, FAST)
    page = FakePage(tmp_path / "sent.log")
    sender = Sender(outbox, page, ACCOUNT)
    task = asyncio.create_task(sender.run())
    try:
        await wait_until(lambda: len(page.sent()) == 1, "the late send (not at the next 60 s tick)", timeout=5)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert page.sent()[0].split()[0] == late[0].id


async def test_a_page_refusal_fails_the_message_or_puts_it_back_in_its_place(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    nobody = outbox.accept("15550009999", "hi", account=ACCOUNT)
    later = outbox.accept(CHATS[0], "retry me", account=ACCOUNT)

    class Refuses(FakePage):
        offline = True

        async def send(self, message: OutboxRow) -> None:
            if message.id == nobody.id:
                raise NotSent("15550009999 is not on WhatsApp", permanent=True)
            if message.id == later.id and self.offline:
                self.offline = False
                raise NotSent("not connected")
            await super().send(message)

    page = Refuses(tmp_path / "sent.log")
    await send_everything(outbox, page)
    failed = outbox.get(nobody.id)
    assert failed is not None and (failed.state, failed.reason) == (State.FAILED, "15550009999 is not on WhatsApp")
    resent = outbox.get(later.id)
    assert resent is not None and (resent.state, resent.attempts) == (State.SENT, 2)
    assert [line.split()[0] for line in page.sent()] == [later.id]


async def test_only_one_sender_sends_from_an_outbox(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    page = FakePage(tmp_path / "sent.log")
    first = asyncio.create_task(Sender(outbox, page, ACCOUNT).run())
    await asyncio.sleep(0.05)
    with pytest.raises(SenderBusy) as busy:
        await asyncio.wait_for(Sender(Outbox.open(outbox.path, FAST), page, ACCOUNT).run(), 5)
    one_line(busy.value, str(outbox.path), "another sender")
    first.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await first
    second = asyncio.create_task(Sender(outbox, page, ACCOUNT).run())  # the lock went with the first
    await asyncio.sleep(0.05)
    assert not second.done()
    second.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await second


# -- the outbox's rules -----------------------------------------------------------------------------------


def test_the_same_idempotency_key_is_the_same_message(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox.open(path)
    first = outbox.accept("+1 555 000 2222", "hello", account=ACCOUNT, key="order-17")
    outbox.close()
    outbox = Outbox.open(path)  # a client retrying after a crash or a timeout
    again = outbox.accept("15550002222@c.us", "hello", account=ACCOUNT, key="order-17")
    assert again.id == first.id and again.seq == first.seq
    assert len(outbox.rows()) == 1
    with pytest.raises(SendRefused) as refused:
        outbox.accept("15550002222@c.us", "something else", account=ACCOUNT, key="order-17")
    one_line(refused.value, "'order-17'", first.id)
    assert len(outbox.rows()) == 1
    # Another account's key of the same name is its own message.
    assert outbox.accept("15550002222@c.us", "hello", account=OTHER, key="order-17").id != first.id


def test_a_message_not_sent_within_its_ttl_fails_expired(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox.open(tmp_path / "outbox.sqlite", MessagesSettings(ttl_s=60, min_gap_per_chat_s=0), clock=clock)
    stale = outbox.accept(CHATS[0], "on my way", account=ACCOUNT)
    clock.t += 30
    fresh = outbox.accept(CHATS[1], "see you", account=ACCOUNT)
    clock.t += 31  # the first is 61 s old, the second 31 s
    claimed = outbox.claim_next(ACCOUNT)
    assert claimed is not None and claimed.id == fresh.id
    gone = outbox.get(stale.id)
    assert gone is not None and (gone.state, gone.reason) == (State.FAILED, "expired")


async def test_a_claimed_message_found_missing_after_its_ttl_expires_instead_of_going_late(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox.open(tmp_path / "outbox.sqlite", MessagesSettings(ttl_s=60), clock=clock)
    message = outbox.accept(CHATS[0], "late", account=ACCOUNT)
    outbox.claim_next(ACCOUNT)
    clock.t += 120  # watui was down for two minutes
    page = FakePage(tmp_path / "sent.log")
    assert await Sender(outbox, page, ACCOUNT, clock=clock).recover()
    row = outbox.get(message.id)
    assert row is not None and (row.state, row.reason) == (State.FAILED, "expired") and page.sent() == []


def test_a_logout_fails_what_is_queued(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    queued = [outbox.accept(CHATS[n % 3], f"m{n}", account=ACCOUNT) for n in range(3)]
    claimed = outbox.claim_next(ACCOUNT)
    assert claimed is not None
    assert outbox.logout(ACCOUNT) == 3
    rows = {r.id: r for r in outbox.rows()}
    assert {rows[m.id].reason for m in queued if m.id != claimed.id} == {"logged out"}
    assert rows[claimed.id].state is State.FAILED and "may have been sent" in (rows[claimed.id].reason or "")
    assert outbox.claim_next(ACCOUNT) is None


async def test_another_account_never_sends_what_the_first_queued(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    mine = [outbox.accept(CHATS[0], f"m{n}", account=ACCOUNT) for n in range(3)]
    outbox.claim_next(ACCOUNT)  # one was being sent when the phone was swapped
    page = FakePage(tmp_path / "sent.log")
    await send_everything(outbox, page, account=OTHER)
    assert page.sent() == [] and page.finds == []
    assert outbox.claim_next(OTHER) is None
    assert [outbox.get(m.id).state for m in mine] == [State.CLAIMED, State.QUEUED, State.QUEUED]  # type: ignore[union-attr]
    theirs = outbox.accept(CHATS[0], "from the new account", account=OTHER)
    await send_everything(outbox, page, account=OTHER)
    assert [line.split()[0] for line in page.sent()] == [theirs.id]


def test_the_queue_refuses_beyond_max_queued_but_a_replay_still_answers(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", MessagesSettings(max_queued=2))
    first = outbox.accept(CHATS[0], "a", account=ACCOUNT, key="a")
    outbox.accept(CHATS[0], "b", account=ACCOUNT)
    with pytest.raises(SendRefused) as refused:
        outbox.accept(CHATS[0], "c", account=ACCOUNT)
    one_line(refused.value, "max_queued", "2 messages")
    assert outbox.accept(CHATS[0], "a", account=ACCOUNT, key="a").id == first.id
    assert len(outbox.rows()) == 2


def test_acks_move_forward_only_and_confirm_a_claimed_message(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite", FAST)
    message = outbox.accept(CHATS[0], "hi", account=ACCOUNT)
    assert outbox.record_ack(message.id, "delivered") is not None
    assert outbox.get(message.id).state is State.QUEUED  # type: ignore[union-attr]  # never sent: no ack applies
    outbox.claim_next(ACCOUNT)
    assert outbox.record_ack(message.id, "delivered").state is State.DELIVERED  # type: ignore[union-attr]
    assert outbox.record_ack(message.id, "sent").state is State.DELIVERED  # type: ignore[union-attr]
    assert outbox.mark_sent(message.id).state is State.DELIVERED  # type: ignore[union-attr]
    assert outbox.record_ack(message.id, "read").state is State.READ  # type: ignore[union-attr]


# -- pacing ---------------------------------------------------------------------------------------------


def test_pacing_spreads_a_burst_and_keeps_each_chats_gap() -> None:
    pace = Pace(max_per_minute=20, min_gap_per_chat_s=10)
    assert plan_next([], None, {}, T0, pace).at is None
    # Nothing sent yet: the oldest goes now.
    assert plan_next([Head(1, "a"), Head(2, "b")], None, {}, T0, pace) == plan_next([Head(2, "b"), Head(1, "a")],
                                                                                   None, {}, T0, pace)  # fmt: skip
    first = plan_next([Head(1, "a"), Head(2, "b")], None, {}, T0, pace)
    assert (first.seq, first.at) == (1, T0)
    # One went to "a" at T0: the next (to "b") may go 3 s later (60/20), "a" again only after 10 s.
    after = plan_next([Head(3, "a"), Head(2, "b")], T0, {"a": T0}, T0 + 1, pace)
    assert (after.seq, after.at, after.wait_s(T0 + 1)) == (2, T0 + 3, 2.0)
    only_a = plan_next([Head(3, "a")], T0 + 3, {"a": T0}, T0 + 4, pace)
    assert (only_a.seq, only_a.at) == (3, T0 + 10)
    # A clock set back an hour stalls nothing for more than one gap.
    back = plan_next([Head(2, "b")], T0, {}, T0 - 3600, pace)
    assert back.at == T0 - 3600 + 3


def test_the_outbox_paces_a_burst_with_an_injected_clock(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox.open(tmp_path / "outbox.sqlite", MessagesSettings(max_per_minute=20, min_gap_per_chat_s=5),
                         clock=clock)  # fmt: skip
    for n in range(6):
        outbox.accept(CHATS[n % 2], f"m{n}", account=ACCOUNT)
    sent_at: list[tuple[float, str]] = []
    while (at := outbox.next_send_at(ACCOUNT)) is not None:
        if at > clock.t:
            assert outbox.claim_next(ACCOUNT, now=at - 0.01) is None  # not a moment early
        clock.t = at
        claimed = outbox.claim_next(ACCOUNT)
        assert claimed is not None
        outbox.mark_sent(claimed.id)
        sent_at.append((clock.t - T0, claimed.body))
    assert sent_at == [(0, "m0"), (3, "m1"), (6, "m2"), (9, "m3"), (12, "m4"), (15, "m5")]
    # Restarted: the pace comes from the file, not from memory.
    outbox.accept(CHATS[0], "m6", account=ACCOUNT)
    again = Outbox.open(outbox.path, outbox.settings, clock=clock)
    assert again.plan(ACCOUNT).wait_s(clock()) == 3.0


# -- the inbox ------------------------------------------------------------------------------------------


def test_inbox_drops_duplicates_and_a_consumer_resumes_from_its_cursor(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite"
    inbox = Inbox.open(path)
    first = [inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], f"A{n}", f"hi {n}")) for n in range(3)]
    assert all(r is not None for r in first)
    assert inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], "A1", "hi 1")) is None  # redelivered by the page
    assert inbox.record_incoming(Incoming(ACCOUNT, CHATS[1], "A1", "same id, other chat")) is not None
    webhook = inbox.read(inbox.cursor("webhook"))
    assert [r.id for r in webhook] == ["A0", "A1", "A2", "A1"]
    inbox.set_cursor("webhook", webhook[1].seq)  # delivered two, then the receiver went away
    inbox.close()
    inbox = Inbox.open(path)  # watui restarted meanwhile
    rows = inbox.record_many([Incoming(ACCOUNT, CHATS[2], f"B{n}", f"later {n}") for n in range(3)])
    assert len(rows) == 3
    missed = inbox.read(inbox.cursor("webhook"))
    assert [r.id for r in missed] == ["A2", "A1", "B0", "B1", "B2"]
    assert inbox.set_cursor("webhook", webhook[0].seq) == webhook[1].seq  # a late answer never moves it back


def test_prune_keeps_keep_days_and_seqs_never_repeat(tmp_path: Path) -> None:
    clock = Clock()
    inbox = Inbox.open(tmp_path / "inbox.sqlite", keep_days=2, clock=clock)
    old = [inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], f"old{n}", "x")) for n in range(3)]
    clock.t += 86400
    kept = inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], "kept", "y"))
    clock.t += 1.5 * 86400
    assert inbox.prune() == 3
    assert [r.id for r in inbox.read(0)] == ["kept"]
    clock.t += 10 * 86400
    assert inbox.prune() == 1 and inbox.read(0) == []
    new = inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], "new", "z"))
    assert new is not None and kept is not None and old[2] is not None
    assert new.seq > kept.seq > old[2].seq  # a consumer at kept.seq still gets "new"
    assert [r.id for r in inbox.read(kept.seq)] == ["new"]


def test_the_outbox_prune_keeps_what_waits(tmp_path: Path) -> None:
    clock = Clock()
    outbox = Outbox.open(tmp_path / "outbox.sqlite", MessagesSettings(keep_days=1, ttl_s=30 * 86400,
                                                                      min_gap_per_chat_s=0), clock=clock)  # fmt: skip
    done = outbox.accept(CHATS[0], "done", account=ACCOUNT)
    outbox.claim_next(ACCOUNT)
    outbox.mark_sent(done.id)
    waiting = outbox.accept(CHATS[0], "waiting", account=ACCOUNT)
    clock.t += 2 * 86400
    assert outbox.prune() == 1
    assert [r.id for r in outbox.rows()] == [waiting.id]


def test_bodies_stay_out_of_reprs_and_json(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite")
    row = outbox.accept(CHATS[0], "my secret pin 4242", account=ACCOUNT)
    inbox = Inbox.open(tmp_path / "inbox.sqlite")
    incoming = inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], "X", "their secret 9191", data={"caption": "cc"}))
    assert incoming is not None
    for shown in (repr(row), str(row), json.dumps(row.to_json()), repr(incoming), json.dumps(incoming.to_json())):
        assert "secret" not in shown and "caption" not in shown
    assert row.to_json(bodies=True)["body"] == "my secret pin 4242"
    assert incoming.to_json(bodies=True)["body"] == "their secret 9191"


# -- the files on disk ----------------------------------------------------------------------------------


def test_the_files_are_owner_only(tmp_path: Path) -> None:
    Outbox.open(tmp_path / "s" / "outbox.sqlite").accept(CHATS[0], "x", account=ACCOUNT)
    inbox = Inbox.open(tmp_path / "s" / "inbox.sqlite")
    inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], "X", "y"))
    files = sorted((tmp_path / "s").iterdir())
    assert len(files) == 6  # each with its -wal and -shm
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}


@pytest.mark.parametrize("what", ["outbox", "inbox"])
def test_a_damaged_file_is_one_line_kept_and_moved_aside_only_when_asked(tmp_path: Path, what: str) -> None:
    path = tmp_path / f"{what}.sqlite"
    damaged = b"SQLite format 3\x00" + os.urandom(4000)
    path.write_bytes(damaged)
    opener = Outbox.open if what == "outbox" else Inbox.open
    with pytest.raises(StoreDamaged) as error:
        opener(path)
    one_line(error.value, str(path), f"the {what} file is damaged")
    assert path.read_bytes() == damaged  # left as it is
    store = opener(path, move_damaged=True)
    aside = store.db.moved_aside
    assert aside is not None and aside.parent == tmp_path and aside.read_bytes() == damaged
    assert aside.name.startswith(f"{what}.sqlite.damaged-")
    if isinstance(store, Outbox):
        assert store.rows() == [] and store.accept(CHATS[0], "x", account=ACCOUNT).state is State.QUEUED
    else:
        assert store.read(0) == [] and store.record_incoming(Incoming(ACCOUNT, CHATS[0], "X", "y")) is not None


def test_a_file_that_is_not_a_database_at_all(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_text("these are not the messages you are looking for\n" * 50)
    with pytest.raises(StoreDamaged) as error:
        Outbox.open(path)
    one_line(error.value, str(path), "damaged")


@contextlib.contextmanager
def tiny_disk(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (root only); skips the test where it cannot be mounted."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill_until_refused(outbox: Outbox) -> tuple[list[str], StoreError]:
    accepted = []
    for n in range(100_000):
        try:
            accepted.append(outbox.accept(CHATS[0], f"{n} " + "x" * 2000, account=ACCOUNT).id)
        except StoreError as exc:
            return accepted, exc
    pytest.fail("the disk never filled")


def test_a_full_disk_refuses_the_send_naming_the_file_and_keeps_every_accepted_one(tmp_path: Path) -> None:
    with tiny_disk(tmp_path, "400k") as disk:
        path = disk / "outbox.sqlite"
        outbox = Outbox.open(path)
        accepted, error = fill_until_refused(outbox)
        one_line(error, str(path), "the disk is full")
        assert accepted
        outbox.close()
        subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        assert set(stored_ids(path, "outbox")) == set(accepted)


def test_a_database_that_cannot_grow_refuses_the_send_naming_the_file(tmp_path: Path) -> None:
    """The same without root: SQLite's own page limit gives the error a full disk gives."""
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox.open(path)
    outbox.db._conn.execute("PRAGMA max_page_count = 40")  # noqa: SLF001 - the injected failure
    accepted, error = fill_until_refused(outbox)
    one_line(error, str(path), "the disk is full")
    assert set(stored_ids(path, "outbox")) == set(accepted)


def test_a_read_only_disk_refuses_the_send_and_the_incoming_naming_the_file(tmp_path: Path) -> None:
    with tiny_disk(tmp_path, "4m") as disk:
        outbox = Outbox.open(disk / "outbox.sqlite")
        kept = outbox.accept(CHATS[0], "before", account=ACCOUNT)
        outbox.close()
        Inbox.open(disk / "inbox.sqlite").close()
        # watui restarted on a disk that went read-only (ext4's errors=remount-ro does this).
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        for opener, name in ((Outbox.open, "outbox"), (Inbox.open, "inbox")):
            with pytest.raises(StoreError) as error:
                opener(disk / f"{name}.sqlite")
            one_line(error.value, str(disk / f"{name}.sqlite"), "read-only")
        subprocess.run(["mount", "-o", "remount,rw", str(disk)], check=True)
        assert list(stored_ids(disk / "outbox.sqlite", "outbox")) == [kept.id]


# -- addresses ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "chat"),
    [
        ("+1 555-010-1234", "15550101234@c.us"),
        ("15550101234", "15550101234@c.us"),
        ("+44 (20) 7946.0958", "442079460958@c.us"),
        (" 15550101234@c.us ", "15550101234@c.us"),
        ("15550101234@s.whatsapp.net", "15550101234@c.us"),
        ("120363012345678901@g.us", "120363012345678901@g.us"),
        ("15550101234-1600000000@g.us", "15550101234-1600000000@g.us"),
        ("123456789012345@lid", "123456789012345@lid"),
    ],
)
def test_addresses_are_normalised_to_a_chat_id(to: str, chat: str) -> None:
    assert normalise_to(to) == chat


@pytest.mark.parametrize(
    ("to", "needle"),
    [
        ("0612345678", "country code"),
        ("+1 555", "7 to 15"),
        ("1234567890123456", "7 to 15"),
        ("bob", "not a phone number"),
        ("+1 555 010 1234 ext 2", "not a phone number"),
        ("status@broadcast", "not a chat id"),
        ("15550101234@c.us.evil", "not a chat id"),
        ("", "not a phone number"),
    ],
)
def test_anything_else_is_refused_in_one_line_naming_the_value(to: str, needle: str) -> None:
    with pytest.raises(AddressError) as error:
        normalise_to(to)
    one_line(error.value, repr(to), needle)


def test_a_refused_address_writes_nothing(tmp_path: Path) -> None:
    outbox = Outbox.open(tmp_path / "outbox.sqlite")
    with pytest.raises(AddressError):
        outbox.accept("0612345678", "hi", account=ACCOUNT)
    with pytest.raises(SendRefused) as empty:
        outbox.accept(CHATS[0], "  ", account=ACCOUNT)
    one_line(empty.value, "body")
    with pytest.raises(SendRefused) as nobody:
        outbox.accept(CHATS[0], "hi", account="")
    one_line(nobody.value, "not logged in")
    assert outbox.rows() == []
