"""The one interface every face drives a session through: :class:`SessionPort`, its :class:`EventSource`,
and :class:`HistoryPort`, what the faces read of the owner's journal.

Implemented by the owner's ``SessionManager`` (watui/core/session/manager.py), by ``RemoteSession``
(watui/remote/session.py: a running owner over its control socket) and by the tests' ``FakeSession``
(tests/support/fakes.py); each proves it with a conformance check mypy reads. A face asks
``capabilities`` before it offers an optional ability (a key, a route); it never probes the object for a
method. A verb of an ability not declared raises ActionUnavailable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal, Protocol

from watui.core.events import Event
from watui.core.messages.port import MessagingPort
from watui.core.models import CleanupReport, ClearReport, InitResult, SessionInfo

# The optional abilities a session may declare in ``capabilities``.
Capability = Literal["backup", "snapshots", "doctor", "messages"]
BACKUP: Capability = "backup"  # take an encrypted login snapshot now (``backup``)
SNAPSHOTS: Capability = "snapshots"  # list the session's snapshots (``snapshots``)
DOCTOR: Capability = "doctor"  # probe the page the owner's browser shows now (``doctor``)
# send and receive messages: the session is a MessagingPort too (watui/core/messages/port.py)
MESSAGES: Capability = "messages"


class EventSource(Protocol):
    """A stream of the session's events from now on: ``async for``, then ``close()``."""

    def __aiter__(self) -> AsyncIterator[Event]: ...

    def close(self) -> None: ...


class SnapshotTaken(Protocol):
    """What a face shows of a snapshot just taken (``watui.core.snapshots.Snapshot`` is one)."""

    @property
    def id(self) -> str: ...

    @property
    def path(self) -> Path: ...

    def to_json(self) -> dict[str, Any]: ...


class JsonReport(Protocol):
    """A report a face passes on as JSON (``watui.core.doctor.DoctorReport`` is one)."""

    def to_json(self) -> dict[str, Any]: ...


class SessionPort(MessagingPort, Protocol):
    """One WhatsApp Web session as every face sees it: the latest snapshot, its events, the verbs, and its
    messaging (MessagingPort: send_text, message, messages, traffic; they act only with MESSAGES declared)."""

    @property
    def info(self) -> SessionInfo:
        """The latest immutable snapshot."""
        ...

    @property
    def busy(self) -> str | None:
        """The verb running now ('initialize', 'reconnect', 'cleanup', 'clear'), or None."""
        ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional abilities this session has (BACKUP, SNAPSHOTS, DOCTOR, MESSAGES)."""
        ...

    def can(self, verb: str) -> bool:
        """Whether ``verb`` can act now (faces grey out what cannot)."""
        ...

    def subscribe(self) -> EventSource: ...

    def get_detailed_session_info(self) -> dict[str, Any]:
        """The status JSON of DESIGN.md."""
        ...

    async def smart_initialize(self) -> InitResult: ...

    async def reconnect(self) -> InitResult: ...

    async def cleanup(self) -> CleanupReport: ...

    async def clear(self, purge: bool = False) -> ClearReport: ...

    async def backup(self) -> SnapshotTaken:
        """BACKUP: take a snapshot of the login now."""
        ...

    async def snapshots(self) -> dict[str, Any]:
        """SNAPSHOTS: the session's snapshots and whether they are on, as JSON."""
        ...

    async def doctor(self) -> JsonReport:
        """DOCTOR: every probe of every channel on the page shown now."""
        ...


class HistoryPort(Protocol):
    """What the faces read of the owner's journal and alert rules (watui/core/journal/service.py's
    JournalService, handed to the faces by the runtime)."""

    def status(self) -> dict[str, Any] | None:
        """The journal's health (file, error, pending, dropped); None when the journal is off."""
        ...

    def uptime(self) -> dict[str, Any]:
        """The uptime per window, as the sampler last computed it ({} before it did, or with no journal)."""
        ...

    def firing(self) -> list[str] | None:
        """The alert rules whose condition holds now; None when the alert rules are off."""
        ...

    def sample_now(self) -> None:
        """Journal a sample now, so a report ends at the session as it is."""
        ...

    async def report(self, since_s: float) -> dict[str, Any]:
        """The history report (``watui history --json``) of the last ``since_s`` seconds."""
        ...
