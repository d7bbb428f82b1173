"""What a client of the owner's API can be told, the one hierarchy for remote/ and the public ``watui.client``:
each is a :class:`~watui.core.errors.WatuiError` with one line a person can act on.

- :class:`OwnerNotRunning`: no watui serves the session (none started, or it exited while in use);
- :class:`Refused`: the owner (or the socket's trust checks) said no: ``status`` is the HTTP status (None for
  a socket or process of another uid, refused before any request), ``reason`` its one line, ``retry_after``
  the seconds of a ``Retry-After`` (429, a full outbox);
- :class:`MessageFailed`: a message waited for failed (``message.reason``: expired, logged out, ...);
- :class:`WaitTimeout`: what was waited for did not happen in time (also a TimeoutError).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from watui.core.errors import WatuiError

if TYPE_CHECKING:
    from watui.core.messages.port import Message


class ClientError(WatuiError):
    """Base of what a client of the owner raises."""


class OwnerNotRunning(ClientError):
    """No watui owns the session, or the one that did stopped answering."""


class Refused(ClientError):
    """The owner refused the call: ``status`` (HTTP; None: refused by the trust checks before any request),
    ``reason`` (its one line), ``retry_after`` (seconds, from ``Retry-After``, else None)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class MessageFailed(ClientError):
    """The message waited for failed: ``message`` as the owner has it now, ``reason`` why."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.reason = message.reason or "failed"
        super().__init__(f"message {message.id} to {message.chat} failed: {self.reason}")


class WaitTimeout(ClientError, TimeoutError):
    """Not reached in time; ``message`` is the last seen (a queued message still goes: it is on disk)."""

    def __init__(self, text: str, message: Message | None = None) -> None:
        super().__init__(text)
        self.message = message
