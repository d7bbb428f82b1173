"""The core's errors. Each one is a user-facing situation with a one-line message, never a crash."""

from __future__ import annotations

import errno


def first_line(exc: BaseException | None) -> str:
    """An error's first line (a Playwright error without its call log), at most 200 characters."""
    text = str(exc or "").strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


class InitFailed(Exception):
    """One initialize or reconnect attempt failed (the site, the network, the browser); it is retried."""


class WatuiError(Exception):
    """Base: the message is one line a person can act on."""

    exit_code = 1


class UnsafePathError(WatuiError):
    """A session_path watui refuses to touch (/, the home folder, a folder that is not a session)."""

    exit_code = 2


class SessionBusyError(WatuiError):
    """Another live process holds the session (a browser or another watui)."""

    def __init__(self, message: str, pid: int | None = None, name: str | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.name = name


class BrowserNotFoundError(WatuiError):
    """No Chromium to drive."""


class ActionUnavailable(WatuiError):
    """A verb that cannot act in the current state (e.g. cleanup while another verb runs)."""


class EnvironmentProblem(WatuiError):
    """The machine refuses what watui needs (a read-only or full filesystem, a name too long): exit 1."""

    @classmethod
    def from_os_error(cls, exc: OSError, path: object, doing: str, key: str) -> EnvironmentProblem:
        """One line naming the path (the error's own, else ``path``), the cause, and the setting to change."""
        where = exc.filename if exc.filename is not None else path
        cause = exc.strerror or type(exc).__name__
        hint = _HINTS.get(exc.errno or 0, "").format(key=key)
        return cls(f"{where}: {doing}: {cause}{hint}")


_DISK_FULL = " (free some space, or point {key} at another disk)"
_HINTS = {
    errno.EROFS: " (point {key} at a writable folder)",
    errno.ENOSPC: _DISK_FULL,
    errno.EDQUOT: _DISK_FULL,
    errno.EACCES: " (check the folder's owner and permissions, or change {key})",
    errno.ENAMETOOLONG: " (use a shorter {key})",
}
