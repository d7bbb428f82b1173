"""Webhook delivery lag: an incoming message recorded in the inbox (its fsync'd commit included) -> a real HTTP
receiver on 127.0.0.1 has it (signature checked), median and p95 over N messages one at a time; then a burst
of N recorded at once, until the receiver has them all (messages per second, one POST at a time).

Usage: ``.venv/bin/python bench/bench_webhook.py [N]`` (or ``bench/run.py webhook``); N defaults to 300.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watui.config import MessageWebhookSettings  # noqa: E402
from watui.core.messages import Inbox, Incoming  # noqa: E402
from watui.core.messages.webhook import CURSOR, WebhookDeliverer  # noqa: E402

SECRET = "bench-secret"
ACCOUNT = "15550001111@c.us"
BODY = "Your order 12345 has shipped and will arrive on Tuesday between 9:00 and 12:00."


class Got:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.bad = 0
        self.cond = threading.Condition()

    def wait(self, count: int, timeout: float = 60.0) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.times) >= count, timeout):
                raise SystemExit(f"the receiver got {len(self.times)} of {count} within {timeout:g} s")


def serve(got: Got) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            ok = hmac.compare_digest(expected, self.headers.get("X-Watui-Signature", ""))
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with got.cond:
                if ok:
                    got.times.append(time.perf_counter())
                else:
                    got.bad += 1
                got.cond.notify_all()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


async def main(n: int) -> None:
    got = Got()
    server = serve(got)
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp:
        inbox = Inbox.open(Path(tmp) / "inbox.sqlite")
        inbox.set_cursor(CURSOR, 0)
        settings = MessageWebhookSettings(url=url, secret=SECRET, backoff_initial_s=0.05, backoff_max_s=0.5)
        deliverer = WebhookDeliverer(settings, inbox, session="bench")
        task = asyncio.create_task(deliverer.run())
        lags = []
        for i in range(n):
            start = time.perf_counter()
            await inbox.record_incoming_async(Incoming(ACCOUNT, f"1555{i % 50:07d}@c.us", f"lag-{i}", f"{i} {BODY}"))
            deliverer.wake()
            await asyncio.to_thread(got.wait, i + 1)
            lags.append((got.times[i] - start) * 1000)
        lags.sort()
        p95 = lags[int(len(lags) * 0.95) - 1]
        median = statistics.median(lags)
        print(f"record -> receiver got it   median {median:6.1f} ms   p95 {p95:6.1f} ms   ({n} one at a time)")

        burst = [Incoming(ACCOUNT, f"1555{i % 50:07d}@c.us", f"burst-{i}", f"{i} {BODY}") for i in range(n)]
        start = time.perf_counter()
        await inbox.record_many_async(burst)
        deliverer.wake()
        await asyncio.to_thread(got.wait, 2 * n)
        took = got.times[-1] - start
        print(f"a burst of {n} recorded at once: all received in {took:.2f} s ({n / took:.0f} messages/s)")
        if got.bad:
            raise SystemExit(f"{got.bad} deliveries failed their signature check")
        deliverer.close()
        await task
        inbox.close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300))
