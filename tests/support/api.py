"""Helpers for the HTTP face's tests (on tests/support/fakes.py's FakeSession): sample snapshots, a running
API on a real socket, and a reader of Server-Sent Events frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from watui.api.app import ApiServer, start_api
from watui.core.models import (
    Account,
    BrowserProcess,
    ConnectionState,
    DiskReport,
    Health,
    SessionInfo,
    now_utc,
)
from watui.core.ports import SessionPort

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


@asynccontextmanager
async def running_api(
    manager: SessionPort, *, token: str = "", keepalive_s: float = 15.0, simulator: Any = None
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
