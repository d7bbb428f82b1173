"""Every error the HTTP API sends is JSON ``{"ok": false, "success": false, "error": ...}``, also for requests
aiohttp refuses before any handler runs (a request line too long, an unknown method), and none of them
puts a traceback in watui's log. Real sockets on 127.0.0.1; a FakeSession behind the manager's interface."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from tests.support.api import connected_info, running_api
from tests.support.fakes import FakeSession


async def _raw_exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``request`` as bytes; return the status, headers and body of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        raw = await asyncio.wait_for(reader.read(), 10)  # the server closes after an error
    finally:
        writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "needle"),
    [
        (b"GET /api/whatsapp/session-info?" + b"x" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "too long"),
        (b"BREW /api/whatsapp/session-info HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 400, "method"),
        (b"GET /api/whatsapp/session-info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad\x01: 1\r\n\r\n", 400, "bad request"),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\0" * 40, 400, "not understood"),
    ],
    ids=["request-line-over-8190-bytes", "method-BREW", "bad-header", "tls-on-the-http-port"],
)
async def test_requests_refused_by_the_http_parser_get_json(
    request_bytes: bytes, status: int, needle: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_api(FakeSession(connected_info())) as api:
        got, headers, body = await _raw_exchange(api.port, request_bytes)
    assert got == status, body
    assert headers.get("content-type", "").startswith("application/json"), (headers, body)
    answer = json.loads(body)
    assert answer["ok"] is False and answer["success"] is False
    assert needle in answer["error"].lower(), answer
    assert "\n" not in answer["error"] and "Traceback" not in answer["error"]
    for record in caplog.records:
        assert record.exc_info is None, f"traceback logged: {record.getMessage()}"
        assert "Traceback" not in record.getMessage()
