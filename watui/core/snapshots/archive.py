"""The login copy: LoginCopy, copy_login, verify, pack and unpack, taking a snapshot, opening one."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import posixpath
import stat
import tarfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pyrage

from watui.config import Config
from watui.core.disk import cleanup as cl
from watui.core.disk import leveldb
from watui.core.disk.login import account_of
from watui.core.snapshots.atomic import _atomic_write, _make_private_dir
from watui.core.snapshots.catalog import (
    SUFFIX,
    BadSnapshot,
    Snapshot,
    SnapshotError,
    _write_sidecar,
    prune,
    snapshot_dir,
)
from watui.core.snapshots.keys import Keys

log = logging.getLogger(__name__)

# What a snapshot holds: the login, and the two files Chromium reads it with. Kept beside cleanup's table.
SNAPSHOT_PATHS: tuple[str, ...] = cl.LOGIN_PATHS
_COPY_TRIES = 5

Source = Literal["closed", "live"]


# -- copying the login ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginCopy:
    """The login's files, relative to the profile, held in memory."""

    files: Mapping[str, bytes]

    @property
    def plain_bytes(self) -> int:
        return sum(len(v) for v in self.files.values())

    def folder(self, rel: str) -> dict[str, bytes]:
        prefix = rel + "/"
        return {k[len(prefix) :]: v for k, v in self.files.items() if k.startswith(prefix)}


def copy_login(profile: Path) -> LoginCopy:
    """Read the login's allow-list into memory, LevelDB folders the way LevelDB reads them; SnapshotError
    when the login is missing or damaged."""
    if os.path.islink(profile):
        raise SnapshotError(f"refusing to copy {profile}: it is a symlink")
    files: dict[str, bytes] = {}
    for rel in SNAPSHOT_PATHS:
        path = profile / rel
        if rel in cl.LOGIN_LEVELDBS:
            if not path.is_dir():
                if rel in cl.LOGIN_REQUIRED:
                    raise SnapshotError(f"no login to copy: {path} does not exist")
                continue
            for name, data in _copy_leveldb(path).items():
                files[f"{rel}/{name}"] = data
        else:
            with contextlib.suppress(FileNotFoundError):
                files[rel] = _read_regular(path)
    return LoginCopy(files)


def _copy_leveldb(folder: Path) -> dict[str, bytes]:
    last = ""
    for _ in range(_COPY_TRIES):
        try:
            current = _read_regular(folder / "CURRENT")
            files = {"CURRENT": current}
            name = current.decode("ascii", "replace").rstrip("\n")
            files[name] = _read_regular(folder / name)
            manifest = leveldb.parse_manifest(files[name], name)
            for live in leveldb.live_files_of(manifest, os.listdir(folder)):
                files[live] = _read_regular(folder / live)
            if _read_regular(folder / "CURRENT") != current:
                last = "CURRENT changed during the copy"
                continue  # a new MANIFEST meanwhile: copy again from the new one
        except (FileNotFoundError, leveldb.Damage) as exc:
            last = str(exc)  # a compaction removed a file between MANIFEST and read: copy again
            continue
        problem = leveldb.damage_in(files)
        if problem is None:
            return files
        last = problem
    raise SnapshotError(f"{folder}: no consistent copy after {_COPY_TRIES} tries ({last})")


def _read_regular(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise SnapshotError(f"{path} is not a regular file")
        return fh.read()


def verify(copy: LoginCopy) -> str | None:
    """Why ``copy`` would not give a login back, or None when every LevelDB folder is sound."""
    for rel in cl.LOGIN_LEVELDBS:
        files = copy.folder(rel)
        if not files:
            if rel in cl.LOGIN_REQUIRED:
                return f"{rel}: missing"
            continue
        problem = leveldb.damage_in(files)
        if problem:
            return f"{rel}: {problem}"
    return None


# -- packing ----------------------------------------------------------------------------------------
def pack(copy: LoginCopy) -> bytes:
    """A gzip-compressed tar of the copy, in memory (fixed owner and times: no host details leak)."""
    buffer = io.BytesIO()
    now = int(time.time())
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as tar:
        folders: set[str] = set()
        for rel in sorted(copy.files):
            for parent in _parents(rel):
                if parent not in folders:
                    folders.add(parent)
                    info = tarfile.TarInfo(parent)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o700, now
                    tar.addfile(info)
            data = copy.files[rel]
            info = tarfile.TarInfo(rel)
            info.size, info.mode, info.mtime = len(data), 0o600, now
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _parents(rel: str) -> Iterator[str]:
    parts = rel.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        yield "/".join(parts[:i])


def unpack(data: bytes) -> LoginCopy:
    """The files of a decrypted snapshot, in memory; BadSnapshot on anything outside the allow-list."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                rel = member_path(member)
                if rel is None:
                    continue
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[rel] = extracted.read()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise BadSnapshot(f"snapshot is not a readable tar.gz ({exc})") from None
    return LoginCopy(files)


_ANCHOR = "/profile"


def member_path(member: tarfile.TarInfo) -> str | None:
    """Where a snapshot's member lands, relative to the profile (None: a folder, made as needed).
    BadSnapshot for anything but a regular file (links, devices, sparse files), a name that resolves
    outside the profile, or one outside the login's allow-list."""
    name = member.name
    if member.isdir():
        return None
    if not member.isreg() or member.issparse():
        kind = "a sparse file" if member.issparse() else "a link" if member.issym() or member.islnk() else "not a file"
        raise BadSnapshot(f"snapshot holds {name!r}, {kind}: only regular files are restored")
    # Resolved, as the kernel would: each '..' climbs one folder; anything that ends outside is refused.
    resolved = posixpath.normpath(posixpath.join(_ANCHOR, name))
    rel = posixpath.relpath(resolved, _ANCHOR)
    if rel == "." or rel == ".." or rel.startswith("../"):
        raise BadSnapshot(f"snapshot holds {name!r}, which resolves outside the profile")
    if not _allowed(rel):
        raise BadSnapshot(f"snapshot holds {name!r}, outside the login's allow-list")
    return rel


def _allowed(rel: str) -> bool:
    return any(rel == p or rel.startswith(p + "/") for p in SNAPSHOT_PATHS)


# -- taking one and opening one -------------------------------------------------------------------------------------
def take(config: Config, keys: Keys, source: Source = "closed") -> Snapshot:
    """Copy, verify, pack, encrypt, write atomically, verify again, describe, prune; SnapshotError when
    the copy or the written file fails verification (nothing is kept then)."""
    profile = config.profile_dir
    copy = copy_login(profile)
    problem = verify(copy)
    if problem:
        raise SnapshotError(f"login copy of {profile} failed verification: {problem}")
    account = account_of(copy.files)
    if account is None:
        raise SnapshotError(
            f"no login in {profile / cl.LOCAL_STORAGE} (no last-wid-md; WhatsApp Web writes it a few seconds "
            "after connecting): nothing worth a snapshot yet"
        )
    folder = snapshot_dir(config)
    _make_private_dir(folder)
    stamp, target = _new_name(folder, config.session.client_id)
    plaintext = pack(copy)
    _write_encrypted(target, plaintext, keys)
    verified_by = "copy"
    if keys.identity is not None:
        try:
            again = open_snapshot(target, keys.identity)
            problem = verify(again)
            if problem is None and dict(again.files) != dict(copy.files):
                problem = "the decrypted files differ from the copy"
        except SnapshotError as exc:
            problem = str(exc)
        if problem:
            with contextlib.suppress(OSError):
                target.unlink()
            log.error("snapshot %s discarded: %s", target, problem)
            raise SnapshotError(f"snapshot {target.name} discarded: it failed verification ({problem})")
        verified_by = "decrypt"
    snap = Snapshot(
        id=stamp,
        path=target,
        created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        bytes=target.stat().st_size,
        plain_bytes=copy.plain_bytes,
        files=len(copy.files),
        account=account,
        verified=True,
        verified_by=verified_by,
        source=source,
        client_id=config.session.client_id,
    )
    try:
        _write_sidecar(snap)
    except BaseException:
        with contextlib.suppress(OSError):  # an .age without its sidecar is never trusted: keep nothing
            target.unlink()
        raise
    prune(config)
    return snap


def _new_name(folder: Path, client_id: str) -> tuple[str, Path]:
    base = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    for n in range(1, 1000):
        stamp = base if n == 1 else f"{base}-{n}"
        path = folder / f"{client_id}-{stamp}{SUFFIX}"
        if not os.path.lexists(path):
            return stamp, path
    raise SnapshotError(f"too many snapshots named {client_id}-{base} in {folder}")


def _write_encrypted(target: Path, plaintext: bytes, keys: Keys) -> None:
    """Stream ``plaintext`` (in memory) into age encryption, into a temp file beside ``target``; fsync,
    rename, fsync the folder."""

    def encrypt(out: io.BufferedWriter) -> None:
        try:
            pyrage.encrypt_io(io.BytesIO(plaintext), out, list(keys.recipients))
        except pyrage.EncryptError as exc:
            raise SnapshotError(f"cannot encrypt {target.name}: {exc}") from None

    _atomic_write(target, encrypt)


def open_snapshot(path: Path, identity: pyrage.x25519.Identity) -> LoginCopy:
    """Decrypt and unpack a snapshot in memory (one this machine just wrote: to check it)."""
    try:
        ciphertext = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        plaintext = pyrage.decrypt(ciphertext, [identity])
    except Exception as exc:
        raise BadSnapshot(f"cannot decrypt {path.name} with the configured identity ({exc})") from None
    return unpack(plaintext)
