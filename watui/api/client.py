"""A client of a running owner's API over its control socket (aiohttp ``UnixConnector``).

``find_owner(config)`` answers the owner of ``config``'s session, or None when no watui serves it (no
socket, or a dead owner's socket that refuses connections). :class:`OwnerClient` is the HTTP API seen
from another process; :class:`RemoteManager` adapts it to what the dashboard needs of a manager (a
snapshot, an event stream, the verbs), so one dashboard code path drives a local or a remote session.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import stat
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp

from watui.api.owner_socket import owner_refusal, peer_uid, reachable, socket_file_refusal, socket_path
from watui.api.paths import API, OWNER_PATH
from watui.config import Config
from watui.core.disk.store import MIB
from watui.core.errors import ActionUnavailable, WatuiError
from watui.core.models import (
    Account,
    BrowserProcess,
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    Event,
    Health,
    InitResult,
    LockInfo,
    SessionInfo,
)

BASE = "http://localhost"  # the Host a Unix-socket request carries; loopback for the API's Host check
CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 5.0  # the owner answers reads at once; slower means it hangs


class OwnerGone(WatuiError):
    """The owner stopped answering (it exited, or was killed) while a client used it."""

    exit_code = 1


class OwnerRefused(WatuiError):
    """The control socket is there but this process may not use it (another uid): one line, exit 1."""

    exit_code = 1


# -- JSON back into the core's snapshots -----------------------------------------------------------
def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _lock(value: Any) -> LockInfo:
    if isinstance(value, dict):
        return LockInfo("live", value.get("pid"), value.get("name"))
    return LockInfo(value) if value in ("none", "stale") else LockInfo()


def info_from_json(data: dict[str, Any], *, demo: bool = False) -> SessionInfo:
    """The status JSON (``SessionInfo.to_json()``) as a snapshot again, for faces of a remote owner."""
    session, conn = data.get("session") or {}, data.get("connection") or {}
    disk = None
    if session.get("path"):
        disk = DiskReport(
            path=Path(session["path"]),
            exists=bool(session.get("exists")),
            is_valid=bool(session.get("isValid")),
            validation_details=str(session.get("validationDetails", "")),
            size_bytes=int(session.get("sizeBytes", 0)),
            file_count=int(session.get("fileCount", 0)),
            reclaimable_bytes=int(session.get("reclaimableBytes", 0)),
            max_bytes=int(float(session.get("maxSizeMB", 0)) * MIB),
            lock=_lock(session.get("lock")),
            problems=tuple(session.get("problems") or ()),
            checked_at=_time(session.get("checkedAt")) or datetime.now().astimezone(),
        )
    health = conn.get("health") or {}
    account = conn.get("account")
    browser = conn.get("browser")
    return SessionInfo(
        state=ConnectionState(conn.get("state", "UNLAUNCHED")),
        disk=disk,
        health=Health(
            is_healthy=bool(health.get("isHealthy")),
            reconnect_attempts=int(health.get("reconnectAttempts", 0)),
            last_check_at=_time(health.get("lastCheckAt")),
            next_retry_at=_time(health.get("nextRetryAt")),
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
        qr_expires_at=_time(conn.get("qrExpiresAt")),
        last_connected_at=_time(conn.get("lastConnectedAt")),
        connected_since=_time(conn.get("connectedSince")),
        message=str(conn.get("message", "")),
        demo=demo,
        detection=conn.get("detection"),
        evidence=conn.get("evidence"),
        snapshots_on=bool((data.get("snapshots") or {}).get("enabled")),
        last_snapshot_at=_time((data.get("snapshots") or {}).get("lastAt")),
    )


def init_result_from_json(data: dict[str, Any]) -> InitResult:
    quarantined = data.get("quarantined") or {}
    return InitResult(
        success=bool(data.get("success")),
        needs_qr=bool(data.get("needsQR")),
        message=str(data.get("message", "")),
        state=ConnectionState(data.get("state", "UNLAUNCHED")),
        quarantined_to=Path(quarantined["movedTo"]) if quarantined.get("movedTo") else None,
        quarantine_reason=quarantined.get("reason"),
    )


_EVENT_FIELDS = frozenset({"time", "type", "state", "qr", "message"})


def event_from_json(data: dict[str, Any], info: SessionInfo) -> Event:
    state = data.get("state")
    return Event(
        type=data["type"],
        info=info,
        message=str(data.get("message", "")),
        state=ConnectionState(state) if state else None,
        qr=data.get("qr"),
        data={k: v for k, v in data.items() if k not in _EVENT_FIELDS},
        time=_time(data.get("time")) or datetime.now().astimezone(),
    )


# -- the client ----------------------------------------------------------------------------------------
class _OwnersConnector(aiohttp.UnixConnector):
    """Connects only to a process of ``uid`` (``SO_PEERCRED``), checked before a request is sent on it."""

    def __init__(self, address: str, shown: Path, uid: int) -> None:
        super().__init__(path=address)
        self._shown = shown
        self._uid = uid

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> Any:
        proto = await super()._create_connection(req, traces, timeout)
        transport = proto.transport
        if transport is None:
            raise OwnerGone(f"no watui answers on {self._shown}: the connection closed at once")
        why = owner_refusal(peer_uid(transport.get_extra_info("socket")), self._uid, self._shown)
        if why is not None:
            transport.close()
            raise OwnerRefused(why)
        return proto


class OwnerClient:
    """The owner's HTTP API over its Unix socket. Use as ``async with``; ``owner`` is the owner's
    ``{"pid", "face", "demo"}``. It trusts only a socket file of ``uid`` (default: this process's
    effective uid) served by a process of ``uid``: anyone else listening there is refused (OwnerRefused)."""

    def __init__(self, path: Path, uid: int | None = None) -> None:
        self.path = path
        self.uid = os.geteuid() if uid is None else uid
        self.owner: dict[str, Any] = {}
        self._session: aiohttp.ClientSession | None = None
        self._address = contextlib.ExitStack()

    async def __aenter__(self) -> OwnerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            try:
                address = self._address.enter_context(reachable(self.path))  # open while the client lives
            except PermissionError:
                raise OwnerRefused(
                    f"{self.path}: permission denied: run watui as the user that runs this session"
                ) from None
            except OSError as exc:
                raise OwnerGone(f"no watui answers on {self.path}: {exc.strerror}") from None
            try:
                why = socket_file_refusal(address, self.path, self.uid)
            except OSError as exc:
                self._address.close()
                raise OwnerGone(f"no watui answers on {self.path}: {exc.strerror}") from None
            if why is not None:
                self._address.close()
                raise OwnerRefused(why)
            self._session = aiohttp.ClientSession(
                connector=_OwnersConnector(address, self.path, self.uid),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._address.close()

    @property
    def label(self) -> str:
        """``watui watch (pid 123)``."""
        return f"watui {self.owner.get('face', '?')} (pid {self.owner.get('pid', '?')})"

    async def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One call; a JSON error of the API becomes ActionUnavailable (its one line). A read answers
        within READ_TIMEOUT_S or the owner counts as gone (hung); a verb takes as long as it takes."""
        reading: dict[str, Any] = {"timeout": aiohttp.ClientTimeout(total=READ_TIMEOUT_S)} if method == "GET" else {}
        try:
            async with self._http().request(method, BASE + path, json=body, **reading) as response:
                data = await response.json(content_type=None)
        except TimeoutError:
            raise OwnerGone(f"{self.label} did not answer within {READ_TIMEOUT_S:g} s on {self.path}") from None
        except aiohttp.ClientConnectorError as exc:
            if exc.os_error.errno in (errno.EACCES, errno.EPERM):
                raise OwnerRefused(
                    f"{self.path}: permission denied: run watui as the user that runs this session"
                ) from None
            raise OwnerGone(f"no watui answers on {self.path}: {exc.os_error.strerror}") from None
        except (aiohttp.ClientError, ConnectionError) as exc:
            raise OwnerGone(f"{self.label} stopped answering on {self.path}: {exc}") from None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise OwnerGone(f"{self.label} sent an answer that is not a JSON object on {self.path}")
        if response.status == 403:
            raise OwnerRefused(f"{self.path}: {data.get('error', 'refused')}")
        if response.status >= 400:
            raise ActionUnavailable(str(data.get("error", f"HTTP {response.status}")))
        return data

    async def hello(self) -> dict[str, Any]:
        self.owner = await self.request("GET", OWNER_PATH)
        return self.owner

    async def status(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("GET", f"{API}/session-info")
        return data

    async def verb(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = await self.request("POST", f"{API}/{name}", body)
        return data

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The owner's SSE stream, one JSON object per event (the first a ``snapshot``); ends when the
        owner closes it or goes away."""
        try:
            async with self._http().get(BASE + f"{API}/events") as response:
                if response.status == 403:
                    raise OwnerRefused(f"{self.path}: refused")
                data: list[str] = []
                async for raw in response.content:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if line.startswith("data:"):
                        data.append(line[5:].lstrip())
                    elif not line and data:
                        yield json.loads("\n".join(data))
                        data = []
        except (TimeoutError, aiohttp.ClientError, ConnectionError, ValueError):
            return  # the owner went away mid-stream (kill -9 leaves a half-sent chunk)


async def find_owner(config: Config, uid: int | None = None) -> OwnerClient | None:
    """A connected client of the owner of ``config``'s session, or None when no watui serves it.
    OwnerRefused when something not of ``uid`` (default: ours) is there (see :class:`OwnerClient`)."""
    path = socket_path(config)
    try:
        mode = path.lstat().st_mode
    except PermissionError:
        raise OwnerRefused(f"{path}: permission denied: run watui as the user that runs this session") from None
    except OSError:
        return None
    if not stat.S_ISSOCK(mode):
        return None  # no socket served here (the owner says why in its events; ``watui status`` too)
    client = OwnerClient(path, uid)
    try:
        await client.hello()
    except OwnerGone:
        await client.close()
        return None  # a dead owner's socket: the next owner replaces it
    except BaseException:
        await client.close()
        raise
    return client


# -- the dashboard's manager, remote ----------------------------------------------------------------
class RemoteStream:
    """An event stream of a remote owner, shaped like the core's EventStream (``async for``, ``close``)."""

    def __init__(self, manager: RemoteManager) -> None:
        self._manager = manager
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
        manager = self._manager
        try:
            async for data in manager.client.events():
                if data.get("type") == "snapshot":
                    manager.absorb(data["info"])
                    continue
                # An event carries no snapshot over the wire: read the one after it.
                with contextlib.suppress(WatuiError):
                    manager.absorb(await manager.client.status())
                self._queue.put_nowait(event_from_json(data, manager.info))
        except OwnerRefused as exc:
            self._queue.put_nowait(Event(type="error", info=manager.info, message=str(exc)))
        except asyncio.CancelledError:
            self._queue.put_nowait(None)
            raise
        except Exception as exc:  # whatever broke the stream, the face must hear the owner is gone
            self._queue.put_nowait(Event(type="error", info=manager.info, message=f"lost the owner: {exc}"))
        manager.owner_gone = True
        gone = f"{manager.client.label} exited; press i to take the session over"
        manager.absorb_info(SessionInfo(state=ConnectionState.UNLAUNCHED, disk=manager.info.disk, message=gone))
        self._queue.put_nowait(Event(type="error", info=manager.info, message=gone))
        self._queue.put_nowait(None)

    def close(self) -> None:
        self._task.cancel()


class RemoteManager:
    """What the dashboard needs of a SessionManager, answered by a running owner over its socket."""

    def __init__(self, client: OwnerClient, status: dict[str, Any]) -> None:
        self.client = client
        self.owner_gone = False
        self._actions: dict[str, Any] = {}
        self._info = SessionInfo()
        self.absorb(status)

    def absorb(self, status: dict[str, Any]) -> None:
        self._actions = status.get("actions") or {}
        self._info = info_from_json(status, demo=bool(self.client.owner.get("demo")))

    def absorb_info(self, info: SessionInfo) -> None:
        self._actions = {}
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

    async def smart_initialize(self) -> InitResult:
        return init_result_from_json(await self.client.verb("smart-initialize"))

    async def reconnect(self) -> InitResult:
        return init_result_from_json(await self.client.verb("reconnect"))

    async def cleanup(self) -> CleanupReport:
        data = await self.client.verb("cleanup")
        return CleanupReport(
            freed_bytes=int(data.get("freedBytes", 0)),
            removed=tuple(data.get("removed") or ()),
            moved_aside=tuple(data.get("movedAside") or ()),
            message=str(data.get("message", "")),
        )

    async def clear(self, purge: bool = False) -> ClearReport:
        data = await self.client.verb("clear", {"purge": purge})
        moved = data.get("movedTo")
        return ClearReport(
            purged=bool(data.get("purged")),
            moved_to=Path(moved) if moved else None,
            message=str(data.get("message", "")),
        )


class RemoteScanner:
    """The demo's ``s`` key through the owner's ``/api/demo/scan``."""

    def __init__(self, client: OwnerClient) -> None:
        self.client = client

    async def scan(self) -> Any:
        return await self.client.request("POST", "/api/demo/scan", {})
