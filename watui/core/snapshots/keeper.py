"""Keeper: the one entry point to snapshots, used by AutoSnap and by the CLI alike."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from watui.config import Config
from watui.core.disk.login import account_on_disk
from watui.core.disk.store import SessionStore
from watui.core.snapshots.archive import Source, take
from watui.core.snapshots.catalog import Snapshot, SnapshotError, candidates, list_snapshots, revoke, revoke_one
from watui.core.snapshots.keys import load_keys, private_dir_problem
from watui.core.snapshots.restoring import RestoreReport, RunRecord, read_record, restore_first, write_record

log = logging.getLogger(__name__)


class Keeper:
    """The manager's side of snapshots: take one, find what to restore before a QR, note logins and
    logouts. Every method is blocking I/O (the manager calls them through ``asyncio.to_thread``)."""

    def __init__(self, config: Config, store: SessionStore) -> None:
        self.config = config
        self.store = store
        self.keys = load_keys(config)  # ConfigError: the identity is readable by others, a bad recipient

    @property
    def enabled(self) -> bool:
        return self.keys is not None

    def take(self, source: Source) -> Snapshot:
        if self.keys is None:
            raise SnapshotError("snapshots are off: no key in [snapshots] (run 'watui keygen')")
        snap = take(self.config, self.keys, source)
        if snap.account:
            write_record(self.config, RunRecord(connected=True, account=snap.account))
        return snap

    def seconds_until_due(self) -> float:
        """Seconds until the next periodic snapshot is due (0: now)."""
        snaps = [s for s in list_snapshots(self.config) if s.verified]
        if not snaps:
            return 0.0
        return max(0.0, self.config.snapshots.every_h * 3600 - snaps[0].age_s())

    def newest_at(self) -> datetime | None:
        """When the newest verified snapshot of this session was taken, if any."""
        for snap in list_snapshots(self.config):
            if snap.verified:
                return datetime.fromisoformat(snap.created_at.replace("Z", "+00:00"))
        return None

    def note_connected(self, wid: str | None = None) -> None:
        """The session was seen CONNECTED as ``wid`` (what the page stores; the disk has it seconds later)."""
        record = read_record(self.config)
        account = wid or account_on_disk(self.store.profile) or record.account
        write_record(self.config, RunRecord(connected=True, account=account))

    def note_logout(self) -> list[str]:
        """The phone removed this linked device: revoke the account's snapshots (restoring would only
        show a QR); the ids revoked."""
        record = read_record(self.config)
        write_record(self.config, replace(record, connected=False, logged_out=True))
        return revoke(self.config, record.account) if record.account else []

    def note_dead(self, snap: Snapshot) -> list[str]:
        """``snap`` was restored and still asks for a QR: its login is dead. Revoke it and stop restoring by
        itself until the next login (as a logout does); the ids revoked."""
        record = read_record(self.config)
        write_record(self.config, replace(record, connected=False, logged_out=True))
        return revoke_one(self.config, snap.id)

    def restorable(self) -> Snapshot | None:
        """The snapshot to restore before asking for a QR: only when the last run was connected as a known
        account, no logout or clear came after, a key can open it, one of that account is verified, and the
        snapshot folder is private to this user (anyone else who can write there could forge one)."""
        if self.keys is None or not self.keys.can_read:
            return None
        record = read_record(self.config)
        if not record.connected or record.logged_out or record.cleared or not record.account:
            return None
        found = candidates(self.config, record.account)
        if not found:
            return None
        problem = private_dir_problem(found[0].path.parent)
        if problem:
            log.warning("no restore before the QR: %s", problem)
            return None
        return found[0]

    def restore(self, snap: Snapshot, reason: str) -> RestoreReport:
        """Restore ``snap``, or when it does not decrypt or verify the next older verified one of its
        account (each that fails is marked not verified)."""
        assert self.keys is not None
        older = candidates(self.config, snap.account, older_than=snap) if snap.account else []
        return restore_first(self.config, self.keys, self.store, [snap, *older], reason)
