"""Helpers for the HTTP face's tests: a FakeManager behind the manager's interface, a running API on a
real socket, and a reader of Server-Sent Events frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from watui.api.app import ApiServer, start_api
from watui.core.models import (
    Account,
    BrowserProcess,
    CleanupReport,
    ClearReport,
    ConnectionState,
    DiskReport,
    Event,
    EventType,
    Health,
    InitResult,
    SessionInfo,
    now_utc,
)

QR_PAYLOAD = "2@fake-ref-0123456789,abcdefghijklmnopqrstuvwxyz0123456789=,ABCDEFGH=,ijklmnop="


def disk_report(path: Path = Path("/srv/wa/session-x"), size_bytes: int = 75 * 1024 * 1024) -> DiskReport:
    return DiskReport(
        path=path,
        exists=True,
        is_valid=True,
        validation_details="login present",
        size_bytes=size_bytes,
        file_count=321,
        max_bytes=200 * 1024 * 1024,
    )


def connected_info() -> SessionInfo:
    now = now_utc()
    return SessionInfo(
        state=ConnectionState.CONNECTED,
        disk=disk_report(),
        health=Health(is_healthy=True, reconnect_attempts=0, last_check_at=now),
        account=Account(name="Ops <b>desk</b>", number="+15550001234"),
        browser=BrowserProcess(pid=4242, rss_bytes=300 * 1024 * 1024, cpu_percent=1.5, processes=6),
        last_connected_at=now,
        connected_since=now - timedelta(minutes=5),
        qr_rotations=2,
        message="connected",
    )


def unpaired_info(qr: str = QR_PAYLOAD) -> SessionInfo:
    return SessionInfo(
        state=ConnectionState.UNPAIRED,
        disk=disk_report(),
        qr=qr,
        qr_expires_at=now_utc() + timedelta(seconds=20),
        qr_rotations=1,
        message="waiting for the QR to be scanned",
    )


class FakeStream:
    def __init__(self, manager: FakeManager) -> None:
        self._manager = manager
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self.closed = False

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Event]:
        while True:
            event = await self.queue.get()
            if event is None:
                return
            yield event

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._manager.streams.remove(self)
            self.queue.put_nowait(None)


class FakeManager:
    """The manager's interface with scripted answers; records every verb called."""

    def __init__(self, info: SessionInfo | None = None) -> None:
        self._info = info or SessionInfo(state=ConnectionState.UNLAUNCHED, disk=disk_report())
        self.streams: list[FakeStream] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail: dict[str, BaseException] = {}
        self.hold: asyncio.Event | None = None  # verbs wait for it when set
        self.finished: list[str] = []
        self.init_result = InitResult(False, True, "Scan the QR code", ConnectionState.UNPAIRED)
        self.busy_verb: str | None = None
        self.unavailable: set[str] = set()

    @property
    def info(self) -> SessionInfo:
        return self._info

    def set_info(self, info: SessionInfo | None = None, **changes: Any) -> None:
        self._info = replace(info or self._info, **changes)

    def emit(self, type_: EventType, **fields: Any) -> Event:
        event = Event(type=type_, info=self._info, **fields)
        for stream in list(self.streams):
            stream.queue.put_nowait(event)
        return event

    def subscribe(self) -> FakeStream:
        stream = FakeStream(self)
        self.streams.append(stream)
        return stream

    @property
    def busy(self) -> str | None:
        return self.busy_verb

    def can(self, verb: str) -> bool:
        return verb not in self.unavailable

    def get_detailed_session_info(self) -> dict[str, Any]:
        return self._info.to_json()

    async def _verb(self, name: str, result: Any, **kwargs: Any) -> Any:
        self.calls.append((name, kwargs))
        if self.hold is not None:
            await self.hold.wait()
        if name in self.fail:
            raise self.fail[name]
        self.finished.append(name)
        return result

    async def smart_initialize(self) -> InitResult:
        return await self._verb("initialize", self.init_result)  # type: ignore[no-any-return]

    async def reconnect(self) -> InitResult:
        result = InitResult(True, False, "Connected to WhatsApp Web", ConnectionState.CONNECTED)
        return await self._verb("reconnect", result)  # type: ignore[no-any-return]

    async def cleanup(self) -> CleanupReport:
        report = CleanupReport(freed_bytes=3 * 1024 * 1024, removed=("Default/Cache",), message="freed 3.0 MB")
        return await self._verb("cleanup", report)  # type: ignore[no-any-return]

    async def clear(self, purge: bool = False) -> ClearReport:
        moved = None if purge else Path("/srv/wa/.quarantine/session-x-1")
        report = ClearReport(purged=purge, moved_to=moved, message="purged" if purge else "moved to quarantine")
        return await self._verb("clear", report, purge=purge)  # type: ignore[no-any-return]


@asynccontextmanager
async def running_api(
    manager: Any, *, token: str = "", keepalive_s: float = 15.0, simulator: Any = None
) -> AsyncIterator[ApiServer]:
    server = await start_api(
        manager, host="127.0.0.1", port=0, token=token, keepalive_s=keepalive_s, simulator=simulator
    )
    try:
        yield server
    finally:
        await server.close()


class SseReader:
    """Reads SSE frames from an aiohttp response: ``("data", obj)`` or ``("comment", text)``."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response

    async def frame(self, timeout: float = 10.0) -> tuple[str, Any]:
        return await asyncio.wait_for(self._frame(), timeout)

    async def _frame(self) -> tuple[str, Any]:
        lines: list[str] = []
        while True:
            raw = await self.response.content.readline()
            if not raw:
                raise EOFError("the event stream ended")
            line = raw.decode().rstrip("\n")
            if line:
                lines.append(line)
                continue
            if not lines:
                continue
            data = [ln[5:].lstrip() for ln in lines if ln.startswith("data:")]
            if data:
                return "data", json.loads("\n".join(data))
            comments = [ln[1:].strip() for ln in lines if ln.startswith(":")]
            if comments:
                return "comment", comments[0]
            lines = []  # e.g. the retry hint alone

    async def data(self, timeout: float = 10.0) -> Any:
        """The next data frame, skipping comments."""
        while True:
            kind, value = await self.frame(timeout)
            if kind == "data":
                return value


async def wait_for(check: Any, timeout: float = 10.0, what: str = "") -> None:
    """Poll ``check()`` until true (a deadline, not a timing assert)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)
