"""What happened in a session, as every face receives it: :class:`Event` (its type, the snapshot after it, its
data) and its JSON in both directions."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from watui.core.models import ConnectionState, SessionInfo, from_iso, iso, now_utc

HINT_TAKEOVER = "takeover"  # take the session over from the other window (a conflict)

EventType = Literal[
    "state", "qr", "retry", "health", "error", "disk", "action", "alert", "unrecognised", "recycle", "message", "ack"
]


@dataclass(frozen=True)
class Event:
    """One thing that happened, pushed from the core to every face.

    ``state``: a connection state change (``state`` set). ``qr``: a new QR payload (``qr`` set; None when
    the QR went away). ``retry``: a reconnect attempt was scheduled (``data``: attempt, delay_s, at, cause).
    ``health``: a health check or process sample finished (JSON: healthy, reason). ``error``: something
    failed (``message``). ``disk``: a new disk report (JSON: size_bytes, valid, problems). ``action``: a
    verb started or finished (``data``: verb, phase). ``unrecognised``: no channel recognised the page
    (``data``: evidence folder).
    ``alert``: an alert rule fired or resolved (``data``: alert, status, session, state; watui/core/journal/alerts.py).
    ``message``: an incoming message, once committed to the inbox; ``ack``: an outgoing message's status
    changed (queued, sent, delivered, read, failed). Both carry ``data``: id, direction, chat, status, size
    (and an ack its acceptedAt, sentAt, ackedAt; watui/core/messages/service.py), never a body; the history
    journal keeps only their counts per hour (watui/core/journal/journal.py), never the events themselves.
    ``info`` always carries the snapshot after the event.
    """

    type: EventType
    info: SessionInfo
    message: str = ""
    state: ConnectionState | None = None
    qr: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=now_utc)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"time": iso(self.time), "type": self.type}
        if self.type == "state":
            out["state"] = (self.state or self.info.state).value
        if self.type == "qr":
            out["qr"] = self.qr
        if self.message:
            out["message"] = self.message
        if self.type == "health":
            out["healthy"] = self.info.health.is_healthy
            out["reason"] = self.info.health.reason
        if self.type == "disk" and self.info.disk is not None:
            disk = self.info.disk
            out.update(size_bytes=disk.size_bytes, valid=disk.is_valid, problems=list(disk.problems))
        if self.data:
            out.update(self.data)
        return out

    def shown(self, hints: dict[str, str]) -> Event:
        """This event as a face shows it: a ``hint`` in its data becomes the face's words for it (``hints``:
        kind -> words), after the message; the hint's kind itself is not shown."""
        kind = self.data.get("hint")
        if kind is None:
            return self
        words = hints.get(str(kind))
        data = {k: v for k, v in self.data.items() if k != "hint"}
        return replace(self, message=f"{self.message}; {words}" if words else self.message, data=data)

    @classmethod
    def from_json(cls, data: dict[str, Any], info: SessionInfo) -> Event:
        """An event as ``to_json()`` sent it; ``info`` is the snapshot after it (the wire carries none).
        ``state`` and ``qr`` are the event's own fields only in a state and a qr event: elsewhere they are
        its data (an alert's ``state``, say)."""
        kind = data["type"]
        own = _EVENT_FIELDS | _OWN_FIELDS.get(kind, frozenset())
        state = data.get("state") if kind == "state" else None
        return cls(
            type=kind,
            info=info,
            message=str(data.get("message", "")),
            state=ConnectionState(state) if state else None,
            qr=data.get("qr") if kind == "qr" else None,
            data={k: v for k, v in data.items() if k not in own},
            time=from_iso(data.get("time")) or datetime.now().astimezone(),
        )


_EVENT_FIELDS = frozenset({"time", "type", "message"})
_OWN_FIELDS = {"state": frozenset({"state"}), "qr": frozenset({"qr"})}
