"""What to do next about a session, most serious first: ``advise(info) -> [Advice(kind, reason)]``. Pure.

Every face asks this one function and words the answer its own way: the dashboard maps a kind to a key
(``tui/widgets/recommendations.py``), ``watui info`` to a command (``cli/session.py``). A kind names the
situation and its cure; ``reason`` carries the particulars (what is damaged, who holds the lock).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from watui.core.models import PROBLEM_LOCKED, PROBLEM_TOO_LARGE, ConnectionState, SessionInfo


class Kind(StrEnum):
    UNRECOGNISED = "unrecognised"  # the page is not one watui knows: run the doctor (reason: the evidence folder)
    BLOCKED = "blocked"  # WhatsApp refuses the session (reason: its words)
    SCANNED = "scanned"  # the QR was scanned: the chats load
    INITIALIZE = "initialize"  # no login and no QR yet: initialize to get one
    SCAN = "scan"  # a QR is shown: scan it
    CLEAR = "clear"  # the session is damaged (reason: how): clear it, then scan a new QR
    RECONNECTING = "reconnecting"  # watui reconnects by itself (reason: which attempt)
    START = "start"  # a valid session with no browser: start it
    RECONNECT = "reconnect"  # a valid session, not connected: reconnect
    CLEAN = "clean"  # over the size limit: clean frees ``frees`` bytes
    STALE_LOCK = "stale_lock"  # a dead process left its lock: clean removes it
    STOP_HOLDER = "stop_holder"  # another program holds the profile: stop it
    GAVE_UP = "gave_up"  # watui gave up (reason: why): reconnect to try again
    HEALTHY = "healthy"  # connected and healthy: nothing to do
    CHECKING = "checking"  # connected; the next health check will tell


URGENT = frozenset({Kind.UNRECOGNISED, Kind.BLOCKED, Kind.CLEAR})


@dataclass(frozen=True)
class Advice:
    kind: Kind
    reason: str = ""
    frees: int = 0  # CLEAN: the bytes clean would free

    @property
    def urgent(self) -> bool:
        return self.kind in URGENT


_SCANNING = (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE, ConnectionState.PAIRING)
_RECOVERING = (ConnectionState.RECONNECTING, ConnectionState.TIMEOUT)


def _scan(info: SessionInfo) -> Advice:
    if info.state is ConnectionState.PAIRING:
        return Advice(Kind.SCANNED)
    if info.qr is None or info.qr_gave_up:
        return Advice(Kind.INITIALIZE)
    return Advice(Kind.SCAN)


def advise(info: SessionInfo) -> list[Advice]:
    """Most serious first; an empty session gets a QR, a damaged one a clear, a valid one a reconnect.

    Every finding about the disk is listed (a stale lock beside an oversized profile too): a face that
    offers one action for both shows it once."""
    disk = info.disk
    if info.state is ConnectionState.UNRECOGNISED:
        return [Advice(Kind.UNRECOGNISED, str(info.evidence or ""))]
    if info.state is ConnectionState.BLOCKED:
        return [Advice(Kind.BLOCKED, info.message)]
    out: list[Advice] = []
    if info.state in _SCANNING:
        # Mid-login the folder has no login yet by nature: scanning, not clearing, is the cure.
        out.append(_scan(info))
    elif info.should_clear_session and disk is not None and not info.state.is_connected:
        # (Connected means the login works, whatever a disk check made mid-write says.)
        out.append(Advice(Kind.CLEAR, disk.validation_details or "damaged"))
    elif info.needs_qr_scan:
        out.append(_scan(info))
    elif info.should_reconnect and info.state in _RECOVERING:
        # watui is already on it: say so, so the operator does not think it waits for a key.
        attempts = info.health.reconnect_attempts
        out.append(Advice(Kind.RECONNECTING, f"attempt {attempts}" if attempts else "its first attempt"))
    elif info.should_reconnect:
        out.append(Advice(Kind.START if info.state is ConnectionState.UNLAUNCHED else Kind.RECONNECT))
    if disk is not None and PROBLEM_TOO_LARGE in disk.problems:
        out.append(Advice(Kind.CLEAN, frees=disk.reclaimable_bytes))
    if disk is not None and disk.lock.kind == "stale" and PROBLEM_LOCKED not in disk.problems:
        out.append(Advice(Kind.STALE_LOCK))
    if disk is not None and PROBLEM_LOCKED in disk.problems and not info.state.is_connected:
        out.append(Advice(Kind.STOP_HOLDER))
    if info.state is ConnectionState.FAILED and not out:
        out.append(Advice(Kind.GAVE_UP, info.message))
    if not out and info.state.is_connected:
        out.append(Advice(Kind.HEALTHY if info.health.is_healthy else Kind.CHECKING))
    return out
