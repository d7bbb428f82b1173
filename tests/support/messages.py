"""A fake page for the outbox's sender, and the child process the crash tests kill with SIGKILL.

The fake page "sends" by appending ``<id> <chat>`` to a file and fsync'ing it (what a recipient would have
seen), and "finds" a message by reading that file: the chat as WhatsApp's servers hold it, which outlives
both watui and Chromium.

Run as a child: ``python tests/support/messages.py MODE ARGS`` with the repository on PYTHONPATH.
- ``accept OUTBOX COUNT KILL``: accept COUNT messages, print ``<id> <body>`` after each returns; KILL=1:
  SIGKILL itself right after printing the first.
- ``record INBOX FIRST COUNT KILL``: the same for incoming messages (ids ``in-<n>``), printing ``<seq> <id>``.
- ``send OUTBOX SENT_LOG``: send everything the outbox holds for ACCOUNT through the fake page, then print
  ``done``. ``CRASH_BEFORE_SEND`` / ``CRASH_AFTER_SEND`` (message ids, in the environment): SIGKILL itself
  when the page is asked to send that message, before or after it is written to the log.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from watui.config import MessagesSettings
from watui.core.messages import Found, Inbox, Incoming, Outbox, OutboxRow, Sender, State

ACCOUNT = "15550001111@c.us"
CHATS = ("15550002222@c.us", "15550003333@c.us", "120363000000000001@g.us")
FAST = MessagesSettings(max_per_minute=600_000.0, min_gap_per_chat_s=0.0)  # no pacing in crash tests


class FakePage:
    """Sends to ``log`` (one fsync'd line per send); ``die_before``/``die_after``: message ids for which the
    page dies (raises, as a killed Chromium does) before or after the message went."""

    def __init__(self, log: Path, die_before: set[str] | None = None, die_after: set[str] | None = None) -> None:
        self.log = log
        self.die_before = die_before or set()
        self.die_after = die_after or set()
        self.finds: list[str] = []

    async def send(self, message: OutboxRow) -> None:
        if message.id == os.environ.get("CRASH_BEFORE_SEND"):
            os.kill(os.getpid(), signal.SIGKILL)
        if message.id in self.die_before:
            self.die_before.discard(message.id)
            raise ConnectionError("Target page, context or browser has been closed")
        with self.log.open("a") as fh:
            fh.write(f"{message.id} {message.chat}\n")
            fh.flush()
            os.fsync(fh.fileno())
        if message.id == os.environ.get("CRASH_AFTER_SEND"):
            os.kill(os.getpid(), signal.SIGKILL)
        if message.id in self.die_after:
            self.die_after.discard(message.id)
            raise ConnectionError("Target page, context or browser has been closed")

    async def find(self, chat: str, message_id: str) -> Found:
        self.finds.append(message_id)
        return Found.FOUND if f"{message_id} {chat}" in self.sent() else Found.NOT_FOUND

    def sent(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []


async def send_everything(outbox: Outbox, page: FakePage, account: str = ACCOUNT) -> None:
    """Step the sender until nothing of ``account`` waits."""
    sender = Sender(outbox, page, account, retry_s=0.0)
    while outbox.rows(account, states=(State.QUEUED, State.CLAIMED), limit=1):
        try:
            wait = await sender.step()
        except ConnectionError:
            continue  # the page died: the next step checks the chat first
        if wait:
            await asyncio.sleep(wait)


def _child(argv: list[str]) -> None:
    mode = argv[0]
    if mode == "accept":
        outbox = Outbox.open(Path(argv[1]))
        for n in range(int(argv[2])):
            row = outbox.accept(CHATS[n % len(CHATS)], f"body {n}", account=ACCOUNT)
            print(row.id, row.body, flush=True)
            if argv[3] == "1":
                os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "record":
        inbox = Inbox.open(Path(argv[1]))
        first = int(argv[2])
        for n in range(first, first + int(argv[3])):
            stored = inbox.record_incoming(Incoming(ACCOUNT, CHATS[0], f"in-{n}", f"hello {n}"))
            assert stored is not None
            print(stored.seq, stored.id, flush=True)
            if argv[4] == "1":
                os.kill(os.getpid(), signal.SIGKILL)
    elif mode == "send":
        outbox = Outbox.open(Path(argv[1]), FAST)
        asyncio.run(send_everything(outbox, FakePage(Path(argv[2]))))
        print("done", flush=True)
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    _child(sys.argv[1:])
