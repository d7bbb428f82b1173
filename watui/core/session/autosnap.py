"""The manager's use of login snapshots: when to take one, and restoring one before asking for a QR.

Snapshots themselves (encryption, the copy, retention) are watui/core/snapshots/keeper.py's ``Keeper``; this
module decides when: a snapshot once the login has settled after connecting and then every ``every_h``,
one on demand (``backup``), a restore before a QR (at most once per launch run; the launch gate,
watui/core/session/launch.py, asks for it), and marking snapshots revoked when the phone logs this device out or a
restored login turns out dead. ``AutoSnap`` is handed the session's store, state and browser slot.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from watui.config import Config
from watui.core.disk.folders import check_private_folder
from watui.core.disk.store import SessionStore
from watui.core.errors import ActionUnavailable, WatuiError
from watui.core.models import ConnectionState, now_utc
from watui.core.session.browser_slot import BrowserSlot
from watui.core.session.state import SessionState
from watui.core.snapshots import Keeper, Snapshot, SnapshotError, list_snapshots, snapshot_dir, status_line

log = logging.getLogger(__name__)

S = ConnectionState
T = TypeVar("T")


class AutoSnap:
    """The snapshot schedule, ``backup``, and restore-before-QR of one session."""

    def __init__(
        self,
        config: Config,
        store: SessionStore,
        state: SessionState,
        slot: BrowserSlot,
        *,
        refresh_disk: Callable[[], Awaitable[object]],
        spawn: Callable[[Coroutine[Any, Any, Any]], asyncio.Task[Any]],
    ) -> None:
        self.config = config
        self._store = store
        self._state = state
        self._slot = slot
        self._refresh_disk = refresh_disk
        self._spawn = spawn
        self._keeper: Keeper | None = None  # None until start; off when no key is configured
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._restore_tried = False  # restore-before-QR: at most once per initialize
        # Writes of the run record in flight: never cancelled, awaited on shutdown (the next start reads it).
        self._recording: set[asyncio.Task[Any]] = set()
        self.last_snapshot: Snapshot | None = None

    async def start(self) -> None:
        """Read the key (ConfigError: a bad key) and the newest snapshot's time."""
        self._keeper = await asyncio.to_thread(Keeper, self.config, self._store)
        if self._keeper.enabled:
            # Whoever may write the snapshot folder may plant a snapshot for restore: ours alone, or refused.
            await asyncio.to_thread(check_private_folder, snapshot_dir(self.config), "[snapshots] dir", self._store.uid)
            newest = await asyncio.to_thread(self._keeper.newest_at)
            self._state.update(snapshots_on=True, last_snapshot_at=newest)

    @property
    def busy(self) -> bool:
        """A snapshot is being taken now (the browser must not be recycled under it)."""
        return self._lock.locked()

    # -- on demand ---------------------------------------------------------------------------------
    async def backup(self) -> Snapshot:
        """Take an encrypted snapshot of the login now (copied the way LevelDB reads it when the browser runs)."""
        keeper = self._keeper
        if keeper is None or not keeper.enabled:
            raise ActionUnavailable("cannot back up: snapshots are off (no key in [snapshots]; run 'watui keygen')")
        async with self._lock:
            live = self._slot.running
            try:
                snap = await asyncio.to_thread(keeper.take, "live" if live else "closed")
            except (SnapshotError, OSError) as exc:
                log.error("snapshot failed: %s", exc)
                data = {"verb": "backup", "phase": "failed"}
                self._state.publish("error", message=f"snapshot failed: {exc}", data=data)
                raise
        self.last_snapshot = snap
        self._state.update(last_snapshot_at=now_utc())
        self._state.publish(
            "action",
            message=f"snapshot {snap.id} taken ({snap.bytes // 1024} KB, {snap.account or 'unknown account'})",
            data={"verb": "backup", "phase": "done", "snapshot": snap.to_json()},
        )
        return snap

    async def snapshots(self) -> dict[str, Any]:
        """The snapshots of this session and whether they are on, as JSON (read off the loop; no key needed)."""

        def read() -> dict[str, Any]:
            snaps = list_snapshots(self.config)
            return {
                "enabled": self._keeper is not None and self._keeper.enabled,
                "dir": str(snapshot_dir(self.config)),
                "status": status_line(self.config),
                "snapshots": [s.to_json() for s in snaps],
            }

        return await asyncio.to_thread(read)

    # -- restore before a QR -----------------------------------------------------------------------
    def new_initialize(self) -> None:
        """A launch run (an initialize, a recovery) starts: it may restore once."""
        self._restore_tried = False

    async def restore_before_qr(self, notes: list[str], why: str, close_first: bool = False) -> Snapshot | None:
        """Restore the newest verified snapshot of the last connected account, once per launch run (an
        initialize, a recovery), when the last run was connected and no logout or clear came after. The
        snapshot restored, or None."""
        keeper = self._keeper
        if keeper is None or self._restore_tried or self._state.page.logout_seen:
            return None
        self._restore_tried = True
        if await self._finish_interrupted_restore(notes):
            return None  # the profile came back from a restore that was cut short: no snapshot to blame later
        snap = await asyncio.to_thread(keeper.restorable)
        if snap is None:
            return None
        if close_first:
            await self._slot.close()
        try:
            report = await asyncio.to_thread(keeper.restore, snap, f"restore before QR: {why}")
        except (WatuiError, OSError) as exc:
            self._state.publish("error", message=f"restore of snapshot {snap.id} failed: {exc}")
            return None
        restored = report.snapshot  # an older one when the newest did not decrypt or verify
        notes.append(f"restored snapshot {restored.id} before asking for a QR ({why})")
        self._state.publish(
            "action",
            message=f"{why}: {report.message}",
            data={"verb": "restore", "phase": "done", "reason": why, "snapshot": restored.to_json(),
                  "quarantinedTo": str(report.quarantined_to) if report.quarantined_to else None,
                  "skipped": list(report.skipped)},
        )  # fmt: skip
        await self._refresh_disk()
        return report.snapshot

    async def note_dead(self, snap: Snapshot, notes: list[str]) -> None:
        """A restored login still asks for a QR: WhatsApp logged it out while watui was not looking. Its
        snapshot is revoked and no snapshot is restored by itself again until the next login."""
        assert self._keeper is not None
        revoked = await asyncio.to_thread(self._keeper.note_dead, snap)
        message = (
            f"restored snapshot {snap.id} still asks for a QR: its login was logged out (from the phone) while "
            "watui was not looking; marked revoked, nothing more is restored by itself until the next scan"
        )
        notes.append(message)
        data = {"verb": "revoke", "phase": "done", "snapshots": revoked, "reason": "dead login"}
        self._state.publish("action", message=message, data=data)

    async def _finish_interrupted_restore(self, notes: list[str]) -> bool:
        """A restore that died between its two renames left a verified login beside the missing profile:
        put it in place (and remove what a restore that died earlier left). Whether the profile came back."""
        store = self._store
        had_profile = store.profile.exists()
        try:
            done = await asyncio.to_thread(store.restore_leftovers)
        except (WatuiError, OSError) as exc:
            log.warning("could not settle what an interrupted restore left: %s", exc)
            return False
        if had_profile or not store.profile.is_dir():
            return False
        notes.extend(done)
        self._state.publish(
            "action", message="; ".join(done), data={"verb": "restore", "phase": "done", "reason": "interrupted"}
        )
        await self._refresh_disk()
        return True

    # -- what the session tells us -----------------------------------------------------------------
    def on_connected(self, wid: str | None = None) -> None:
        """The session connected, as ``wid`` (the account the page stores): remember it, whatever the face
        (restore-before-QR needs it; the login reaches the disk only seconds later), and schedule the snapshots."""
        if self._keeper is None:
            return
        keeper = self._keeper
        self.record(self._note(lambda: keeper.note_connected(wid), "the login"))
        if not self._keeper.enabled:
            return
        if self._task is None or self._task.done():
            self._task = self._spawn(self._snapshot_loop())

    def record(self, write: Coroutine[Any, Any, Any]) -> None:
        """Run ``write`` (of the run record) to its end, even when watui stops right after (``watui init``)."""
        task = asyncio.create_task(write)
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)

    async def flush(self) -> None:
        """Wait for the run record writes in flight (on shutdown, before anything is cancelled)."""
        if self._recording:
            await asyncio.gather(*self._recording, return_exceptions=True)

    async def note_logout(self) -> None:
        """The phone logged this device out: its account's snapshots must never be restored."""
        if self._keeper is None:
            return
        revoked = await self._note(self._keeper.note_logout, "the logout")
        if revoked:
            self._state.publish(
                "action",
                message=f"logged out from the phone: {len(revoked)} snapshot(s) of this account marked revoked",
                data={"verb": "revoke", "phase": "done", "snapshots": revoked},
            )

    async def _note(self, write: Callable[[], T], what: str) -> T | None:
        """Write what the run saw (``.watui-<client_id>.run.json``) off the loop. A disk that refuses it (full,
        read-only) is one error event, and the session goes on: it only costs a restore-before-QR later."""
        try:
            return await asyncio.to_thread(write)
        except OSError as exc:
            where = exc.filename or self.config.session_root
            message = f"could not note {what} in {where}: {exc.strerror or exc}"
            log.warning("%s", message)
            self._state.publish("error", message=message)
            return None

    async def _snapshot_loop(self) -> None:
        """Once the login has settled (CONNECTED for settle_s: WhatsApp Web writes it late), then every every_h."""
        assert self._keeper is not None
        st = self._state
        settle = self.config.snapshots.settle_s
        while st.info.state is S.CONNECTED:
            since = st.info.connected_since
            await asyncio.sleep(settle)
            if st.info.state is not S.CONNECTED or st.info.connected_since != since:
                continue
            due = await asyncio.to_thread(self._keeper.seconds_until_due)
            if due > 0:
                await asyncio.sleep(due)
                continue
            try:
                await self.backup()
            except (WatuiError, OSError):
                pass  # published as an error event by backup(); tried again after settle_s
            except Exception:  # the loop must outlive any one failure
                log.exception("automatic snapshot failed")
