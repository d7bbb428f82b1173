"""The messaging errors: each one a single line a person can act on, naming the value, key or file."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from watui.core.errors import WatuiError


class MessageError(WatuiError):
    """A request the messages API refuses as given (nothing was written): the line names the value."""

    exit_code = 2


class AddressError(MessageError):
    """A ``to`` that is neither a phone number with its country code nor a chat id."""


class SendRefused(MessageError):
    """A send that was not accepted (nothing was written, no id came back): the reason says why."""


class OutboxFull(SendRefused):
    """The outbox holds ``[messages] max_queued`` messages waiting: try again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class NotLinked(SendRefused):
    """No account is linked to the session (never scanned, or logged out): there is no one to send from."""


class StoreError(WatuiError):
    """The outbox or inbox file cannot be used (disk full, read-only, unreadable): one line naming it.

    A send or an incoming message that meets this error was *not* committed: the caller is told, never
    given an id (or an announcement) for something that is not on disk.
    """

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class StoreDamaged(StoreError):
    """The file is not a usable SQLite database (or fails its integrity check). It is left as it is;
    ``open_db(..., move_damaged=True)`` moves it aside (kept) and starts a fresh one."""


class SenderBusy(StoreError):
    """Another sender holds the outbox's sender lock: only one may send from an outbox at a time."""


# SQLite's primary result codes (sqlite3.h) that say what the machine refuses.
_SQLITE_PERM, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT = 3, 8, 10, 11
_SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 13, 14, 26
_DAMAGED = {_SQLITE_CORRUPT, _SQLITE_NOTADB}
_HINTS = {
    _SQLITE_FULL: "the disk is full (free some space, or point session.session_path at another disk)",
    _SQLITE_READONLY: "the file or its folder is read-only (point session.session_path at a writable folder)",
    _SQLITE_PERM: "permission denied (check the folder's owner and permissions)",
    _SQLITE_CANTOPEN: "cannot open the file (check that its folder exists and is writable)",
    _SQLITE_IOERR: "a disk I/O error (the disk may be full or failing)",
}
_OS_HINTS = {
    errno.ENOSPC: _HINTS[_SQLITE_FULL],
    errno.EDQUOT: _HINTS[_SQLITE_FULL],
    errno.EROFS: _HINTS[_SQLITE_READONLY],
    errno.EACCES: _HINTS[_SQLITE_PERM],
    errno.EPERM: _HINTS[_SQLITE_PERM],
}


def store_error(exc: BaseException, path: Path, what: str, doing: str) -> StoreError:
    """The one-line error for ``exc`` met while ``doing`` on the ``what`` file at ``path``."""
    if isinstance(exc, sqlite3.Error):
        code = (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
        if code in _DAMAGED:
            return damaged(path, what, str(exc))
        cause = _HINTS.get(code, str(exc))
    elif isinstance(exc, OSError):
        cause = _OS_HINTS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
    else:
        cause = str(exc) or type(exc).__name__
    return StoreError(f"{path}: cannot {doing} the {what}: {cause}", path)


def damaged(path: Path, what: str, detail: str) -> StoreDamaged:
    return StoreDamaged(
        f"{path}: the {what} file is damaged ({detail}); it was left as it is: move it away to start a fresh one",
        path,
    )
