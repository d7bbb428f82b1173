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

Keys: ``[snapshots] recipients`` (age public keys: a machine can write snapshots it cannot read) and
``[snapshots] identity`` (the private key file, refused when group- or world-readable). With neither,
snapshots are off. Everything here is blocking I/O: the manager runs it off the event loop.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pyrage

from watui.config import Config, ConfigError
from watui.core import cleanup as cl
from watui.core import leveldb
from watui.core.errors import WatuiError
from watui.core.store import LOGIN_KEY, SessionStore

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
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{where}: {path} is readable by others (mode {stat.S_IMODE(st.st_mode):04o}); run: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="ascii")
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
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(body)
        fh.flush()
        os.fsync(fh.fileno())
    return recipient


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
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    created = datetime.strptime(stamp[:15], "%Y%m%d-%H%M%S").replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    plain = Snapshot(id=stamp, path=path, created_at=created, bytes=size, client_id=client_id)
    try:
        data = json.loads(_sidecar_of(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return plain  # no sidecar: listed, but not trusted for an automatic restore
    return replace(
        plain,
        created_at=str(data.get("createdAt") or created),
        plain_bytes=int(data.get("plainBytes") or 0),
        files=int(data.get("files") or 0),
        account=data.get("account"),
        verified=bool(data.get("verified")),
        verified_by=str(data.get("verifiedBy") or ""),
        source=str(data.get("source") or ""),
        revoked=bool(data.get("revoked")),
    )


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


def account_of(copy_files: Mapping[str, bytes]) -> str | None:
    """The linked account (Local Storage's ``last-wid-md``), None when not logged in."""
    folder = {k[len(cl.LOCAL_STORAGE) + 1 :]: v for k, v in copy_files.items() if k.startswith(cl.LOCAL_STORAGE + "/")}
    try:
        value = leveldb.latest_value_in(folder, LOGIN_KEY)
    except leveldb.Damage:
        return None
    return decode_wid(value)


def account_on_disk(profile: Path) -> str | None:
    try:
        return decode_wid(leveldb.latest_value(profile / cl.LOCAL_STORAGE, LOGIN_KEY))
    except (leveldb.Damage, OSError):
        return None


def decode_wid(value: bytes | None) -> str | None:
    if not value:
        return None
    raw = value[1:]
    text = raw.decode("latin-1") if value[0] == 1 else raw.decode("utf-16-le", "replace")
    with contextlib.suppress(ValueError):
        parsed = json.loads(text)
        if isinstance(parsed, str):
            text = parsed
    text = text.strip().strip("\x00")
    return text or None


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
    """The files of a decrypted snapshot, in memory; SnapshotError on anything outside the allow-list."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for member in tar:
                if member.isdir():
                    continue
                if not member.isfile() or not _allowed(member.name):
                    raise SnapshotError(f"snapshot holds {member.name!r}, outside the login's allow-list")
                extracted = tar.extractfile(member)
                assert extracted is not None
                files[member.name] = extracted.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise SnapshotError(f"snapshot is not a readable tar.gz ({exc})") from None
    return LoginCopy(files)


def _allowed(name: str) -> bool:
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        return False
    return any(name == p or name.startswith(p + "/") for p in SNAPSHOT_PATHS)


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
    _write_sidecar(snap)
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


def _atomic_write(path: Path, fill: Callable[[io.BufferedWriter], None]) -> None:
    """Write ``path`` all or nothing: ``fill`` writes a temp file beside it (mode 0600, as mkstemp makes
    it), which is fsync'd and renamed over ``path``; then the folder is fsync'd."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            fill(out)
            out.flush()
            os.fsync(out.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


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
    """Delete all but the newest ``keep`` verified snapshots of this session (and their sidecars)."""
    keep = config.snapshots.keep
    doomed = [s for s in list_snapshots(config) if s.verified][keep:]
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
    """Decrypt and unpack a snapshot in memory."""
    try:
        ciphertext = path.read_bytes()
    except OSError as exc:
        raise SnapshotError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        plaintext = pyrage.decrypt(ciphertext, [identity])
    except Exception as exc:
        raise SnapshotError(f"cannot decrypt {path.name} with the configured identity ({exc})") from None
    return unpack(plaintext)


@dataclass(frozen=True)
class RestoreReport:
    snapshot: Snapshot
    quarantined_to: Path | None
    profile: Path
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "restored": True,
            "snapshot": self.snapshot.to_json(),
            "profile": str(self.profile),
            "quarantinedTo": str(self.quarantined_to) if self.quarantined_to else None,
            "message": self.message,
        }


def restore(config: Config, keys: Keys, store: SessionStore, snap: Snapshot, reason: str = "") -> RestoreReport:
    """Decrypt and check ``snap`` in memory, move the current profile to quarantine, then unpack it in
    place of the profile (into a temp folder renamed at the end). The browser must be stopped."""
    if keys.identity is None:
        raise SnapshotError(
            "cannot restore: no private key; set [snapshots] identity in config.toml to the file 'watui keygen' wrote"
        )
    copy = open_snapshot(snap.path, keys.identity)
    problem = verify(copy)
    if problem:
        raise SnapshotError(f"snapshot {snap.id} does not hold a sound login: {problem}")
    store.check_root()
    profile = store.profile
    moved = None
    if os.path.lexists(profile):
        moved = store.quarantine(reason or f"watui restore {snap.id}")
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile.name}.restore-", dir=store.root))
    try:
        for rel, data in copy.files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o700)
        os.rename(tmp, profile)
    except BaseException:
        with contextlib.suppress(OSError):
            cl.remove_inside(store.root, tmp)
        raise
    _fsync_dir(store.root)
    where = f"; the previous profile is in {moved}" if moved else ""
    message = f"restored snapshot {snap.id} ({snap.account or 'unknown account'}) into {profile}{where}"
    log.info(message)
    return RestoreReport(snap, moved, profile, message)


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
        account, no logout or clear came after, a key can open it and one of that account is verified."""
        if self.keys is None or not self.keys.can_read:
            return None
        record = read_record(self.config)
        if not record.connected or record.logged_out or record.cleared or not record.account:
            return None
        try:
            return find(self.config, None, record.account)
        except SnapshotError:
            return None

    def restore(self, snap: Snapshot, reason: str) -> RestoreReport:
        assert self.keys is not None
        return restore(self.config, self.keys, self.store, snap, reason)
