"""The one fake session of the face tests: :class:`FakeSession` is a SessionPort (watui/core/ports.py) with
scripted answers that records every verb; :class:`FakeStream` is its event stream.

The dashboard's tests and the HTTP face's tests drive it alike: ``emit(event)`` publishes an event with its
snapshot as the core does, ``publish(type, ...)`` one on the current snapshot; ``allowed`` says what
``can`` answers, ``busy_verb`` what ``busy`` says when none of its verbs runs, ``gates`` hold a verb until
set, ``fail`` makes one raise, ``results`` are the verbs' answers. mypy checks it conforms (end of file).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

from watui.config import Config, SessionSettings
from watui.core.errors import ActionUnavailable
from watui.core.events import Event, EventType
from watui.core.messages.port import Message, MessagePage, Traffic
from watui.core.models import CleanupReport, ClearReport, ConnectionState, DiskReport, InitResult, SessionInfo
from watui.core.ports import Capability, JsonReport, SessionPort, SnapshotTaken

MB = 1024 * 1024
SESSION_ROOT = Path("/srv/watui/whatsapp-session-pro")
VERBS = ("initialize", "reconnect", "cleanup", "clear")
MESSAGING_CALLS = ("send_text", "message", "messages", "traffic")  # reads and sends: they never make it busy


def default_results(session_root: Path) -> dict[str, Any]:
    """What each verb answers unless a test scripts another answer."""
    return {
        "initialize": InitResult(False, True, "Scan the QR code", ConnectionState.UNPAIRED),
        "reconnect": InitResult(True, False, "Connected to WhatsApp Web", ConnectionState.CONNECTED),
        "cleanup": CleanupReport(freed_bytes=3 * MB, removed=("Default/Cache",), message="freed 3.0 MB"),
        "clear": ClearReport(False, session_root / ".quarantine" / "session-x-1", "moved to quarantine"),
        "purge": ClearReport(True, None, "purged"),  # clear(purge=True)
    }


class FakeStream:
    """An EventStream: an asyncio queue the face iterates; ``close`` ends the iteration and unsubscribes."""

    def __init__(self, session: FakeSession) -> None:
        self._session = session
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> FakeStream:
        return self

    async def __anext__(self) -> Event:
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._session.streams.remove(self)
            self.queue.put_nowait(None)


class FakeSession:
    """The session's port with scripted answers; records every verb called in ``calls``."""

    def __init__(
        self,
        info: SessionInfo | None = None,
        *,
        session_root: Path = SESSION_ROOT,
        capabilities: frozenset[Capability] = frozenset(),
        results: dict[str, Any] | None = None,
    ) -> None:
        self.config = Config(session=SessionSettings(session_path=str(session_root)))
        self._info = info or SessionInfo()
        self.capabilities = capabilities
        self.allowed = set(VERBS)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.finished: list[str] = []
        self.streams: list[FakeStream] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.fail: dict[str, BaseException] = {}
        self.busy_verb: str | None = None
        self.results = {**default_results(self.config.session_root), **(results or {})}
        self._running: str | None = None

    @property
    def verbs(self) -> list[str]:
        """The names of the verbs called, in order."""
        return [name for name, _ in self.calls]

    # -- what faces read -------------------------------------------------------------------------
    @property
    def info(self) -> SessionInfo:
        return self._info

    @property
    def busy(self) -> str | None:
        return self._running or self.busy_verb

    def can(self, verb: str) -> bool:
        return verb in self.allowed and self._running is None

    def subscribe(self) -> FakeStream:
        stream = FakeStream(self)
        self.streams.append(stream)
        return stream

    def get_detailed_session_info(self) -> dict[str, Any]:
        return self._info.to_json()

    # -- what tests do ---------------------------------------------------------------------------
    def set_info(self, info: SessionInfo | None = None, **changes: Any) -> None:
        self._info = replace(info or self._info, **changes)

    def emit(self, event: Event) -> Event:
        """Publish like the core: the event's snapshot becomes the latest, then every subscriber gets it."""
        self._info = event.info
        for stream in list(self.streams):
            stream.queue.put_nowait(event)
        return event

    def publish(self, type_: EventType, **fields: Any) -> Event:
        """An event on the current snapshot, to every subscriber."""
        return self.emit(Event(type=type_, info=self._info, **fields))

    # -- the verbs -------------------------------------------------------------------------------
    async def _verb(self, name: str, answer: str | None = None, **kwargs: Any) -> Any:
        self.calls.append((name, kwargs))
        verb = name not in MESSAGING_CALLS
        if verb:
            self._running = name
        try:
            if name in self.gates:
                await self.gates[name].wait()
            if name in self.fail:
                raise self.fail[name]
        finally:
            if verb:
                self._running = None
        self.finished.append(name)
        return self.results.get(answer or name)

    async def smart_initialize(self) -> InitResult:
        result: InitResult = await self._verb("initialize")
        return result

    async def reconnect(self) -> InitResult:
        result: InitResult = await self._verb("reconnect")
        return result

    async def cleanup(self) -> CleanupReport:
        report: CleanupReport = await self._verb("cleanup")
        return report

    async def clear(self, purge: bool = False) -> ClearReport:
        report: ClearReport = await self._verb("clear", "purge" if purge else "clear", purge=purge)
        return report

    async def refresh_disk(self) -> DiskReport | None:
        await self._verb("refresh_disk")
        return self._info.disk

    def _able(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            raise ActionUnavailable(f"this fake session has no {capability}")

    async def backup(self) -> SnapshotTaken:
        self._able("backup")
        snap: SnapshotTaken = await self._verb("backup")
        return snap

    async def snapshots(self) -> dict[str, Any]:
        self._able("snapshots")
        listing: dict[str, Any] = await self._verb("snapshots")
        return listing

    async def doctor(self) -> JsonReport:
        self._able("doctor")
        report: JsonReport = await self._verb("doctor")
        return report

    # -- messaging (MESSAGES): scripted like the verbs; ``results["send_text"]`` etc. are the answers --------
    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        self._able("messages")
        message: Message = await self._verb("send_text", to=to, text=text, key=key)
        return message

    async def message(self, message_id: str) -> Message | None:
        self._able("messages")
        found: Message | None = await self._verb("message", message_id=message_id)
        return found

    async def messages(self, since: str | None = None, limit: int = 100, bodies: bool = False) -> MessagePage:
        self._able("messages")
        page: MessagePage | None = await self._verb("messages", since=since, limit=limit, bodies=bodies)
        return page if page is not None else MessagePage((), since or "0-0")

    async def traffic(self) -> Traffic:
        self._able("messages")
        traffic: Traffic | None = await self._verb("traffic")
        return traffic if traffic is not None else Traffic(at=0.0)


_: SessionPort = FakeSession()  # mypy: the fake is a SessionPort
