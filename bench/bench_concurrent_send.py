"""500 sends at once: an owner on `watui sim`, N ``POST /api/whatsapp/messages`` in flight together (one
connection each), then the outbox and the contacts' side checked. Twice: to a `watch` owner's control socket,
then to `watui serve`'s HTTP API with its token.

Figures: POST -> 202 latency under that load (median, p95, max: each accept is an fsync'd commit to the
outbox, so they queue behind each other), the wall time until all N were accepted; then, with the pace at
the config's highest (``max_per_minute = 600``, ``min_gap_per_chat_s = 0``), the time until the N-th is at
the contacts. Checked, else the benchmark fails: every answer a 202, N distinct ids, the outbox lists
exactly those N (none lost), each reaches ``/__sim/messages`` exactly once, and each chat's messages reach
it in the order the outbox accepted them.

Usage: ``.venv/bin/python bench/bench_concurrent_send.py [N] [socket] [serve]`` (or ``bench/run.py
concurrent``); N defaults to 500 (about a minute each: 500 at 600 a minute is 50 s at the contacts), both
faces by default.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.messaging_e2e import CONTACTS, SOCKET, Owner, connected_owner, running_site, wait_until  # noqa: E402
from watui.api.paths import reachable  # noqa: E402

CONFIG = "[messages]\nmax_per_minute = 600\nmin_gap_per_chat_s = 0\n"
TOKEN = "bench-t0ken"


async def post_all(owner: Owner, count: int, api_port: int | None) -> tuple[list[dict[str, Any]], list[float], float]:
    """N POSTs started together, to the control socket (``api_port`` None) or to `watui serve` on ``api_port``
    with its token; their answers in the order sent, each one's latency (ms), the wall time (s)."""
    with reachable(owner.cwd / SOCKET) as address:
        if api_port is None:
            connector: aiohttp.BaseConnector = aiohttp.UnixConnector(path=address, limit=0, force_close=True)
            base, headers = "http://localhost", {}
        else:
            connector = aiohttp.TCPConnector(limit=0, force_close=True)
            base, headers = f"http://127.0.0.1:{api_port}", {"Authorization": f"Bearer {TOKEN}"}
        timeout = aiohttp.ClientTimeout(total=120)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:
            gate = asyncio.Event()

            async def one(n: int) -> tuple[dict[str, Any], float] | str:
                payload = {"to": CONTACTS[n % len(CONTACTS)], "text": f"concurrent {n}"}
                await gate.wait()
                t0 = time.perf_counter()
                try:
                    async with http.post(f"{base}/api/whatsapp/messages", json=payload) as response:
                        body = await response.json()
                        took = (time.perf_counter() - t0) * 1000
                except aiohttp.ClientError as exc:
                    return f"send {n}: {exc!r}"
                if response.status != 202:
                    return f"send {n}: HTTP {response.status} {body}"
                return dict(body), took

            tasks = [asyncio.create_task(one(n)) for n in range(count)]
            await asyncio.sleep(0.1)  # every task waits at the gate
            start = time.perf_counter()
            gate.set()
            results = await asyncio.gather(*tasks)
            wall = time.perf_counter() - start
    errors = [r for r in results if isinstance(r, str)]
    if errors:
        raise SystemExit(f"{len(errors)} of {count} sends failed, the first: {errors[0]}")
    done = [r for r in results if not isinstance(r, str)]
    return [body for body, _ in done], [took for _, took in done], wall


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run(count: int, face: str) -> None:
    api_port = _free_port() if face == "serve" else None
    config = CONFIG if api_port is None else f'{CONFIG}[api]\nport = {api_port}\ntoken = "{TOKEN}"\n'
    command = ("watch", "--jsonl") if api_port is None else ("serve",)
    label = "control socket" if api_port is None else "watui serve, HTTP with a token"
    with tempfile.TemporaryDirectory(prefix="watui-bench-concurrent-") as tmp, running_site(Path(tmp)) as site:
        site.call("/__sim/ack?freeze=1", "POST")  # the contacts' acks would only add traffic
        with connected_owner(Path(tmp) / "work", site, config, command) as owner:
            start = time.perf_counter()
            answers, latencies, wall = asyncio.run(post_all(owner, count, api_port))
            ids = [a["id"] for a in answers]
            if len(set(ids)) != count:
                raise SystemExit(f"{count} sends accepted with {len(set(ids))} distinct ids")

            status, page = owner.api("GET", f"/api/whatsapp/messages?since=&limit={min(count + 10, 1000)}")
            assert status == 200, page
            outbox = [m for m in page["messages"] if m["direction"] == "out"]
            if sorted(m["id"] for m in outbox) != sorted(ids):
                raise SystemExit(f"the outbox lists {len(outbox)} messages, not the {count} accepted")

            wait_until(lambda: len(site.received()) >= count, f"{count} at the contacts", timeout=count / 10 + 60)
            at_contacts = time.perf_counter() - start
            time.sleep(1.0)  # a repeat would show now
            received = site.received()
            if sorted(m["id"] for m in received) != sorted(ids):
                raise SystemExit(f"the contacts got {len(received)} ({len({m['id'] for m in received})} distinct)")
            for chat in {m["chat"] for m in outbox}:
                accepted = [m["id"] for m in outbox if m["chat"] == chat]
                arrived = [m["id"] for m in received if m["to"] == chat]
                if accepted != arrived:
                    raise SystemExit(f"{chat}: the contacts got its messages in another order than accepted")

    latencies.sort()
    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    print(f"{label}:")
    print(f"  {count} concurrent POST -> 202   median {statistics.median(latencies):6.1f} ms   p95 {p95:6.1f} ms"
          f"   max {latencies[-1]:6.1f} ms   (all {count} accepted in {wall:.2f} s, no error)")  # fmt: skip
    print(f"  none lost: {count} distinct ids in the outbox; each at the contacts once, in order per chat,"
          f" all {count} in {at_contacts:.1f} s ({count / at_contacts * 60:.0f}/minute, limit 600)")  # fmt: skip


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 500
    faces = argv[1:] or ["socket", "serve"]
    if set(faces) - {"socket", "serve"}:
        raise SystemExit("usage: bench_concurrent_send.py [N] [socket] [serve]")
    for face in faces:
        run(count, face)


if __name__ == "__main__":
    main(sys.argv[1:])
