"""The control socket takes a burst of connections (a bot's 500 sends at once) while its owner is busy: they wait
to be accepted instead of failing. Unlike TCP, whose full backlog only delays a connect (the SYN is sent again),
a connect to an AF_UNIX socket whose backlog is full fails at once; asyncio reports it later, as a connection
lost on the first write. bench/bench_concurrent_send.py measures such a burst on a real owner."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from tests.support.fakes import FakeSession
from watui.api.control import start_control
from watui.api.paths import reachable, socket_path
from watui.config import Config, SessionSettings

BURST = 500


def _connect_all(path: Path) -> tuple[list[socket.socket], int]:
    """BURST non-blocking connects, as asyncio makes them; the ones the kernel refused are counted."""
    connected, refused = [], 0
    with reachable(path) as address:
        for _ in range(BURST):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.setblocking(False)
            try:
                sock.connect(address)
                connected.append(sock)
            except BlockingIOError:  # EAGAIN: the backlog is full
                refused += 1
                sock.close()
    return connected, refused


def _status_lines(socks: list[socket.socket]) -> list[bytes]:
    lines = []
    for sock in socks:
        sock.setblocking(True)
        sock.settimeout(30)
        sock.sendall(b"GET /api/whatsapp/session-info HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        lines.append(sock.makefile("rb").readline().strip())
        sock.close()
    return lines


async def test_a_burst_of_connections_while_the_owner_is_busy_is_served_not_refused(tmp_path: Path) -> None:
    root = tmp_path / "session"
    root.mkdir(mode=0o700)
    config = Config(session=SessionSettings(session_path=str(root), client_id="bot"))
    server = await start_control(FakeSession(session_root=root), config, face="watch")
    assert server is not None
    try:
        # Called on the loop's own thread: the owner accepts nothing until the whole burst has connected.
        socks, refused = _connect_all(socket_path(config))
        assert refused == 0, f"{refused} of {BURST} connects refused by a full backlog"
        lines = await asyncio.to_thread(_status_lines, socks)
        assert lines == [b"HTTP/1.1 200 OK"] * BURST
    finally:
        await server.close()
