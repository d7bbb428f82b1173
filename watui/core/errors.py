"""The core's errors. Each one is a user-facing situation with a one-line message, never a crash."""

from __future__ import annotations


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
