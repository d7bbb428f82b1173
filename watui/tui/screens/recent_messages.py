"""The recent messages behind ``m``: the last :data:`RECENT` messages in and out, newest last, one line each
(time, direction, chat, status as a glyph and a word, size). Metadata only: ``t`` shows the texts (read again
with ``messages(bodies=True)``) and hides them; Escape closes.

While open it follows the session: the App hands it each ``message`` and ``ack`` event. An ack of a message
shown moves its status at once; anything else is read after the screen's cursor, one read at a time (the
events that come during a read are applied after it, in order, so the last word on a message wins).

The MessagingPort reads forward from a cursor. To start from the last :data:`RECENT` without reading all that
is kept (30 days of a busy bot), :func:`last_seq` probes the port's own :class:`Cursor` (``<out>-<in>``,
each side's last seq seen) for the newest seq of each side: one-message reads, twice log2 of the count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message as TextualMessage
from textual.screen import ModalScreen
from textual.widgets import Static

from watui.core.errors import first_line
from watui.core.events import Event
from watui.core.messages.port import MAX_LIMIT, Cursor, Message, MessagePage, MessagingPort
from watui.present import clock_time

RECENT = 100  # messages shown (the screen scrolls)
_PAST_EVERY_SEQ = 10**18 - 1  # the largest seq a cursor holds: a side read from there is empty
CHAT_WIDTH = 24
STATUS_WIDTH = 12
ARROW = {"out": "→", "in": "←"}
# A message's status as a glyph and a word (colour only repeats them); ``claimed`` is "sending" to a reader.
STATUS: dict[str, tuple[str, str, str]] = {
    "queued": ("◌", "queued", "yellow"),
    "claimed": ("◔", "sending", "yellow"),
    "sent": ("✓", "sent", ""),
    "delivered": ("✓✓", "delivered", "green"),
    "read": ("✓✓", "read", "bold green"),
    "failed": ("✖", "failed", "bold red"),
    "received": ("↓", "received", ""),
}


async def last_seq(port: MessagingPort, side: Literal["out", "in"]) -> int:
    """The newest seq of one side of the port (0: it holds none): doubling, then halving, a cursor that
    reads that side only."""

    async def first_after(seq: int) -> int | None:
        """The seq of the first message after ``seq``; None when there is none."""
        since = Cursor(seq, _PAST_EVERY_SEQ) if side == "out" else Cursor(_PAST_EVERY_SEQ, seq)
        page = await port.messages(since=str(since), limit=1)
        if not page.messages:
            return None
        found = Cursor.parse(page.cursor)
        return found.out_seq if side == "out" else found.in_seq

    low = await first_after(0)  # invariant: a message has seq ``low``; none is after ``high``
    if low is None:
        return 0
    step, high = 1, None
    while high is None:
        probe = low + step
        after = await first_after(probe)
        if after is None:
            high = probe
        else:
            low, step = after, step * 2
    while low < high:
        middle = (low + high) // 2
        after = await first_after(middle)
        if after is None:
            high = middle
        else:
            low = after
    return low


async def recent_page(port: MessagingPort, count: int = RECENT, bodies: bool = False) -> MessagePage:
    """The last ``count`` messages, newest last, and the cursor to follow from."""
    since = Cursor(max(0, await last_seq(port, "out") - count), max(0, await last_seq(port, "in") - count))
    page = await port.messages(since=str(since), limit=min(MAX_LIMIT, 2 * count), bodies=bodies)
    return MessagePage(page.messages[-count:], page.cursor)


def status_text(message: Message) -> Text:
    glyph, word, style = STATUS.get(message.status, ("?", message.status, ""))
    return Text(f"{glyph} {word}", style=style)


def message_time(message: Message, now: datetime) -> str:
    return clock_time(datetime.fromtimestamp(message.time, UTC), now) if message.time else "—"


def messages_text(shown: list[Message], now: datetime, bodies: bool, count: int = RECENT) -> Text:
    """A header line, then one line per message (and its text, indented, when ``bodies``)."""
    out = Text(no_wrap=True, overflow="ellipsis")
    if not shown:
        out.append("No messages yet: what the session sends and receives shows here.", style="dim")
        return out
    many = f"The last {count} messages" if len(shown) >= count else f"{len(shown)} message{'s' * (len(shown) != 1)}"
    out.append(f"{many}, newest last (→ outgoing, ← incoming)", style="dim")
    times = [message_time(m, now) for m in shown]
    width = max(len(t) for t in times)
    for message, when in zip(shown, times, strict=True):
        out.append("\n")
        out.append(when.ljust(width), style="dim")
        out.append(f"  {ARROW.get(message.direction, '?')} ")
        chat = message.chat if len(message.chat) <= CHAT_WIDTH else message.chat[: CHAT_WIDTH - 1] + "…"
        out.append(chat.ljust(CHAT_WIDTH + 1))
        status = status_text(message)
        out.append(status)
        out.append(" " * max(1, STATUS_WIDTH + 1 - status.cell_len))
        out.append(f"{message.size:>6} chars")
        if message.reason:
            out.append(f" · {message.reason}")
        if bodies and message.body is not None:
            out.append("\n" + " " * (width + 4))
            out.append(message.body.replace("\r\n", "\n").replace("\n", " ⏎ "), style="italic")
    return out


class RecentMessagesScreen(ModalScreen[None]):
    """The last messages of a MessagingPort, following its events while open."""

    BINDINGS = [
        Binding("escape,q,m", "close", "Close", id="messages.close"),
        Binding("t", "toggle_bodies", "Texts", id="messages.bodies"),
    ]

    class Read(TextualMessage):
        """A read ended: ``page`` (``full``: the last messages; else what came after the cursor) or ``error``."""

        def __init__(self, page: MessagePage | None, error: str | None, full: bool, bodies: bool) -> None:
            super().__init__()
            self.page = page
            self.error = error
            self.full = full
            self.bodies = bodies

    def __init__(self, port: MessagingPort, clock: Callable[[], datetime], count: int = RECENT) -> None:
        super().__init__()
        self.port = port
        self.clock = clock
        self.count = count
        self.shown: list[Message] = []
        self.cursor: str | None = None  # None until the last messages were read
        self.bodies = False
        self.error: str | None = None
        self._reading = False
        self._late: list[Event] = []  # events that came during a read, applied after it

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="messages-box"):
            yield Static("Reading the messages…", id="messages-text", markup=False)

    def on_mount(self) -> None:
        self._title()
        self._read(full=True)

    def _title(self) -> None:
        texts = "t hides the texts" if self.bodies else "t shows the texts"
        self.query_one("#messages-box").border_title = f"Recent messages ({texts}, Esc closes)"

    # -- reading -----------------------------------------------------------------------------------
    def _read(self, full: bool) -> None:
        self._reading = True
        work = self._load(full or self.cursor is None, self.bodies)
        self.run_worker(work, name="messages", group="messages", exit_on_error=False)

    async def _load(self, full: bool, bodies: bool) -> None:
        try:
            if full:
                page = await recent_page(self.port, self.count, bodies)
            else:
                page = await self.port.messages(since=self.cursor, limit=MAX_LIMIT, bodies=bodies)
        except Exception as exc:  # a line on screen, never a crash
            self.post_message(self.Read(None, first_line(exc), full, bodies))
            return
        self.post_message(self.Read(page, None, full, bodies))

    def on_recent_messages_screen_read(self, message: RecentMessagesScreen.Read) -> None:
        self._reading = False
        again = False
        self.error = message.error
        if message.page is not None:
            rows = list(message.page.messages)
            if not self.bodies:
                rows = [replace(m, body=None) for m in rows]
            if message.full:
                self.shown = rows
            else:
                known = {m.id for m in self.shown}
                self.shown = [*self.shown, *(m for m in rows if m.id not in known)][-self.count :]
                again = len(rows) == MAX_LIMIT  # a full page: there is more after it
            self.cursor = message.page.cursor
        late, self._late = self._late, []
        news = [event for event in late if not self._apply(event)]
        self._show()
        if self.bodies and not message.bodies:
            self._read(full=True)  # the texts were asked for during a read without them
        elif (news or again) and message.error is None:
            self._read(full=False)

    # -- following ---------------------------------------------------------------------------------
    def follow(self, event: Event) -> None:
        """A session event (the App hands each one): an ack of a message shown moves it; a new message is
        read after the cursor."""
        if event.type not in ("message", "ack"):
            return
        if self._reading:
            self._late.append(event)
        elif self._apply(event):
            self._show()
        else:
            self._read(full=False)

    def _apply(self, event: Event) -> bool:
        """True when the event is about a message shown (an ack moves its status); False: news to read."""
        message_id = event.data.get("id")
        for index, shown in enumerate(self.shown):
            if shown.id == message_id:
                if event.type == "ack" and isinstance(event.data.get("status"), str):
                    reason = event.data.get("reason")
                    self.shown[index] = replace(
                        shown, status=event.data["status"], reason=reason if isinstance(reason, str) else None
                    )
                return True
        return False

    # -- showing -----------------------------------------------------------------------------------
    def _show(self) -> None:
        text = messages_text(self.shown, self.clock(), self.bodies, self.count)
        if self.error is not None:
            line = Text(f"✖ cannot read the messages: {self.error}\n", style="bold red")
            text = line + text if self.shown else line
        self.query_one("#messages-text", Static).update(text)
        box = self.query_one("#messages-box", VerticalScroll)
        self.call_after_refresh(box.scroll_end, animate=False)  # newest last: the end is what is new

    def action_toggle_bodies(self) -> None:
        self.bodies = not self.bodies
        self._title()
        if self.bodies:
            if not self._reading:  # else the read under way ends by reading again with the texts
                self._read(full=True)
        else:
            self.shown = [replace(m, body=None) for m in self.shown]
            self._show()

    def action_close(self) -> None:
        self.dismiss(None)
