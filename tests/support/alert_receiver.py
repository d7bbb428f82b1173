"""A real HTTP receiver for alert and message webhook tests: http.server in a thread on 127.0.0.1, recording
each request it answers; given a ``secret``, it checks ``X-Watui-Signature`` as a receiver must and answers 401
"bad signature" when it does not match."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int = 200

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """``statuses``: the answers to give in turn (the last one repeats); ``hang``: never answer;
    ``hang_after``: set ``hang`` once this many requests were answered."""

    statuses: list[int] = field(default_factory=lambda: [200])
    hang: threading.Event = field(default_factory=threading.Event)
    requests: list[Received] = field(default_factory=list)
    port: int = 0
    hung: int = 0  # requests held without an answer
    secret: str | None = None
    hang_after: int | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.requests)


@contextmanager
def receiver(
    statuses: list[int] | None = None, *, secret: str | None = None, port: int = 0, hang_after: int | None = None
) -> Iterator[Receiver]:
    """``port``: listen there (a receiver back up where it was down); 0: a free one."""
    rec = Receiver(statuses=statuses or [200], secret=secret, hang_after=hang_after)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if rec.hang.is_set():
                rec.hung += 1
                time.sleep(30)  # hold the connection without answering
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            said = b""
            if rec.secret is not None and not _signed(rec.secret, body, headers.get("x-watui-signature", "")):
                status, said = 401, b"bad signature"
            else:
                status = rec.answer()
            rec.requests.append(Received(self.path, headers, body, status))
            if rec.hang_after is not None and len(rec.requests) >= rec.hang_after:
                rec.hang.set()
            self.send_response(status)
            self.send_header("Content-Length", str(len(said)))
            self.end_headers()
            self.wfile.write(said)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()


def _signed(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: the HMAC-SHA256 of the raw body, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)
