"""The manager's use of login snapshots: when to take one, and restoring one before asking for a QR.

Snapshots themselves (encryption, the copy, retention) are watui/core/snapshots.py's ``Keeper``; this
module decides when: a snapshot once the login has settled after connecting and then every ``every_h``,
one on demand (``backup``), a restore before a QR (at most once per launch run; the launch gate,
watui/core/launch.py, asks for it), and marking snapshots revoked when the phone logs this device out or a
restored login turns out dead. ``AutoSnap`` holds a reference to its
manager: it reads the manager's snapshot and publishes through it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from watui.core.errors import ActionUnavailable, WatuiError
from watui.core.models import ConnectionState, now_utc
from watui.core.snapshots import Keeper, Snapshot, SnapshotError, list_snapshots, snapshot_dir, status_line

if TYPE_CHECKING:
    from watui.core.manager import SessionManager

log = logging.getLogger(__name__)

S = ConnectionState


class AutoSnap:
    """The snapshot schedule, ``backup``, and restore-before-QR of one manager."""

    def __init__(self, manager: SessionManager) -> None:
        self._m = manager
        self.config = manager.config
        self._keeper: Keeper | None = None  # None until start; off when no key is configured
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._restore_tried = False  # restore-before-QR: at most once per initialize
        # Writes of the run record in flight: never cancelled, awaited on shutdown (the next start reads it).
        self._recording: set[asyncio.Task[Any]] = set()
        self.last_snapshot: Snapshot | None = None

    async def start(self) -> None:
        """Read the key (ConfigError: a bad key) and the newest snapshot's time."""
        m = self._m
        self._keeper = await asyncio.to_thread(Keeper, self.config, m.store)
        if self._keeper.enabled:
            newest = await asyncio.to_thread(self._keeper.newest_at)
            m._info = replace(m._info, snapshots_on=True, last_snapshot_at=newest)

    @property
    def busy(self) -> bool:
        """A snapshot is being taken now (the browser must not be recycled under it)."""
        return self._lock.locked()

    # -- on demand ---------------------------------------------------------------------------------
    async def backup(self) -> Snapshot:
        """Take an encrypted snapshot of the login now (copied the way LevelDB reads it when the browser runs)."""
        m = self._m
        keeper = self._keeper
        if keeper is None or not keeper.enabled:
            raise ActionUnavailable("cannot back up: snapshots are off (no key in [snapshots]; run 'watui keygen')")
        async with self._lock:
            live = m._driver is not None and m._driver.running
            try:
                snap = await asyncio.to_thread(keeper.take, "live" if live else "closed")
            except (SnapshotError, OSError) as exc:
                log.error("snapshot failed: %s", exc)
                m._publish("error", message=f"snapshot failed: {exc}", data={"verb": "backup", "phase": "failed"})
                raise
        self.last_snapshot = snap
        m._info = replace(m._info, last_snapshot_at=now_utc())
        m._publish(
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
        m = self._m
        keeper = self._keeper
        if keeper is None or self._restore_tried or m.logout_seen:
            return None
        self._restore_tried = True
        snap = await asyncio.to_thread(keeper.restorable)
        if snap is None:
            return None
        if close_first:
            await m._close_browser()
        try:
            report = await asyncio.to_thread(keeper.restore, snap, f"restore before QR: {why}")
        except (WatuiError, OSError) as exc:
            m._publish("error", message=f"restore of snapshot {snap.id} failed: {exc}")
            return None
        notes.append(f"restored snapshot {snap.id} before asking for a QR ({why})")
        m._publish(
            "action",
            message=f"{why}: {report.message}",
            data={"verb": "restore", "phase": "done", "reason": why, "snapshot": snap.to_json(),
                  "quarantinedTo": str(report.quarantined_to) if report.quarantined_to else None},
        )  # fmt: skip
        await m.refresh_disk()
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
        self._m._publish("action", message=message, data=data)

    # -- what the session tells us -----------------------------------------------------------------
    def on_connected(self, wid: str | None = None) -> None:
        """The session connected, as ``wid`` (the account the page stores): remember it, whatever the face
        (restore-before-QR needs it; the login reaches the disk only seconds later), and schedule the snapshots."""
        if self._keeper is None:
            return
        self.record(asyncio.to_thread(self._keeper.note_connected, wid))
        if not self._keeper.enabled:
            return
        if self._task is None or self._task.done():
            self._task = self._m._spawn(self._snapshot_loop())

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
        revoked = await asyncio.to_thread(self._keeper.note_logout)
        if revoked:
            self._m._publish(
                "action",
                message=f"logged out from the phone: {len(revoked)} snapshot(s) of this account marked revoked",
                data={"verb": "revoke", "phase": "done", "snapshots": revoked},
            )

    async def _snapshot_loop(self) -> None:
        """Once the login has settled (CONNECTED for settle_s: WhatsApp Web writes it late), then every every_h."""
        assert self._keeper is not None
        m = self._m
        settle = self.config.snapshots.settle_s
        while m._info.state is S.CONNECTED:
            since = m._info.connected_since
            await asyncio.sleep(settle)
            if m._info.state is not S.CONNECTED or m._info.connected_since != since:
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
