"""The profile on disk: where it is, its size, its validity, who holds its lock; quarantine and purge.

INTERFACE STUB — to be implemented (issue 2). Everything here is blocking I/O: the manager calls it
through ``asyncio.to_thread``.
"""

from __future__ import annotations

from pathlib import Path

from watui.config import Config
from watui.core.models import ClearReport, CleanupReport, DiskReport, LockInfo


class OwnerLock:
    """Held by the one watui process that owns a session (fcntl.flock on a file in session_root)."""

    def release(self) -> None:
        raise NotImplementedError


class SessionStore:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.root: Path = config.session_root
        self.profile: Path = config.profile_dir

    def inspect(self, own_pids: frozenset[int] = frozenset()) -> DiskReport:
        """Size, file count, reclaimable bytes, lock, validity. A lock held by one of ``own_pids``
        (watui's own browser) is not a problem."""
        raise NotImplementedError

    def lock_info(self) -> LockInfo:
        raise NotImplementedError

    def ensure_root(self) -> None:
        """Check the root is safe, create it (0700) with watui's marker file if missing."""
        raise NotImplementedError

    def cleanup(self, own_pids: frozenset[int] = frozenset()) -> CleanupReport:
        """Remove caches, temp files, stale locks; never the login. Raises SessionBusyError when a live
        process other than ``own_pids`` holds the profile. With own_pids, only removes what is safe
        while the browser runs (nothing but *.tmp and stale locks)."""
        raise NotImplementedError

    def quarantine(self, reason: str = "") -> Path:
        """Move the profile into <root>/.quarantine/<name>-<timestamp>/; keep the newest N."""
        raise NotImplementedError

    def clear(self, purge: bool = False) -> ClearReport:
        raise NotImplementedError

    def acquire_owner(self) -> OwnerLock:
        """Take the one-owner lock; raise SessionBusyError naming the owner's pid when held."""
        raise NotImplementedError
