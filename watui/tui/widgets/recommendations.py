"""The Recommendations panel: what to do next, as the seed's diagnostics page said it, each with its key."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from watui.core.models import PROBLEM_LOCKED, PROBLEM_TOO_LARGE, ConnectionState, SessionInfo
from watui.tui.widgets.format import megabytes
from watui.tui.widgets.rows import SnapshotPanel


@dataclass(frozen=True)
class Advice:
    key: str  # the key that does it, "" when nothing to press
    text: str
    urgent: bool = False


SCANNING = (ConnectionState.UNPAIRED, ConnectionState.UNPAIRED_IDLE, ConnectionState.PAIRING)


def _scan_advice(info: SessionInfo, demo: bool) -> Advice:
    if info.state is ConnectionState.PAIRING:
        return Advice("", "Scanned: loading the chats")
    if info.qr is None or info.qr_gave_up:
        return Advice("i", "No login yet: initialize to get a QR code")
    if demo:
        return Advice("s", "Scan the QR: s scans it on the simulator")
    return Advice("", "Scan the QR with your phone (Linked devices › Link a device)")


RECOVERING = (ConnectionState.RECONNECTING, ConnectionState.TIMEOUT)


def advise(info: SessionInfo, demo: bool) -> list[Advice]:
    """Most serious first; an empty session gets a QR, a damaged one a clear, a valid one a reconnect."""
    out: list[Advice] = []
    disk = info.disk
    if info.state is ConnectionState.UNRECOGNISED:
        where = f"; evidence in {info.evidence}" if info.evidence else ""
        out.append(Advice("", f"watui does not recognise the page{where}: run 'watui doctor'", urgent=True))
        return out
    if info.state is ConnectionState.BLOCKED:
        out.append(Advice("", info.message or "WhatsApp refuses this session", urgent=True))
        return out
    if info.state in SCANNING:
        # Mid-login the folder has no login yet by nature: scanning, not clearing, is the cure.
        out.append(_scan_advice(info, demo))
    elif info.should_clear_session and disk is not None and not info.state.is_connected:
        # (Connected means the login works, whatever a disk check made mid-write says.)
        why = disk.validation_details or "damaged"
        out.append(Advice("c", f"Session damaged ({why}): clear it, then scan a new QR", urgent=True))
    elif info.needs_qr_scan:
        out.append(_scan_advice(info, demo))
    elif info.should_reconnect and info.state in RECOVERING:
        # watui is already on it: say so, so the operator does not think it waits for a key.
        attempts = info.health.reconnect_attempts
        which = f"attempt {attempts}" if attempts else "its first attempt"
        out.append(Advice("r", f"watui is reconnecting by itself ({which}): retry now"))
    elif info.should_reconnect:
        key = "i" if info.state is ConnectionState.UNLAUNCHED else "r"
        verb = "start the browser on it" if key == "i" else "reconnect it"
        out.append(Advice(key, f"Valid session, not connected: {verb}"))
    if disk is not None and PROBLEM_TOO_LARGE in disk.problems:
        freed = f" (frees {megabytes(disk.reclaimable_bytes)})" if disk.reclaimable_bytes else ""
        out.append(Advice("k", f"Session over its size limit: clean the caches{freed}"))
    elif disk is not None and disk.lock.kind == "stale":
        out.append(Advice("k", "A dead process left a lock: clean removes it"))
    if disk is not None and PROBLEM_LOCKED in disk.problems and not info.state.is_connected:
        out.append(Advice("", f"pid {disk.lock.pid} ({disk.lock.name or '?'}) holds the session: stop it"))
    if info.state is ConnectionState.FAILED and not out:
        out.append(Advice("r", f"watui gave up: {info.message or 'see the log'}; reconnect to try again"))
    if not out and info.state.is_connected:
        out.append(
            Advice(
                "",
                "Nothing to do: connected and healthy"
                if info.health.is_healthy
                else "Connected; waiting for the next health check",
            )
        )
    return out


def advice_text(advice: list[Advice]) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    for index, item in enumerate(advice):
        if index:
            out.append("\n")
        glyph = "✖" if item.urgent else "→"
        out.append(f"{glyph} ", style="bold red" if item.urgent else "bold")
        if item.key:
            out.append(f"[{item.key}]", style="bold reverse")
            out.append(" ")
        out.append(item.text)
    if not advice:
        out.append("… waiting for the session's first check")
    return out


class Recommendations(SnapshotPanel):
    """Renders :func:`advise` for the snapshot the App hands down."""

    demo: reactive[bool] = reactive(False)
    """On the simulator ``s`` scans the QR."""

    def render(self) -> Text:
        return advice_text(advise(self.info, self.demo))
