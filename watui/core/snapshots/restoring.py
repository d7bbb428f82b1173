"""Restoring a snapshot into the profile (streamed, bounded, verified, swapped in) and what the last run left."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import pyrage

from watui.config import Config
from watui.core.disk import cleanup as cl
from watui.core.disk import leveldb
from watui.core.disk.login import account_on_disk
from watui.core.disk.store import SessionStore
from watui.core.durable import fsync_dir
from watui.core.snapshots.archive import member_path
from watui.core.snapshots.atomic import _atomic_write, _bytes_of, _named
from watui.core.snapshots.catalog import BadSnapshot, Snapshot, SnapshotError, _write_sidecar, snapshot_dir
from watui.core.snapshots.keys import Keys, private_dir_problem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreReport:
    snapshot: Snapshot
    quarantined_to: Path | None
    profile: Path
    message: str
    skipped: tuple[str, ...] = ()  # newer snapshots tried first that did not decrypt or verify, and why

    def to_json(self) -> dict[str, Any]:
        return {
            "restored": True,
            "snapshot": self.snapshot.to_json(),
            "profile": str(self.profile),
            "quarantinedTo": str(self.quarantined_to) if self.quarantined_to else None,
            "skipped": list(self.skipped),
            "message": self.message,
        }


_RESERVE_BYTES = 1024 * 1024  # left free after a restore, for Chromium's first writes


_BLOCK = 4096


def restore(config: Config, keys: Keys, store: SessionStore, snap: Snapshot, reason: str = "") -> RestoreReport:
    """Unpack ``snap`` into a temp folder beside the profile, streaming (decrypted in a pipe, never whole in
    memory), bounded by ``max_session_size_mb`` and the free space; verify it there; then swap it in, the
    profile moving to quarantine. On any failure the profile stays exactly as it was. BadSnapshot when the
    snapshot itself is unusable. The browser must be stopped."""
    if keys.identity is None:
        raise SnapshotError(
            "cannot restore: no private key; set [snapshots] identity in config.toml to the file 'watui keygen' wrote"
        )
    problem = private_dir_problem(snap.path.parent)
    if problem:
        raise SnapshotError(f"refusing to restore: {problem} (anyone who can write there can forge a snapshot)")
    store.ensure_root()
    profile = store.profile
    cap, free = store.max_bytes, _free_bytes(store.root) - _RESERVE_BYTES
    if snap.plain_bytes > min(cap, free):
        raise _too_large(snap, snap.plain_bytes, cap, free, store)
    work = Path(tempfile.mkdtemp(prefix=f".{profile.name}.restore-", dir=store.root))
    ready = work.with_name(work.name.replace(".restore-", ".restore-ready-", 1))
    try:
        _unpack_into(work, snap, keys.identity, cap, free, store)
        problem = _login_problem(work)
        if problem:
            raise BadSnapshot(f"snapshot {snap.id} does not hold a sound login: {problem}")
        account = account_on_disk(work)
        if account is None or (snap.account and account != snap.account):
            raise BadSnapshot(
                f"snapshot {snap.id} holds the login of {account or 'nobody'}, its sidecar says {snap.account}"
            )
        _fsync_tree(work)
        os.rename(work, ready)  # verified and on disk: a restore that dies from here on is finished by cleanup
        fsync_dir(store.root)
        moved = store.swap_in(ready, reason or f"watui restore {snap.id}")
    except BaseException:
        for leftover in (work, ready):
            if os.path.lexists(leftover):
                with contextlib.suppress(OSError):
                    cl.remove_inside(store.root, leftover)
        raise
    where = f"; the previous profile is in {moved}" if moved else ""
    message = f"restored snapshot {snap.id} ({snap.account or 'unknown account'}) into {profile}{where}"
    log.info(message)
    return RestoreReport(snap, moved, profile, message)


def restore_first(
    config: Config, keys: Keys, store: SessionStore, snaps: Sequence[Snapshot], reason: str = ""
) -> RestoreReport:
    """Restore the first of ``snaps`` that works, trying them in order: one that does not decrypt, unpack or
    verify is marked not verified (with why) and the next is tried. Any other failure (a full disk, the
    session in use, a folder others may write) stops at once, the profile as it was."""
    skipped: list[str] = []
    for snap in snaps:
        try:
            report = restore(config, keys, store, snap, reason)
        except BadSnapshot as exc:
            log.info("snapshot %s cannot be restored: %s", snap.id, exc)
            mark_unverified(snap, str(exc))
            skipped.append(f"{snap.id}: {exc}")
            continue
        if not skipped:
            return report
        message = f"{report.message} (skipped, marked not verified: {'; '.join(skipped)})"
        return replace(report, skipped=tuple(skipped), message=message)
    if not snaps:
        raise SnapshotError(f"no verified, unrevoked snapshot in {snapshot_dir(config)}")
    raise SnapshotError(f"no snapshot could be restored ({'; '.join(skipped)}); the profile was left as it was")


def mark_unverified(snap: Snapshot, why: str) -> None:
    """Record in its sidecar that ``snap`` failed (it is listed as not verified and never restored by itself)."""
    try:
        _write_sidecar(replace(snap, verified=False, problem=why))
    except OSError as exc:
        log.error("could not mark snapshot %s not verified: %s", snap.id, exc)


def _free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


def _too_large(snap: Snapshot, size: int, cap: int, free: int, store: SessionStore) -> SnapshotError:
    mb = size / (1024 * 1024)
    if size > cap:
        return BadSnapshot(
            f"snapshot {snap.id} expands to more than {mb:.1f} MB, over max_session_size_mb "
            f"({store.config.session.max_session_size_mb} MB)"
        )
    return SnapshotError(
        f"{store.root}: not enough free space to restore snapshot {snap.id} (needs {mb:.1f} MB and "
        f"{_RESERVE_BYTES // (1024 * 1024)} MB to spare, {max(0, free + _RESERVE_BYTES) / (1024 * 1024):.1f} MB free): "
        "the profile was left as it was; free some space"
    )


def _unpack_into(
    dest: Path, snap: Snapshot, identity: pyrage.x25519.Identity, cap: int, free: int, store: SessionStore
) -> None:
    """Decrypt ``snap`` into a pipe (age in a thread) and unpack the tar stream member by member into ``dest``;
    each member's size is checked against ``cap`` and ``free`` before a byte of it is written."""
    try:
        fd = os.open(snap.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        raise SnapshotError(f"cannot read {snap.path}: {exc.strerror or exc}") from None
    source = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
        source.close()
        raise BadSnapshot(f"{snap.path} is not a regular file")
    read_end, write_end = os.pipe()
    failed: list[BaseException] = []

    def decrypt() -> None:
        out = open(write_end, "wb")  # noqa: SIM115 - closed below, whatever the reader did
        try:
            pyrage.decrypt_io(source, out, [identity])
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread below
            failed.append(exc)
        finally:
            with contextlib.suppress(OSError):  # EPIPE: the reader stopped early (it raised)
                out.close()

    worker = threading.Thread(target=decrypt, name=f"decrypt-{snap.id}", daemon=True)
    try:
        with open(read_end, "rb") as reader:
            worker.start()
            try:
                _unpack_stream(reader, dest, snap, cap, free, store)
                while reader.read(1 << 16):  # the tar ends before age's last chunk: let age check it
                    pass
            finally:
                reader.close()  # a decrypt still writing gets EPIPE and ends
                worker.join()
    except (BadSnapshot, OSError) as exc:
        if failed and not isinstance(failed[0], BrokenPipeError):
            raise BadSnapshot(f"cannot decrypt {snap.path.name} with the configured identity ({failed[0]})") from None
        if isinstance(exc, BadSnapshot):
            raise
        raise _named(exc, dest) from None
    finally:
        source.close()
    if failed:
        raise BadSnapshot(f"cannot decrypt {snap.path.name} with the configured identity ({failed[0]})")


def _unpack_stream(stream: IO[bytes], dest: Path, snap: Snapshot, cap: int, free: int, store: SessionStore) -> None:
    total = used = 0
    seen: set[str] = set()
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as tar:
            for member in tar:
                rel = member_path(member)
                if rel is None:
                    continue
                if rel in seen:
                    raise BadSnapshot(f"snapshot {snap.id} holds {rel!r} twice")
                seen.add(rel)
                total += member.size
                used += -(-member.size // _BLOCK) * _BLOCK + _BLOCK  # blocks, and the file's own entry
                if total > cap or used > free:
                    raise _too_large(snap, max(total, used), cap, free, store)
                data = tar.extractfile(member)
                assert data is not None
                try:
                    write_member(dest / rel, data)
                except (NotADirectoryError, IsADirectoryError, FileExistsError):  # a file where a folder is
                    raise BadSnapshot(f"snapshot {snap.id} holds {rel!r} where it also holds a folder") from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BadSnapshot(f"snapshot {snap.id} is not a readable tar.gz ({exc})") from None


def write_member(target: Path, data: IO[bytes]) -> None:
    """One restored file: created (never over anything, never through a link), copied in chunks, fsync'd."""
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as out:
        while chunk := data.read(1 << 16):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


def _login_problem(profile: Path) -> str | None:
    """Why the login on disk in ``profile`` would not give a login back, or None when it is sound."""
    for rel in cl.LOGIN_LEVELDBS:
        path = profile / rel
        if not path.is_dir():
            if rel in cl.LOGIN_REQUIRED:
                return f"{rel}: missing"
            continue
        problem = leveldb.damage(path)
        if problem:
            return f"{rel}: {problem}"
    return None


def _fsync_tree(folder: Path) -> None:
    for here, _dirs, _files in os.walk(folder):
        fsync_dir(Path(here))


@dataclass(frozen=True)
class RunRecord:
    """What this machine last saw of the session, kept in ``<session_path>/.watui-<client_id>.run.json``:
    whether it was connected, as which account, and whether a logout or a ``clear`` came after."""

    connected: bool = False
    account: str | None = None
    logged_out: bool = False
    cleared: bool = False


def _record_path(config: Config) -> Path:
    return config.session_root / f".watui-{config.session.client_id}.run.json"


def read_record(config: Config) -> RunRecord:
    try:
        data = json.loads(_record_path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return RunRecord()
    return RunRecord(
        connected=bool(data.get("connected")),
        account=data.get("account") if isinstance(data.get("account"), str) else None,
        logged_out=bool(data.get("loggedOut")),
        cleared=bool(data.get("cleared")),
    )


def write_record(config: Config, record: RunRecord) -> None:
    if not config.session_root.is_dir():
        return
    data = {"connected": record.connected, "account": record.account, "loggedOut": record.logged_out,
            "cleared": record.cleared}  # fmt: skip
    _atomic_write(_record_path(config), _bytes_of(json.dumps(data) + "\n"))


def note_cleared(config: Config) -> None:
    """The operator cleared the session on purpose: no automatic restore until the next login."""
    write_record(config, replace(read_record(config), connected=False, cleared=True))
