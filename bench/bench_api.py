"""HTTP face timings over real sockets on 127.0.0.1: session-info throughput and latency with 100
concurrent clients, metrics scrape latency, and event fan-out (emit -> received by 50 SSE clients).

Uses the tests' FakeSession so the figures are the HTTP face's own cost, not the browser's.
Run: .venv/bin/python bench/bench_api.py
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.api import SseReader, connected_info, running_api  # noqa: E402
from tests.support.fakes import FakeSession  # noqa: E402
from watui.core.models import ConnectionState  # noqa: E402


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def timed_get(http: aiohttp.ClientSession, url: str) -> float:
    start = time.perf_counter()
    async with http.get(url) as res:
        await res.read()
        assert res.status == 200
    return time.perf_counter() - start


async def bench_session_info(url: str, total: int = 2000, concurrency: int = 100) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:
        await timed_get(http, url)  # warm up
        latencies: list[float] = []

        async def worker() -> None:  # each client waits for its answer before asking again
            for _ in range(total // concurrency):
                latencies.append(await timed_get(http, url))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        took = time.perf_counter() - start
    latencies.sort()
    p95 = latencies[int(len(latencies) * 0.95)]
    print(
        f"session-info: {total} requests, {concurrency} concurrent: {total / took:.0f} req/s, "
        f"median {ms(statistics.median(latencies))}, p95 {ms(p95)}"
    )


async def bench_metrics(url: str, rounds: int = 200) -> None:
    async with aiohttp.ClientSession() as http:
        latencies = [await timed_get(http, url) for _ in range(rounds)]
    print(f"metrics scrape: median {ms(statistics.median(latencies))} over {rounds} sequential scrapes")


async def bench_fanout(manager: FakeSession, url: str, clients: int = 50, rounds: int = 20) -> None:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        responses = [await http.get(url) for _ in range(clients)]
        readers = [SseReader(r) for r in responses]
        await asyncio.gather(*(r.data() for r in readers))  # the snapshots
        delays: list[float] = []
        for _ in range(rounds):
            start = time.perf_counter()
            manager.publish("state", state=ConnectionState.TIMEOUT)
            await asyncio.gather(*(r.data() for r in readers))
            delays.append(time.perf_counter() - start)
        for res in responses:
            res.close()
    print(
        f"event fan-out: one event to {clients} SSE clients, all received: median "
        f"{ms(statistics.median(delays))}, worst {ms(max(delays))} over {rounds} events"
    )


async def main() -> None:
    manager = FakeSession(connected_info())
    async with running_api(manager) as api:
        await bench_session_info(f"{api.url}/api/whatsapp/session-info")
        await bench_metrics(f"{api.url}/metrics")
        await bench_fanout(manager, f"{api.url}/api/whatsapp/events")


if __name__ == "__main__":
    asyncio.run(main())
