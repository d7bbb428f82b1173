"""The launch gate: every start of the browser on the profile goes through it, whoever asks.

The first launch, a reconnect, a recovery after a crash and a recycle all start Chromium on what is on
disk, so each checks it the same way first: validate the profile, quarantine it when damaged, restore the
newest snapshot when there is no profile left to start on (missing or quarantined), then launch. Once the
page has settled, a QR is a logout only when the page says so (WhatsApp's own logout, see
watui/core/browser/contract.py); any other QR on a session that was connected is the profile's doing, so the
snapshot is restored and the browser started once more. A restored login that still asks for a QR is
dead (logged out while watui was not looking): its snapshot is revoked and nothing is restored by itself
again until the next login, so the next start neither restores it again nor quarantines a blank profile.
A run (an initialize, a recovery) restores at most once. ``LaunchGate`` is handed the session's state,
browser slot, snapshots and store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from watui.core.disk.store import SessionStore
from watui.core.errors import SessionBusyError
from watui.core.models import ConnectionState, DiskReport
from watui.core.session.autosnap import AutoSnap
from watui.core.session.browser_slot import BrowserSlot
from watui.core.session.machine import QR_STATES
from watui.core.session.state import SessionState
from watui.core.snapshots import Snapshot

S = ConnectionState
NO_LOGIN_AFTER_CONNECTED = "the login came up logged out although the last run was connected"


class LaunchGate:
    """Validate → quarantine damage → restore before a QR → launch, for every launch of one session."""

    def __init__(
        self,
        state: SessionState,
        slot: BrowserSlot,
        autosnap: AutoSnap,
        store: SessionStore,
        refresh_disk: Callable[[], Awaitable[DiskReport]],
    ) -> None:
        self._state = state
        self._slot = slot
        self._autosnap = autosnap
        self._store = store
        self._refresh_disk = refresh_disk
        self.quarantined: tuple[Path, str] | None = None  # a damaged profile moved aside in this run
        self._restored: Snapshot | None = None  # the snapshot restored in this run

    def new_run(self) -> None:
        """An initialize or a recovery run starts: it may quarantine and restore (once) again."""
        self.quarantined = None
        self._restored = None
        self._autosnap.new_initialize()

    async def open(self, notes: list[str]) -> ConnectionState | None:
        """Check the disk, start the browser on it and wait for the page to settle (None: it did not)."""
        await self.prepare(notes)
        await self._slot.launch()
        state = await self._slot.wait_settled(self._slot.load_timeout_s)
        return await self.settled(state, notes)

    async def prepare(self, notes: list[str]) -> DiskReport:
        """The browser is stopped: refuse a profile another process holds, quarantine a damaged one, and
        restore a snapshot when no profile is left to start on."""
        await self._slot.close()
        disk = await self._refresh_disk()
        if disk.lock.kind == "live":
            raise SessionBusyError(
                f"session {disk.path} is in use by {disk.lock.name or 'a process'} (pid {disk.lock.pid}); "
                "stop it first",
                disk.lock.pid,
                disk.lock.name,
            )
        why = disk.validation_details
        if disk.is_damaged:  # corrupt LevelDB or a half-deleted login: only a snapshot or a new QR fixes it
            moved = await asyncio.to_thread(self._store.quarantine, why)
            self.quarantined = (moved, why)
            notes.append(f"damaged session moved to {moved}: {why}")
            self._state.publish("error", message=f"damaged session quarantined to {moved}")
        elif not disk.exists:
            why = "no session on disk"
        else:
            return disk
        await self._restore(notes, why)
        return self._state.info.disk or disk

    async def settled(self, state: ConnectionState | None, notes: list[str]) -> ConnectionState | None:
        """The page settled in ``state``: a QR the page did not call a logout is answered with the
        snapshot (restored, then the browser started again), or, when it was restored already, by
        revoking it. The state the page settled in at the end."""
        if state not in QR_STATES or self._logout_seen:
            return state
        if self._restored is not None:
            await self._autosnap.note_dead(self._restored, notes)
            return state
        if not await self._restore(notes, NO_LOGIN_AFTER_CONNECTED, close_first=True):
            return state
        await self._slot.launch()
        state = await self._slot.wait_settled(self._slot.load_timeout_s)
        if state in QR_STATES and not self._logout_seen and self._restored is not None:
            await self._autosnap.note_dead(self._restored, notes)
        return state

    @property
    def _logout_seen(self) -> bool:
        return self._state.page.logout_seen

    async def _restore(self, notes: list[str], why: str, close_first: bool = False) -> bool:
        snap = await self._autosnap.restore_before_qr(notes, why, close_first=close_first)
        if snap is not None:
            self._restored = snap
        return snap is not None
