"""Sending through watui itself at its pace limit: a `watch` owner on `watui sim`, N texts POSTed to its
control socket, and the contacts' side counted in ``/__sim/messages``.

Figures: POST -> 202 latency (median, p95: the accept is an fsync'd commit to the outbox, before the id
comes back), and the sustained rate from the first accept to the N-th message at the contacts, beside the
limit ``[messages] max_per_minute`` (600, the highest the config takes, with ``min_gap_per_chat_s = 0``).
A second run at the default pace (20 a minute) sends a few to show the pacing holds (the first goes at
once, then one every 3 s: 5 in about 12 s reads as 25 a minute).

Usage: ``.venv/bin/python bench/bench_owner_send.py [N]`` (or ``bench/run.py owner_send``); N defaults to 200.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.messaging_e2e import CONTACTS, connected_owner, running_site, wait_until  # noqa: E402

FAST = "[messages]\nmax_per_minute = 600\nmin_gap_per_chat_s = 0\n"
DEFAULT = "[messages]\nmin_gap_per_chat_s = 0\n"  # the default 20 a minute


def run(count: int, config: str, label: str, limit: float) -> None:
    with tempfile.TemporaryDirectory(prefix="watui-bench-send-") as tmp, running_site(Path(tmp)) as site:
        site.call("/__sim/ack?freeze=1", "POST")
        with connected_owner(Path(tmp) / "work", site, config) as owner:
            latencies: list[float] = []
            start = time.perf_counter()
            for n in range(count):
                t0 = time.perf_counter()
                owner.send(CONTACTS[n % len(CONTACTS)], f"bench {n}")
                latencies.append((time.perf_counter() - t0) * 1000)
            accepted_s = time.perf_counter() - start
            enough = count * 60 / limit + 60
            wait_until(lambda: len(site.received()) >= count, f"{count} at the contacts", timeout=enough)
            total_s = time.perf_counter() - start
            received = site.received()
            assert len({m["id"] for m in received}) == len(received) == count, "a message lost or sent twice"
            latencies.sort()
            p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
            rate = count / total_s * 60
            print(f"{label}: POST -> 202   median {statistics.median(latencies):6.1f} ms   p95 {p95:6.1f} ms"
                  f"   ({count} sequential POSTs in {accepted_s:.1f} s)")  # fmt: skip
            print(f"{label}: sustained     {rate:6.0f} sends/minute at the contacts (limit {limit:g}/minute,"
                  f" {count} in {total_s:.1f} s, each once)")  # fmt: skip


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    run(count, FAST, "max_per_minute=600", 600.0)
    run(5, DEFAULT, "max_per_minute=20 ", 20.0)


if __name__ == "__main__":
    main()
