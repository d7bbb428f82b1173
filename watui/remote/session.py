"""A running owner's session seen from another process: :class:`RemoteSession` is a SessionPort over the
owner's API (its control socket, ``watui/remote/client.py``), so the attached dashboard and the CLI drive
a remote session with the code that drives a local one. :class:`RemoteStream` is its event stream and
:class:`RemoteScanner` the demo's ``s`` key through the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from watui.api.paths import API, MESSAGES_PATH, TRAFFIC_PATH
from watui.core.errors import ActionUnavailable, WatuiError
from watui.core.events import Event
from watui.core.models import CleanupReport, ClearReport, ConnectionState, InitResult, SessionInfo
from watui.core.ports import BACKUP, MESSAGES, SNAPSHOTS, Capability, JsonReport, SessionPort
from watui.remote.client import ApiClient, OwnerClient, OwnerRefused

if TYPE_CHECKING:
    from watui.core.messages.port import Message, MessagePage, MessagingPort, Traffic
    from watui.core.snapshots.catalog import Snapshot


class RemoteStream:
    """An event stream of a remote owner, shaped like the core's EventStream (``async for``, ``close``)."""

    def __init__(self, session: RemoteSession) -> None:
        self._session = session
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump())

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self._queue.get()
            if event is None:
                return
            yield event

    async def _pump(self) -> None:
        session = self._session
        try:
            async for data in session.client.events():
                if data.get("type") == "snapshot":
                    session.absorb(data["info"])
                    continue
                # An event carries no snapshot over the wire: read the one after it.
                with contextlib.suppress(WatuiError):
                    session.absorb(await session.client.status())
                self._queue.put_nowait(Event.from_json(data, session.info))
        except OwnerRefused as exc:
            self._queue.put_nowait(Event(type="error", info=session.info, message=str(exc)))
        except asyncio.CancelledError:
            self._queue.put_nowait(None)
            raise
        except Exception as exc:  # whatever broke the stream, the face must hear the owner is gone
            self._queue.put_nowait(Event(type="error", info=session.info, message=f"lost the owner: {exc}"))
        session.owner_gone = True
        gone = f"{session.client.label} exited; press i to take the session over"
        session.absorb_info(SessionInfo(state=ConnectionState.UNLAUNCHED, disk=session.info.disk, message=gone))
        self._queue.put_nowait(Event(type="error", info=session.info, message=gone))
        self._queue.put_nowait(None)

    def close(self) -> None:
        self._task.cancel()


class RemoteSession:
    """The session of a running owner, answered by it over its socket (the verbs run there)."""

    # The owner takes and lists snapshots for its clients (POST /backup, GET /snapshots) and sends and
    # receives messages (/messages); its doctor is `watui doctor`'s, which reads the owner's JSON itself.
    capabilities: frozenset[Capability] = frozenset({BACKUP, SNAPSHOTS, MESSAGES})

    def __init__(self, client: ApiClient, status: dict[str, Any]) -> None:
        self.client = client
        self.owner_gone = False
        self._actions: dict[str, Any] = {}
        self._status: dict[str, Any] = {}
        self._info = SessionInfo()
        self.absorb(status)

    def absorb(self, status: dict[str, Any]) -> None:
        self._status = status
        self._actions = status.get("actions") or {}
        self._info = SessionInfo.from_json(status, demo=bool(self.client.owner.get("demo")))

    def absorb_info(self, info: SessionInfo) -> None:
        self._actions = {}
        self._status = info.to_json()
        self._info = info

    @property
    def info(self) -> SessionInfo:
        return self._info

    @property
    def busy(self) -> str | None:
        busy = self._actions.get("busy")
        return str(busy) if busy else None

    def can(self, verb: str) -> bool:
        return not self.owner_gone and bool((self._actions.get("available") or {}).get(verb))

    def subscribe(self) -> RemoteStream:
        return RemoteStream(self)

    def get_detailed_session_info(self) -> dict[str, Any]:
        """The owner's status JSON as it last sent it."""
        return {k: v for k, v in self._status.items() if k != "actions"}

    async def smart_initialize(self) -> InitResult:
        return InitResult.from_json(await self.client.verb("smart-initialize"))

    async def reconnect(self) -> InitResult:
        return InitResult.from_json(await self.client.verb("reconnect"))

    async def cleanup(self) -> CleanupReport:
        return CleanupReport.from_json(await self.client.verb("cleanup"))

    async def clear(self, purge: bool = False) -> ClearReport:
        return ClearReport.from_json(await self.client.verb("clear", {"purge": purge}))

    async def backup(self) -> Snapshot:
        """The owner takes a snapshot now (its event, its dashboard's age and the API say so)."""
        from watui.core.snapshots.catalog import Snapshot  # here: attaching needs no snapshot code until b

        answer = await self.client.verb("backup")
        return Snapshot.from_json(answer["snapshot"])

    async def snapshots(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.client.request("GET", f"{API}/snapshots")
        return data

    async def doctor(self) -> JsonReport:
        raise ActionUnavailable("the doctor runs through the owner with 'watui doctor'")

    # -- MESSAGES: the owner's MessagingPort (watui/core/messages/port.py), rebuilt from its JSON --------
    # (watui.core.messages is imported by the calls: attaching a dashboard needs none of it)
    async def send_text(self, to: str, text: str, *, key: str | None = None) -> Message:
        from watui.core.messages.port import Message

        body: dict[str, Any] = {"to": to, "text": text, **({"key": key} if key is not None else {})}
        return Message.from_json(await self.client.request("POST", MESSAGES_PATH, body))

    async def message(self, message_id: str) -> Message | None:
        from watui.core.messages.port import Message

        data = await self.client.request("GET", f"{MESSAGES_PATH}/{quote(message_id, safe='')}", missing=True)
        return None if data is None else Message.from_json(data)

    async def messages(self, since: str | None = None, limit: int = 100, bodies: bool = False) -> MessagePage:
        from watui.core.messages.port import MessagePage

        query = urlencode({"since": since or "", "limit": limit, "bodies": int(bodies)})
        return MessagePage.from_json(await self.client.request("GET", f"{MESSAGES_PATH}?{query}"))

    async def traffic(self) -> Traffic:
        from watui.core.messages.port import Traffic

        return Traffic.from_json(await self.client.request("GET", TRAFFIC_PATH))


class RemoteScanner:
    """The demo's ``s`` key through the owner's ``/api/demo/scan``."""

    def __init__(self, client: OwnerClient) -> None:
        self.client = client

    async def scan(self) -> Any:
        return await self.client.request("POST", "/api/demo/scan", {})


if TYPE_CHECKING:

    def _conforms(client: OwnerClient) -> SessionPort:
        return RemoteSession(client, {})  # mypy: RemoteSession is a SessionPort

    def _sends(client: OwnerClient) -> MessagingPort:
        return RemoteSession(client, {})  # mypy: RemoteSession is a MessagingPort (its MESSAGES)
