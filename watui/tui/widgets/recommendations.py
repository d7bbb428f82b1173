"""The Recommendations panel: what to do next, as the seed's diagnostics page said it, each with its key."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.reactive import reactive

from watui.core import advice as core_advice
from watui.core.advice import Kind
from watui.core.models import SessionInfo
from watui.present import megabytes
from watui.tui.widgets.rows import SnapshotPanel


@dataclass(frozen=True)
class Advice:
    key: str  # the key that does it, "" when nothing to press
    text: str
    urgent: bool = False


def _line(advice: core_advice.Advice, info: SessionInfo, demo: bool) -> Advice:
    """One piece of the core's advice in the dashboard's words, with the key that acts on it."""
    kind, disk = advice.kind, info.disk
    if kind is Kind.UNRECOGNISED:
        where = f"; evidence in {advice.reason}" if advice.reason else ""
        return Advice("", f"watui does not recognise the page{where}: run 'watui doctor'", urgent=True)
    if kind is Kind.BLOCKED:
        return Advice("", advice.reason or "WhatsApp refuses this session", urgent=True)
    if kind is Kind.SCANNED:
        return Advice("", "Scanned: loading the chats")
    if kind is Kind.INITIALIZE:
        return Advice("i", "No login yet: initialize to get a QR code")
    if kind is Kind.SCAN:
        if demo:
            return Advice("s", "Scan the QR: s scans it on the simulator")
        return Advice("", "Scan the QR with your phone (Linked devices › Link a device)")
    if kind is Kind.CLEAR:
        return Advice("c", f"Session damaged ({advice.reason}): clear it, then scan a new QR", urgent=True)
    if kind is Kind.RECONNECTING:
        return Advice("r", f"watui is reconnecting by itself ({advice.reason}): retry now")
    if kind is Kind.START:
        return Advice("i", "Valid session, not connected: start the browser on it")
    if kind is Kind.RECONNECT:
        return Advice("r", "Valid session, not connected: reconnect it")
    if kind is Kind.CLEAN:
        freed = f" (frees {megabytes(advice.frees)})" if advice.frees else ""
        return Advice("k", f"Session over its size limit: clean the caches{freed}")
    if kind is Kind.STALE_LOCK:
        return Advice("k", "A dead process left a lock: clean removes it")
    if kind is Kind.STOP_HOLDER:
        assert disk is not None  # the core finds a holder only in a disk report
        return Advice("", f"pid {disk.lock.pid} ({disk.lock.name or '?'}) holds the session: stop it")
    if kind is Kind.GAVE_UP:
        return Advice("r", f"watui gave up: {advice.reason or 'see the log'}; reconnect to try again")
    if kind is Kind.HEALTHY:
        return Advice("", "Nothing to do: connected and healthy")
    return Advice("", "Connected; waiting for the next health check")


def advise(info: SessionInfo, demo: bool) -> list[Advice]:
    """The core's advice (:func:`watui.core.advice.advise`), one line per key: clean offered once, say, for an
    oversized profile that also has a stale lock."""
    out: list[Advice] = []
    for advice in core_advice.advise(info):
        line = _line(advice, info, demo)
        if not line.key or line.key not in {o.key for o in out}:
            out.append(line)
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
