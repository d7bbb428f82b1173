"""Messages: the outbox (what watui sends) and the inbox (what it receives), each a SQLite file.

On disk, beside the history in the session folder (owner-only, mode 0600, WAL, every commit fsync'd):
``<session_path>/.watui-<client_id>.outbox.sqlite`` and ``.inbox.sqlite``, and ``.outbox.sqlite.sender.lock``
(flock'd by the one sender allowed at a time). A damaged file is never deleted: opening it fails with one
line naming it, and only when asked (``move_damaged=True``) is it moved aside to
``<name>.damaged-<UTC time>`` (kept) and a fresh one started. Disk full or read-only: a typed
:class:`StoreError` naming the file, and the send or the incoming message is refused, never half-kept.

**A send's states** (``outbox.State``), one row each, in the order accepted::

    accept ─► queued ─► claimed ─► sent ─► delivered ─► read
                │          │  ▲       │
                │          └──┘ released (certainly not sent: back in its place, same id)
                └──────────┴──────────┴─► failed(reason): expired, logged out, refused by the page,
                                          or a "failed" ack (WhatsApp's -1) on one already sent

- *accept* normalises the address, makes the WhatsApp message id (``3EB0`` + 18 hex digits, the shape
  WhatsApp Web and the phones make; watui makes it, so it is on disk before the page is ever involved),
  and commits the row before returning it. An idempotency key given twice returns the first row.
- *claimed* is committed before the page is asked to send, and means "the page may have sent this".
- *sent* when the page took it; *delivered*, *read* from the acks (forward only). A "failed" ack
  (WhatsApp's ERROR, -1) fails a claimed or sent message (``record_failed_ack``), never a delivered one.

**Exactly once.** The page is asked to send a message only after its claim is committed, and always with
the id recorded at accept. A crash (kill -9 of watui or of Chromium) can therefore leave a message only
queued (never asked: sent later, once) or claimed (maybe sent). A claimed message is never sent blindly:
the :class:`Sender` first asks the page whether a message with that id is in the chat; found -> sent,
not found -> back in the queue, cannot tell yet -> it waits (and so does its chat, to keep the order).
Only one sender runs per outbox (a flock), so none checks a message another has in flight. So a message
goes to the page again only after a "not found", which the page adapter answers only when, had the page
ever taken the message, it would be in the chat (``sender.py`` states the adapter's contract).

**Account.** Each row carries the account (wid) it was accepted for; only that account claims it. A
logout fails what it has waiting ("logged out"); a different account scanned later never sends it.

**Pace** (``pacing.py``, a pure function): one send every ``60/max_per_minute`` s per account, and
``min_gap_per_chat_s`` per chat; ``Outbox.plan()`` says which goes next and how long to wait.

**Inbox.** ``Inbox.record_incoming`` returns a row only after its commit (None for a duplicate id in
the chat); announce it after that. Consumers read by ``seq`` (only growing, never reused), and named
cursors are stored for those that must resume (webhooks: at least once, in order). ``keep_days`` bounds it.

**Webhook** (``webhook.py``): incoming messages, and the outbox's ack log (a trigger writes each change to
sent, delivered, read or failed), POSTed signed to ``[messages.webhook] url``, each cursor moved only after
a 2xx; its own task, each POST in a daemon thread.

Bodies are never logged: the rows' repr leaves them out, and ``to_json(bodies=False)`` is the default.

**From the event loop.** Cheap, call directly: ``normalise_to``, ``plan_next``, ``new_message_id``, the
rows' ``to_json``, ``Sender.wake``. Disk (a commit is an fsync): the ``*_async`` twins of ``Outbox`` and
``Inbox`` (each runs its method in a thread), and ``Sender.run`` (async, its disk calls in threads).
``Outbox.open`` / ``Inbox.open`` read the whole file once (an integrity check): run them in a thread.
"""

from watui.core.messages.address import normalise_to
from watui.core.messages.errors import (
    AddressError,
    MessageError,
    NotLinked,
    OutboxFull,
    SenderBusy,
    SendRefused,
    StoreDamaged,
    StoreError,
)
from watui.core.messages.inbox import Inbox, InboxRow, Incoming, inbox_path
from watui.core.messages.outbox import Outbox, outbox_path
from watui.core.messages.outbox_rows import OutboxRow, State, new_message_id
from watui.core.messages.pacing import Pace, Plan, plan_next
from watui.core.messages.sender import Found, NotSent, PageAdapter, Sender

__all__ = [
    "AddressError",
    "Found",
    "Inbox",
    "InboxRow",
    "Incoming",
    "MessageError",
    "NotLinked",
    "NotSent",
    "OutboxFull",
    "Outbox",
    "OutboxRow",
    "Pace",
    "PageAdapter",
    "Plan",
    "SendRefused",
    "Sender",
    "SenderBusy",
    "State",
    "StoreDamaged",
    "StoreError",
    "inbox_path",
    "new_message_id",
    "normalise_to",
    "outbox_path",
    "plan_next",
]
