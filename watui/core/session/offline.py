"""The session on disk alone: what ``watui info``, ``status``, ``clean``, ``clear`` and ``backup`` act on when no
watui runs the session (``watui/cli/reach.py`` chooses). No browser is started: its info is the store's
inspection; cleanup and clear take watui's owner lock first, so they refuse while another watui runs it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from watui.config import Config
from watui.core.disk.store import SessionStore
from watui.core.errors import ActionUnavailable
from watui.core.models import (
    PROBLEM_LOCKED,
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    InitResult,
    SessionInfo,
)
from watui.core.ports import BACKUP, Capability, EventSource, JsonReport, SessionPort
from watui.present import lock_text

if TYPE_CHECKING:
    from watui.core.messages.port import Message, MessagePage, Traffic
    from watui.core.snapshots import Snapshot

NO_MESSAGING = "messages go through the watui that runs the session (watui watch or watui serve); none runs it"


class OfflineSession:
    """The session on disk alone, no browser: its info is the store's inspection; cleanup and clear take
    watui's owner lock first, so they refuse while another watui runs the session."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.store = SessionStore(config)
        self._info: SessionInfo | None = None
        self.owner_pid: int | None = None  # the watui holding the owner lock, as found with ``info``

    @property
    def info(self) -> SessionInfo:
        """The disk as found at the first look (read then, not before: clean and clear need none)."""
        if self._info is None:
            self.owner_pid = owner = self.store.owner_pid()
            # A browser started by a running watui is that watui's: its lock is not a problem.
            report = self.store.inspect(frozenset({owner}) if owner and owner > 0 else frozenset())
            message = offline_message(report, owner)
            self._info = SessionInfo(state=ConnectionState.UNLAUNCHED, disk=report, message=message)
        return self._info

    # What it can do: clean, clear and back up the profile on disk; nothing that needs a browser.
    capabilities: frozenset[Capability] = frozenset({BACKUP})
    busy: str | None = None

    def can(self, verb: str) -> bool:
        return verb in ("cleanup", "clear")

    def get_detailed_session_info(self) -> dict[str, Any]:
        return self.info.to_json()

    def subscribe(self) -> EventSource:
        raise ActionUnavailable("the session on disk alone has no events: no watui runs it")

    async def smart_initialize(self) -> InitResult:
        raise ActionUnavailable("the session on disk alone starts no browser")

    async def reconnect(self) -> InitResult:
        raise ActionUnavailable("the session on disk alone starts no browser")

    async def cleanup(self) -> CleanupReport:
        def cleanup() -> CleanupReport:
            with owner_lock(self.store):
                return self.store.cleanup()

        return await asyncio.to_thread(cleanup)

    async def clear(self, purge: bool = False) -> ClearReport:
        def clear() -> ClearReport:
            from watui.core import snapshots

            with owner_lock(self.store):
                report = self.store.clear(purge=purge)
                snapshots.note_cleared(self.config)  # cleared on purpose: no automatic restore until the next login
            return report

        return await asyncio.to_thread(clear)

    async def backup(self) -> Snapshot:
        """A snapshot taken here, as an owner takes one (its run record too); safe beside a browser on the
        profile (copied the way LevelDB reads it)."""

        def take() -> Snapshot:
            from watui.core import snapshots as sn  # the snapshot code only for a backup

            self.store.check_root()
            running = self.store.owner_pid() or self.store.lock_info().kind == "live"
            return sn.Keeper(self.config, self.store).take("live" if running else "closed")

        return await asyncio.to_thread(take)

    async def snapshots(self) -> dict[str, Any]:
        raise ActionUnavailable("listing snapshots is `watui snapshots`'s, which reads them from disk")

    async def doctor(self) -> JsonReport:
        raise ActionUnavailable("the doctor needs a browser on the page: `watui doctor` starts one")

    # MessagingPort: messages go through the watui that runs the session (MESSAGES is not declared here).
    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        raise ActionUnavailable(NO_MESSAGING)

    async def message(self, message_id: str) -> Message | None:
        raise ActionUnavailable(NO_MESSAGING)

    async def messages(self, since: str | None = None, limit: int = 100, bodies: bool = False) -> MessagePage:
        raise ActionUnavailable(NO_MESSAGING)

    async def traffic(self) -> Traffic:
        raise ActionUnavailable(NO_MESSAGING)


@contextlib.contextmanager
def owner_lock(store: SessionStore) -> Iterator[None]:
    """Hold watui's owner lock of the session, so no other watui runs it meanwhile (SessionBusyError when one
    does); none is taken when there is no session root yet."""
    owner = store.acquire_owner() if store.root.exists() else None
    try:
        yield
    finally:
        if owner is not None:
            owner.release()


def offline_message(report: DiskReport, owner: int | None) -> str:
    if owner:
        shown = owner if owner > 0 else "unknown"
        return f"offline view: a running watui (pid {shown}) owns this session"
    if report.lock.kind == "live" and PROBLEM_LOCKED in report.problems:
        return f"offline view: the profile is open in {lock_text(report.lock)}"
    return "offline view: no browser started"


if TYPE_CHECKING:

    def _conforms(config: Config) -> SessionPort:
        return OfflineSession(config)  # mypy: the session on disk alone is a SessionPort
