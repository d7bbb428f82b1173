"""Age-encrypted snapshots of the login only; verify, list, restore, revoke.

A snapshot is the login's allow-list (:data:`SNAPSHOT_PATHS`, the same table cleanup never touches: WhatsApp's
IndexedDB and Local Storage LevelDB folders under ``Default/``, and Chromium's ``Local State`` and
``Default/Preferences``), packed as a gzip-compressed tar and encrypted in the age format (``pyrage``), so
``age -d -i key.txt SNAPSHOT | tar xz`` opens one without watui. Caches, other sites and Chromium's own
databases are left out.

- Consistent while the browser runs: each LevelDB folder is copied the way LevelDB reads it (``CURRENT``,
  then the ``MANIFEST`` it names, then the live tables and logs that MANIFEST calls for), into memory; a
  file vanishing meanwhile (a compaction) or ``CURRENT`` moving on starts the copy of that folder again.
- Plaintext never touches the disk: the copy is read into memory, verified there (LevelDB checksums),
  packed there, and streamed into the encryption; the ciphertext goes to a temp file that is fsync'd
  and renamed. When the private key is at hand the written file is decrypted again in memory and
  verified; a snapshot that fails is deleted and the failure logged.
- Beside each ``<client_id>-<stamp>.tar.gz.age`` a small plaintext ``.json`` says when, how large, which
  account and whether it was verified or revoked: listing needs no key. It holds no secret (the account
  id is the phone number the linked device belongs to).

- Restored without ever losing the profile: decrypted as a stream (age in a thread, into a pipe) and
  unpacked member by member into a temp folder beside the profile, bounded by ``max_session_size_mb`` and
  the free space, every member's path resolved and refused outside the profile; verified there, then
  swapped in (:meth:`SessionStore.swap_in`). Only from a snapshot folder private to this user.

Keys: ``[snapshots] recipients`` (age public keys: a machine can write snapshots it cannot read) and
``[snapshots] identity`` (the private key file, refused when group- or world-readable). With neither,
snapshots are off. Everything here is blocking I/O: the manager runs it off the event loop.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import logging
import os
import posixpath
import re
import stat
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

import pyrage

from watui.config import Config, ConfigError
from watui.core.disk import cleanup as cl
from watui.core.disk import leveldb
from watui.core.disk.login import account_of, account_on_disk
from watui.core.disk.store import SessionStore
from watui.core.errors import WatuiError

log = logging.getLogger(__name__)

# What a snapshot holds: the login, and the two files Chromium reads it with. Kept beside cleanup's table.
SNAPSHOT_PATHS: tuple[str, ...] = cl.LOGIN_PATHS
SUFFIX = ".tar.gz.age"
SIDECAR = ".json"
_COPY_TRIES = 5
_STAMP_RE = re.compile(r"^\d{8}-\d{6}(?:-\d+)?$")

Source = Literal["closed", "live"]


class SnapshotError(WatuiError):
    """A snapshot could not be taken, verified, read or restored: the message says which and why."""


class BadSnapshot(SnapshotError):
    """The snapshot itself is unusable (it does not decrypt, unpack or verify): an older one may do."""


# -- keys ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Keys:
    recipients: tuple[pyrage.x25519.Recipient, ...]
    identity: pyrage.x25519.Identity | None
    identity_path: Path | None

    @property
    def can_read(self) -> bool:
        return self.identity is not None


def load_keys(config: Config) -> Keys | None:
    """The configured keys, None when snapshots are off (no key at all); ConfigError naming the key."""
    settings = config.snapshots
    origin = str(config.source) if config.source else "built-in defaults"
    recipients: list[pyrage.x25519.Recipient] = []
    for text in settings.recipients:
        try:
            recipients.append(pyrage.x25519.Recipient.from_str(text.strip()))
        except Exception:
            raise ConfigError(
                f"{origin}: key 'snapshots.recipients': {text!r} is not an age public key (age1...)"
            ) from None
    identity = None
    identity_path = identity_file(config)
    if identity_path is not None:
        identity = read_identity(identity_path, origin)
        own = identity.to_public()
        if str(own) not in {str(r) for r in recipients}:
            recipients.append(own)  # what this machine writes, it can verify and restore
    if not recipients:
        return None
    return Keys(tuple(recipients), identity, identity_path)


def identity_file(config: Config) -> Path | None:
    text = config.snapshots.identity
    return (config.base_dir / Path(text).expanduser()).resolve() if text else None


def read_identity(path: Path, origin: str = "config") -> pyrage.x25519.Identity:
    where = f"{origin}: key 'snapshots.identity'"
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ConfigError(f"{where}: {path} does not exist (create one with 'watui keygen')") from None
    except OSError as exc:
        raise ConfigError(f"{where}: {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):  # a FIFO or a device would block every command on open or read
        raise ConfigError(f"{where}: {path} is {_kind_of(st.st_mode)}, not a regular file; point it at the key file")
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{where}: {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):  # replaced since the stat above
                raise ConfigError(f"{where}: {path} is not a regular file; point it at the key file")
            text = fh.read(64 * 1024).decode("ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: {path}: cannot read it ({exc})") from None
    for line in text.splitlines():
        if line.strip().startswith("AGE-SECRET-KEY-"):
            try:
                return pyrage.x25519.Identity.from_str(line.strip())
            except Exception:
                break
    raise ConfigError(f"{where}: {path} holds no age identity (AGE-SECRET-KEY-...)")


def generate_identity(path: Path) -> str:
    """Write a new age identity to ``path`` (mode 0600, never over an existing file); its recipient."""
    identity = pyrage.x25519.Identity.generate()
    recipient = str(identity.to_public())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
    # All or nothing, never over an existing file: a full disk leaves no empty key behind to block the next try.
    _atomic_write(path, _bytes_of(body), overwrite=False)
    return recipient


def _kind_of(mode: int) -> str:
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
             (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symlink"))  # fmt: skip
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def private_dir_problem(folder: Path, what: str = "snapshot folder") -> str | None:
    """Why ``folder`` is not private to this user, with the fix, or None when it is (or does not exist):
    a folder another user owns, or one group or others may write into, lets them forge what watui reads
    from it (a snapshot watui would unpack by itself)."""
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{what} {folder}: {exc.strerror or exc}"
    uid = os.geteuid()
    if not stat.S_ISDIR(st.st_mode):
        return f"{what} {folder} is not a folder"
    if st.st_uid != uid:
        return f"{what} {folder} belongs to uid {st.st_uid}, not to you (uid {uid}); run: chown {uid} {folder}"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(st.st_mode)
        return f"{what} {folder} is writable by others (mode {mode:04o}); run: chmod go-w {folder}"
    return None


# -- where ------------------------------------------------------------------------------------------
def snapshot_dir(config: Config) -> Path:
    text = config.snapshots.dir
    if not text:
        return config.session_root / ".snapshots"
    return (config.base_dir / Path(text).expanduser()).resolve()


@dataclass(frozen=True)
class Snapshot:
    """One snapshot, as its sidecar describes it (the sidecar never holds a secret)."""

    id: str
    path: Path
    created_at: str
    bytes: int
    plain_bytes: int = 0
    files: int = 0
    account: str | None = None
    verified: bool = False
    verified_by: str = ""  # "decrypt": the written file was opened again; "copy": checked before encrypting
    source: str = ""
    revoked: bool = False
    client_id: str = ""
    problem: str = ""  # why it is not trusted: no or a bad sidecar, cut short, failed to decrypt or verify

    @property
    def restorable(self) -> bool:
        return self.verified and not self.revoked

    def age_s(self, now: float | None = None) -> float:
        created = datetime.fromisoformat(self.created_at.replace("Z", "+00:00")).timestamp()
        return max(0.0, (now if now is not None else time.time()) - created)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "path": str(self.path),
            "createdAt": self.created_at,
            "bytes": self.bytes,
            "plainBytes": self.plain_bytes,
            "files": self.files,
            "account": self.account,
            "verified": self.verified,
            "verifiedBy": self.verified_by or None,
            "source": self.source or None,
            "revoked": self.revoked,
            "problem": self.problem or None,
        }


def list_snapshots(config: Config) -> list[Snapshot]:
    """This session's snapshots, newest first (no key needed)."""
    folder = snapshot_dir(config)
    prefix = f"{config.session.client_id}-"
    out: list[Snapshot] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return []
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(SUFFIX)):
            continue
        stamp = name[len(prefix) : -len(SUFFIX)]
        if not _STAMP_RE.match(stamp):
            continue
        out.append(_read_sidecar(Path(entry.path), stamp, config.session.client_id))
    out.sort(key=lambda s: _sort_key(s.id), reverse=True)
    return out


def _sort_key(stamp: str) -> tuple[str, int]:
    n = stamp[16:]
    return (stamp[:15], int(n) if n.isdigit() else 1)


def _read_sidecar(path: Path, stamp: str, client_id: str) -> Snapshot:
    """The snapshot as its sidecar describes it. A missing, unreadable or malformed sidecar, or one that
    disagrees with the file's size, leaves the snapshot listed but not trusted (never restored by itself)."""
    try:
        size = os.lstat(path).st_size
    except OSError:
        size = 0
    created = datetime.strptime(stamp[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plain = Snapshot(id=stamp, path=path, created_at=created, bytes=size, client_id=client_id)
    sidecar = _sidecar_of(path)
    try:
        text = sidecar.read_text(encoding="utf-8")
    except FileNotFoundError:
        return replace(plain, problem="no sidecar")
    except (OSError, UnicodeDecodeError) as exc:
        return replace(plain, problem=f"sidecar {sidecar.name} unreadable ({getattr(exc, 'strerror', None) or exc})")
    try:
        snap = _parse_sidecar(plain, json.loads(text))
    except (ValueError, TypeError) as exc:
        return replace(plain, problem=f"sidecar {sidecar.name} is malformed ({exc})")
    return snap


def _parse_sidecar(plain: Snapshot, data: object) -> Snapshot:
    """``plain`` with what the sidecar says; ValueError naming the first field that is not what was written."""
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")

    def field(key: str, kinds: tuple[type, ...], default: Any) -> Any:
        value = data.get(key, default)
        if value is None:
            return default
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise ValueError(f"{key}: {value!r}")
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ValueError(f"{key}: {value!r}")
        return value

    created = field("createdAt", (str,), plain.created_at)
    try:
        parsed = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"createdAt: {created!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"createdAt: {created!r} has no time zone")
    snap = replace(
        plain,
        created_at=created,
        plain_bytes=field("plainBytes", (int,), 0),
        files=field("files", (int,), 0),
        account=field("account", (str,), None),
        verified=field("verified", (bool,), False),
        verified_by=field("verifiedBy", (str,), ""),
        source=field("source", (str,), ""),
        revoked=field("revoked", (bool,), False),
        problem=field("problem", (str,), ""),
    )
    written = field("bytes", (int,), None)
    if written is not None and written != plain.bytes:
        why = f"the file is {plain.bytes} bytes, its sidecar says {written} (cut short or replaced)"
        return replace(snap, verified=False, problem=why)
    return snap


def _sidecar_of(path: Path) -> Path:
    return path.with_name(path.name[: -len(SUFFIX)] + SIDECAR)


def find(config: Config, snap_id: str | None, account: str | None = None) -> Snapshot:
    """The snapshot named ``snap_id`` (its stamp, or a unique prefix), else the newest restorable one
    (of ``account`` when given); SnapshotError when there is none."""
    snaps = list_snapshots(config)
    if snap_id:
        found = [s for s in snaps if s.id == snap_id] or [s for s in snaps if s.id.startswith(snap_id)]
        if len(found) != 1:
            known = ", ".join(s.id for s in snaps[:5]) or "none"
            what = "no" if not found else "more than one"
            raise SnapshotError(f"{what} snapshot matches '{snap_id}' in {snapshot_dir(config)} (newest: {known})")
        return found[0]
    for snap in snaps:
        if snap.restorable and (account is None or snap.account == account):
            return snap
    whose = f" of {account}" if account else ""
    raise SnapshotError(f"no verified, unrevoked snapshot{whose} in {snapshot_dir(config)}")


def candidates(config: Config, account: str | None = None, older_than: Snapshot | None = None) -> list[Snapshot]:
    """The restorable snapshots (of ``account`` when given; older than ``older_than`` when given), newest first."""
    return [
        s
        for s in list_snapshots(config)
        if s.restorable
        and (account is None or s.account == account)
        and (older_than is None or _sort_key(s.id) < _sort_key(older_than.id))
    ]


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


# -- taking one -------------------------------------------------------------------------------------
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


def _write_sidecar(snap: Snapshot) -> None:
    data = snap.to_json()
    data.pop("path")
    data["clientId"] = snap.client_id
    _atomic_write(_sidecar_of(snap.path), _bytes_of(json.dumps(data, indent=2) + "\n"))


def _bytes_of(text: str) -> Callable[[io.BufferedWriter], None]:
    def write(out: io.BufferedWriter) -> None:
        out.write(text.encode())

    return write


def _atomic_write(path: Path, fill: Callable[[io.BufferedWriter], None], overwrite: bool = True) -> None:
    """Write ``path`` all or nothing: ``fill`` writes a temp file beside it (mode 0600, as mkstemp makes
    it), which is fsync'd and renamed over ``path`` (linked to it with ``overwrite=False``: FileExistsError
    when it exists); then the folder is fsync'd. An error without a file name (a full disk) names ``path``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _named(exc, path.parent) from None
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        if overwrite:
            os.rename(tmp, path)
        else:
            _link_new(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _named(exc, path) from None
        raise
    _fsync_dir(path.parent)


def _link_new(tmp: str, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if nothing has it (link: atomic, FileExistsError otherwise)."""
    try:
        os.link(tmp, path)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP) or os.path.lexists(path):
            raise
        os.rename(tmp, path)  # a filesystem without hard links (vfat, some FUSE): checked just before
        return
    os.unlink(tmp)


def _named(exc: OSError, path: Path) -> OSError:
    if exc.filename is not None or exc.errno is None:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _make_private_dir(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)


def prune(config: Config) -> list[Path]:
    """Delete all but the newest ``keep`` verified snapshots of this session (and their sidecars), and the
    unverified ones older than the newest verified one (a torn write, a sidecar that did not fit, one that
    failed to decrypt: a sound newer one makes them useless)."""
    keep = config.snapshots.keep
    snaps = list_snapshots(config)
    verified = [s for s in snaps if s.verified]
    doomed = verified[keep:]
    if verified:
        newest = _sort_key(verified[0].id)
        doomed += [s for s in snaps if not s.verified and _sort_key(s.id) < newest]
    for snap in doomed:
        for path in (snap.path, _sidecar_of(snap.path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return [s.path for s in doomed]


def revoke(config: Config, account: str | None) -> list[str]:
    """Mark ``account``'s snapshots revoked (the phone removed this linked device: restoring one would only
    show a QR). Without an account, every snapshot of this session. The ids marked."""
    marked: list[str] = []
    for snap in list_snapshots(config):
        if snap.revoked or (account is not None and snap.account != account):
            continue
        _write_sidecar(replace(snap, revoked=True))
        marked.append(snap.id)
    return marked


def revoke_one(config: Config, snap_id: str) -> list[str]:
    """Mark the snapshot ``snap_id`` revoked (its login turned out dead); the ids marked."""
    for snap in list_snapshots(config):
        if snap.id == snap_id and not snap.revoked:
            _write_sidecar(replace(snap, revoked=True))
            return [snap.id]
    return []


# -- reading and restoring ---------------------------------------------------------------------------
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
        _fsync_dir(store.root)
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
        _fsync_dir(Path(here))


def status_line(config: Config) -> str:
    """One line for ``watui info``: off, or the newest snapshot's age."""
    try:
        keys = load_keys(config)
    except ConfigError as exc:
        return f"misconfigured: {exc}"
    if keys is None:
        return "off (no key: run 'watui keygen' and set [snapshots] identity or recipients)"
    snaps = list_snapshots(config)
    where = snapshot_dir(config)
    if not snaps:
        return f"on, none yet in {where}"
    newest = snaps[0]
    mark = "verified" if newest.verified else "NOT verified"
    if newest.revoked:
        mark += ", revoked"
    return f"on, {len(snaps)} in {where}; newest {newest.id} ({_ago(newest.age_s())} ago, {mark})"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


# -- what the last run left: when to restore before asking for a QR -----------------------------------
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
