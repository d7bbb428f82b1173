"""The snapshot folder: Snapshot, its sidecars, listing, finding, pruning, revoking, and the one-line status."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watui.config import Config, ConfigError
from watui.core.errors import WatuiError
from watui.core.snapshots.atomic import _atomic_write, _bytes_of
from watui.core.snapshots.keys import load_keys
from watui.present import ago

SUFFIX = ".tar.gz.age"


SIDECAR = ".json"


_STAMP_RE = re.compile(r"^\d{8}-\d{6}(?:-\d+)?$")


class SnapshotError(WatuiError):
    """A snapshot could not be taken, verified, read or restored: the message says which and why."""


class BadSnapshot(SnapshotError):
    """The snapshot itself is unusable (it does not decrypt, unpack or verify): an older one may do."""


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Snapshot:
        """``to_json()`` read back (a snapshot the owner took for a client: watui/remote/session.py)."""
        return cls(
            id=str(data["id"]),
            path=Path(data["path"]),
            created_at=str(data.get("createdAt", "")),
            bytes=int(data.get("bytes", 0)),
            plain_bytes=int(data.get("plainBytes", 0)),
            files=int(data.get("files", 0)),
            account=data.get("account"),
            verified=bool(data.get("verified")),
            verified_by=str(data.get("verifiedBy") or ""),
            source=str(data.get("source") or ""),
            revoked=bool(data.get("revoked")),
            problem=str(data.get("problem") or ""),
        )


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


def _write_sidecar(snap: Snapshot) -> None:
    data = snap.to_json()
    data.pop("path")
    data["clientId"] = snap.client_id
    _atomic_write(_sidecar_of(snap.path), _bytes_of(json.dumps(data, indent=2) + "\n"))


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
    return f"on, {len(snaps)} in {where}; newest {newest.id} ({ago(newest.age_s())} ago, {mark})"
