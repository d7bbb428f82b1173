"""The sender: takes the outbox's messages to the page, one at a time, paced, and never twice.

It runs on the event loop while the session is CONNECTED (the session starts :meth:`Sender.run` as a task
and cancels it when the connection goes); every outbox call goes to a thread. The page side is a
:class:`PageAdapter` with two verbs, implemented later on the page contract:

- ``send(message)``: send ``message.body`` to ``message.chat`` *with the id* ``message.id``; return when the
  page has taken it; raise :class:`NotSent` when it certainly did not (not connected, number not on
  WhatsApp); any other exception means "unknown" (it may have gone);
- ``find(chat, id)``: is a message with this id in the chat? ``FOUND``, ``NOT_FOUND``, or ``UNKNOWN`` when
  the page cannot tell yet (the chat not loaded, history still syncing). ``NOT_FOUND`` must mean: had the
  page ever taken it, it would be there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Protocol

from watui.core.errors import first_line
from watui.core.messages.db import held_alone
from watui.core.messages.errors import SenderBusy
from watui.core.messages.outbox import Outbox
from watui.core.messages.outbox_rows import EXPIRED, OutboxRow

log = logging.getLogger(__name__)
RETRY_S = 5.0  # after a send whose outcome is unknown, or a check the page could not answer
IDLE_S = 60.0  # nothing queued: look again this often even without a wake()


class Found(Enum):
    FOUND = "found"
    NOT_FOUND = "not found"
    UNKNOWN = "unknown"


class NotSent(Exception):
    """The page certainly did not send the message. ``permanent``: fail it with this reason; else it goes
    back to the queue (same place, same id)."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class PageAdapter(Protocol):
    async def send(self, message: OutboxRow) -> None: ...

    async def find(self, chat: str, message_id: str) -> Found: ...


class Sender:
    """Sends ``account``'s messages from ``outbox`` through ``adapter``. ``clock``: wall time, for tests."""

    def __init__(
        self,
        outbox: Outbox,
        adapter: PageAdapter,
        account: str,
        *,
        clock: Callable[[], float] = time.time,
        retry_s: float = RETRY_S,
        on_change: Callable[[OutboxRow], None] | None = None,
    ) -> None:
        self.outbox = outbox
        self.on_change = on_change  # told each row the sender moved to sent or failed (after its commit)
        self.retry_s = retry_s
        self.adapter = adapter
        self.account = account
        self.clock = clock
        self._wake = asyncio.Event()
        self._unsure = True  # claimed messages may exist (at start, and after a send of unknown outcome)

    def wake(self) -> None:
        """A message was accepted (or an ack came): look at the queue now rather than at the next tick."""
        self._wake.set()

    async def recover(self) -> bool:
        """Check every claimed message of the account in its chat before anything else goes: found ->
        sent; not found -> back in the queue (or failed "expired" when its time is up); unknown -> left
        claimed (its chat waits). True when none is left unknown."""
        settled = True
        for message in await asyncio.to_thread(self.outbox.claimed, self.account):
            answer = await self.adapter.find(message.chat, message.id)
            if answer is Found.FOUND:
                self._changed(await asyncio.to_thread(self.outbox.mark_sent, message.id, self.clock()))
            elif answer is Found.NOT_FOUND:
                now = self.clock()
                if now >= message.expires_at:
                    self._changed(await asyncio.to_thread(self.outbox.fail, message.id, EXPIRED, now))
                else:
                    await asyncio.to_thread(self.outbox.release, message.id, now)
            else:
                settled = False
        self._unsure = not settled
        return settled

    async def step(self) -> float | None:
        """Send at most one due message. Returns the seconds to wait before the next may go (0: one is due
        now), or None when nothing waits."""
        if self._unsure:
            await self.recover()  # a chat still unsure waits (the planner skips it); the others go on
        message = await asyncio.to_thread(self.outbox.claim_next, self.account, self.clock())
        if message is not None:
            await self._send(message)
        wait = (await asyncio.to_thread(self.outbox.plan, self.account, self.clock())).wait_s(self.clock())
        if self._unsure:  # ask the page again soon
            wait = self.retry_s if wait is None else min(wait, self.retry_s)
        return wait

    async def run(self) -> None:
        """Send until cancelled: a cancel mid-send leaves the message claimed, checked at the next run.
        Raises SenderBusy when another sender (in this process or another) runs on the same outbox: two
        would each take the other's message in flight for one to check, and send it again."""
        with one_sender(self.outbox.path):
            await self._loop()

    async def _loop(self) -> None:
        self._unsure = True
        while True:
            self._wake.clear()  # before reading the queue: a wake() during the step is not lost
            try:
                wait = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the outbox file (StoreError) or the page: say so, try again later
                log.warning("sending paused: %s", first_line(exc))
                wait = self.retry_s
            if wait == 0:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), IDLE_S if wait is None else wait)

    async def _send(self, message: OutboxRow) -> None:
        try:
            await self.adapter.send(message)
        except NotSent as refused:
            if refused.permanent:
                self._changed(await asyncio.to_thread(self.outbox.fail, message.id, refused.reason, self.clock()))
            else:
                await asyncio.to_thread(self.outbox.release, message.id, self.clock())
            return
        except BaseException:
            self._unsure = True  # it may have gone: check before anything else goes to that chat
            raise
        self._changed(await asyncio.to_thread(self.outbox.mark_sent, message.id, self.clock()))

    def _changed(self, row: OutboxRow | None) -> None:
        if row is not None and self.on_change is not None:
            try:
                self.on_change(row)
            except Exception as exc:  # a listener's bug must not stop the sending
                log.warning("the sender's listener failed: %s", first_line(exc))


def one_sender(outbox: Path) -> contextlib.AbstractContextManager[None]:
    """Hold ``<outbox>.sender.lock`` while sending: only one process sends from an outbox at a time."""
    return held_alone(
        outbox, "sender", "outbox", SenderBusy, f"{outbox}: another sender is already sending from this outbox"
    )
