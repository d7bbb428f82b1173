"""Plain data shared by the core and its faces: connection states, disk reports, status snapshots (events: events.py).

No I/O here. Every snapshot is a frozen dataclass; ``to_json()`` gives the status JSON of DESIGN.md and
``from_json()`` reads it back (a face of a remote owner: watui/remote/); ``from_json(x.to_json())`` gives
the same JSON again (tests/unit/test_models_json.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

MIB = 1024 * 1024


def now_utc() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z") if moment else None


def from_iso(value: Any) -> datetime | None:
    """``iso()`` read back: None for a missing or empty time."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class ConnectionState(StrEnum):
    """whatsapp-web.js's WAState names where one fits, plus watui's RECONNECTING and FAILED."""

    UNLAUNCHED = "UNLAUNCHED"  # no browser
    OPENING = "OPENING"  # browser starting / page loading
    UNPAIRED = "UNPAIRED"  # login QR shown
    UNPAIRED_IDLE = "UNPAIRED_IDLE"  # QR expired ("Click to reload QR code")
    PAIRING = "PAIRING"  # scanned, loading chats
    CONNECTED = "CONNECTED"
    CONFLICT = "CONFLICT"  # open in another window
    TIMEOUT = "TIMEOUT"  # page lost its connection to WhatsApp
    RECONNECTING = "RECONNECTING"  # watui is waiting to retry / relaunching
    FAILED = "FAILED"  # watui gave up; message says what to do
    BLOCKED = "BLOCKED"  # WhatsApp refuses (DEPRECATED_VERSION, PROXYBLOCK, TOS_BLOCK...): message says which
    UNRECOGNISED = "UNRECOGNISED"  # a page loaded that no detection channel recognises; evidence was saved

    @property
    def glyph(self) -> str:
        return _GLYPHS[self]

    @property
    def is_connected(self) -> bool:
        return self is ConnectionState.CONNECTED


_GLYPHS = {
    ConnectionState.UNLAUNCHED: "○",
    ConnectionState.OPENING: "◌",
    ConnectionState.UNPAIRED: "▣",
    ConnectionState.UNPAIRED_IDLE: "□",
    ConnectionState.PAIRING: "◐",
    ConnectionState.CONNECTED: "●",
    ConnectionState.CONFLICT: "⇄",
    ConnectionState.TIMEOUT: "⚠",
    ConnectionState.RECONNECTING: "↻",
    ConnectionState.FAILED: "✖",
    ConnectionState.BLOCKED: "⊘",
    ConnectionState.UNRECOGNISED: "?",
}

# What a state means, in the words of a message or a health reason (the page may say more itself).
STATE_MESSAGES: dict[ConnectionState, str] = {
    ConnectionState.OPENING: "loading WhatsApp Web",
    ConnectionState.UNPAIRED: "waiting for the QR to be scanned",
    ConnectionState.UNPAIRED_IDLE: "the QR expired",
    ConnectionState.PAIRING: "QR scanned; loading chats",
    ConnectionState.CONNECTED: "connected",
    ConnectionState.CONFLICT: "WhatsApp is open in another window",
    ConnectionState.TIMEOUT: "WhatsApp Web lost its connection; it is retrying",
    ConnectionState.BLOCKED: "WhatsApp refuses this session",
    ConnectionState.UNRECOGNISED: "WhatsApp Web loaded but watui recognises nothing on it; run 'watui doctor'",
}


@dataclass(frozen=True)
class LockInfo:
    """Who holds the profile's ``SingletonLock``: nobody, a dead process (stale), or a live one."""

    kind: Literal["none", "stale", "live"] = "none"
    pid: int | None = None
    name: str | None = None
    host: str | None = None

    def to_json(self) -> Any:
        if self.kind == "live":
            return {"pid": self.pid, "name": self.name}
        return self.kind

    @classmethod
    def from_json(cls, value: Any) -> LockInfo:
        if isinstance(value, dict):
            return cls("live", value.get("pid"), value.get("name"))
        return cls(value) if value in ("none", "stale") else cls()


# Problem codes a DiskReport may carry, most serious first.
PROBLEM_MISSING = "missing"
PROBLEM_CORRUPT = "corrupt"
PROBLEM_LOGIN_MISSING = "login_missing"
PROBLEM_NO_LOGIN = "no_login"  # a sound profile that never logged in (or logged out): needs a QR, not a clear
PROBLEM_TOO_LARGE = "too_large"
PROBLEM_LOCKED = "locked"


@dataclass(frozen=True)
class DiskReport:
    """The session folder as found on disk at ``checked_at``."""

    path: Path
    exists: bool
    is_valid: bool
    validation_details: str
    size_bytes: int = 0
    file_count: int = 0
    reclaimable_bytes: int = 0
    max_bytes: int = 0
    lock: LockInfo = field(default_factory=LockInfo)
    problems: tuple[str, ...] = ()
    checked_at: datetime = field(default_factory=now_utc)

    @property
    def size_mb(self) -> float:
        return round(self.size_bytes / MIB, 1)

    @property
    def is_damaged(self) -> bool:
        """Corrupt or missing login: only a clear (quarantine) and a new QR fix it."""
        return PROBLEM_CORRUPT in self.problems or PROBLEM_LOGIN_MISSING in self.problems

    @classmethod
    def from_json(cls, session: dict[str, Any]) -> DiskReport | None:
        """The status JSON's ``session`` part (``SessionInfo.to_json()``) back; None when it names no folder."""
        if not session.get("path"):
            return None
        return cls(
            path=Path(session["path"]),
            exists=bool(session.get("exists")),
            is_valid=bool(session.get("isValid")),
            validation_details=str(session.get("validationDetails", "")),
            size_bytes=int(session.get("sizeBytes", 0)),
            file_count=int(session.get("fileCount", 0)),
            reclaimable_bytes=int(session.get("reclaimableBytes", 0)),
            max_bytes=int(float(session.get("maxSizeMB", 0)) * MIB),
            lock=LockInfo.from_json(session.get("lock")),
            problems=tuple(session.get("problems") or ()),
            checked_at=from_iso(session.get("checkedAt")) or datetime.now().astimezone(),
        )


@dataclass(frozen=True)
class CleanupReport:
    freed_bytes: int
    removed: tuple[str, ...]  # paths relative to the profile
    moved_aside: tuple[str, ...] = ()  # old session folders moved into quarantine
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "freedBytes": self.freed_bytes,
            "freedMB": round(self.freed_bytes / MIB, 1),
            "removed": list(self.removed),
            "movedAside": list(self.moved_aside),
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CleanupReport:
        return cls(
            freed_bytes=int(data.get("freedBytes", 0)),
            removed=tuple(data.get("removed") or ()),
            moved_aside=tuple(data.get("movedAside") or ()),
            message=str(data.get("message", "")),
        )


@dataclass(frozen=True)
class ClearReport:
    purged: bool
    moved_to: Path | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "purged": self.purged,
            "movedTo": str(self.moved_to) if self.moved_to else None,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ClearReport:
        moved = data.get("movedTo")
        return cls(
            purged=bool(data.get("purged")),
            moved_to=Path(moved) if moved else None,
            message=str(data.get("message", "")),
        )


@dataclass(frozen=True)
class InitResult:
    """The seed system's smart-initialize answer."""

    success: bool
    needs_qr: bool
    message: str
    state: ConnectionState = ConnectionState.UNLAUNCHED
    # Where a damaged session was moved before this start (its copy, byte for byte), and why.
    quarantined_to: Path | None = None
    quarantine_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "needsQR": self.needs_qr,
            "message": self.message,
            "state": self.state.value,
            "quarantined": (
                {"movedTo": str(self.quarantined_to), "reason": self.quarantine_reason} if self.quarantined_to else None
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InitResult:
        quarantined = data.get("quarantined") or {}
        return cls(
            success=bool(data.get("success")),
            needs_qr=bool(data.get("needsQR")),
            message=str(data.get("message", "")),
            state=ConnectionState(data.get("state", "UNLAUNCHED")),
            quarantined_to=Path(quarantined["movedTo"]) if quarantined.get("movedTo") else None,
            quarantine_reason=quarantined.get("reason"),
        )


@dataclass(frozen=True)
class Account:
    name: str | None = None
    number: str | None = None


@dataclass(frozen=True)
class BrowserProcess:
    pid: int
    rss_bytes: int
    cpu_percent: float
    processes: int = 1  # the browser and its children
    executable: str | None = None  # which browser: a headless shell or full Chromium


@dataclass(frozen=True)
class Health:
    is_healthy: bool = False
    reconnect_attempts: int = 0
    last_check_at: datetime | None = None
    next_retry_at: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class SessionInfo:
    """One immutable snapshot of everything watui knows about the session."""

    state: ConnectionState = ConnectionState.UNLAUNCHED
    disk: DiskReport | None = None
    health: Health = field(default_factory=Health)
    account: Account | None = None
    browser: BrowserProcess | None = None
    qr: str | None = None
    qr_expires_at: datetime | None = None
    qr_rotations: int = 0
    qr_gave_up: bool = False
    last_connected_at: datetime | None = None
    connected_since: datetime | None = None
    message: str = ""
    demo: bool = False
    # The page channel that recognised WhatsApp Web: "modules", "dom", "pixels", or None.
    detection: str | None = None
    # The newest evidence folder saved for an unrecognised page.
    evidence: str | None = None
    updated_at: datetime = field(default_factory=now_utc)
    snapshots_on: bool = False  # a key is configured: login snapshots are taken
    last_snapshot_at: datetime | None = None

    @property
    def needs_qr_scan(self) -> bool:
        offline_without_login = self.disk is not None and (
            not self.disk.exists or PROBLEM_NO_LOGIN in self.disk.problems
        )
        return self.state in (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE) or (
            offline_without_login and not self.state.is_connected
        )

    @property
    def should_clear_session(self) -> bool:
        return self.disk is not None and self.disk.is_damaged

    @property
    def should_reconnect(self) -> bool:
        valid = self.disk is not None and self.disk.is_valid
        return valid and not self.state.is_connected and not self.needs_qr_scan

    def to_json(self) -> dict[str, Any]:
        disk = self.disk
        session: dict[str, Any] = {
            "exists": bool(disk and disk.exists),
            "isValid": bool(disk and disk.is_valid),
            "sizeMB": disk.size_mb if disk else 0.0,
            "path": str(disk.path) if disk else None,
            "validationDetails": disk.validation_details if disk else "not checked yet",
        }
        if disk is not None:
            session.update(
                sizeBytes=disk.size_bytes,
                maxSizeMB=round(disk.max_bytes / MIB, 1),
                fileCount=disk.file_count,
                reclaimableBytes=disk.reclaimable_bytes,
                lock=disk.lock.to_json(),
                problems=list(disk.problems),
                checkedAt=iso(disk.checked_at),
            )
        browser = self.browser
        return {
            "session": session,
            "connection": {
                "state": self.state.value,
                "isConnected": self.state.is_connected,
                "health": {
                    "isHealthy": self.health.is_healthy,
                    "reconnectAttempts": self.health.reconnect_attempts,
                    "lastCheckAt": iso(self.health.last_check_at),
                    "nextRetryAt": iso(self.health.next_retry_at),
                    "reason": self.health.reason,
                },
                "account": ({"name": self.account.name, "number": self.account.number} if self.account else None),
                "lastConnectedAt": iso(self.last_connected_at),
                "connectedSince": iso(self.connected_since),
                "browser": (
                    {
                        "pid": browser.pid,
                        "rssMB": round(browser.rss_bytes / MIB, 1),
                        "cpuPercent": browser.cpu_percent,
                        "processes": browser.processes,
                        "executable": browser.executable,
                    }
                    if browser
                    else None
                ),
                "qr": self.qr,
                "qrExpiresAt": iso(self.qr_expires_at),
                "message": self.message,
                "detection": self.detection,
                "evidence": self.evidence,
            },
            "snapshots": {"enabled": self.snapshots_on, "lastAt": iso(self.last_snapshot_at)},
            "recommendations": {
                "shouldClearSession": self.should_clear_session,
                "shouldReconnect": self.should_reconnect,
                "needsQRScan": self.needs_qr_scan,
            },
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], *, demo: bool = False) -> SessionInfo:
        """The status JSON (``to_json()``) as a snapshot again, for faces of a remote owner. What the JSON
        does not carry (``demo``, the QR's rotation count, ``updated_at``) takes its default."""
        session, conn = data.get("session") or {}, data.get("connection") or {}
        health = conn.get("health") or {}
        account = conn.get("account")
        browser = conn.get("browser")
        snapshots = data.get("snapshots") or {}
        return cls(
            state=ConnectionState(conn.get("state", "UNLAUNCHED")),
            disk=DiskReport.from_json(session),
            health=Health(
                is_healthy=bool(health.get("isHealthy")),
                reconnect_attempts=int(health.get("reconnectAttempts", 0)),
                last_check_at=from_iso(health.get("lastCheckAt")),
                next_retry_at=from_iso(health.get("nextRetryAt")),
                reason=str(health.get("reason", "")),
            ),
            account=Account(account.get("name"), account.get("number")) if account else None,
            browser=(
                BrowserProcess(
                    pid=int(browser["pid"]),
                    rss_bytes=int(float(browser.get("rssMB", 0)) * MIB),
                    cpu_percent=float(browser.get("cpuPercent", 0.0)),
                    processes=int(browser.get("processes", 1)),
                    executable=browser.get("executable"),
                )
                if browser
                else None
            ),
            qr=conn.get("qr"),
            qr_expires_at=from_iso(conn.get("qrExpiresAt")),
            last_connected_at=from_iso(conn.get("lastConnectedAt")),
            connected_since=from_iso(conn.get("connectedSince")),
            message=str(conn.get("message", "")),
            demo=demo,
            detection=conn.get("detection"),
            evidence=conn.get("evidence"),
            snapshots_on=bool(snapshots.get("enabled")),
            last_snapshot_at=from_iso(snapshots.get("lastAt")),
        )


# ``data["hint"]`` of an event: what the operator can do about it, which each face says in its own words
# (Event.shown): the dashboard's key, a headless face's signal, a page's button.
