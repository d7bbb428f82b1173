"""The outbox's and the inbox's cost per message: accept, claim, mark sent, record incoming (median µs,
each an fsync'd commit on the disk of the temporary folder), the planner with every message still queued,
the process's memory and the files' size after 10,000 messages, and opening those files again (the
integrity check reads them whole).

Usage: ``.venv/bin/python bench/bench_messages.py [N]`` (or ``bench/run.py messages``); N defaults to 10,000.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watui.config import MessagesSettings  # noqa: E402
from watui.core.messages import Inbox, Incoming, Outbox  # noqa: E402

ACCOUNT = "15550001111@c.us"
CHATS = 500
BODY = "Your order 12345 has shipped and will arrive on Tuesday between 9:00 and 12:00. " * 2


def timed(op: Callable[[], object]) -> float:
    start = time.perf_counter()
    op()
    return (time.perf_counter() - start) * 1e6


def line(name: str, samples: list[float]) -> None:
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(f"{name:<28} median {statistics.median(samples):8.0f} µs   p99 {p99:8.0f} µs   ({len(samples)} calls)")


def main(n: int) -> None:
    settings = MessagesSettings(max_per_minute=600.0, min_gap_per_chat_s=0.0, max_queued=n + 1, ttl_s=86400.0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rss_before = psutil.Process().memory_info().rss
        clock = [time.time()]
        outbox = Outbox.open(folder / "outbox.sqlite", settings, clock=lambda: clock[0])
        accepted = [timed(partial(outbox.accept, f"1555{i % CHATS:07d}", f"{i} {BODY}", account=ACCOUNT))
                    for i in range(n)]  # fmt: skip
        line("accept", accepted)
        plans = [timed(lambda: outbox.plan(ACCOUNT)) for _ in range(50)]
        line(f"plan ({n} queued, {CHATS} chats)", plans)
        claims, sends = [], []
        for _ in range(n):
            clock[0] += 0.1  # the pace allows one every 0.1 s
            start = time.perf_counter()
            claimed = outbox.claim_next(ACCOUNT)
            claims.append((time.perf_counter() - start) * 1e6)
            assert claimed is not None
            sends.append(timed(partial(outbox.mark_sent, claimed.id)))
        line("claim_next", claims)
        line("mark_sent", sends)
        inbox = Inbox.open(folder / "inbox.sqlite")
        incoming = [Incoming(ACCOUNT, f"1555{i % CHATS:07d}@c.us", f"3EB0{i:018X}", BODY) for i in range(n)]
        recorded = [timed(partial(inbox.record_incoming, m)) for m in incoming]
        line("record_incoming", recorded)
        reads = [timed(lambda: inbox.read(n // 2, limit=100)) for _ in range(50)]
        line("read 100 by cursor", reads)
        rss = psutil.Process().memory_info().rss
        sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
        outbox_mb = sum(v for k, v in sizes.items() if k.startswith("outbox")) / 1048576
        inbox_mb = sum(v for k, v in sizes.items() if k.startswith("inbox")) / 1048576
        print(f"after {n} messages each way: process RSS {rss / 1048576:.0f} MB "
              f"({(rss - rss_before) / 1048576:+.1f} MB since the start), "
              f"outbox {outbox_mb:.1f} MB, inbox {inbox_mb:.1f} MB on disk")  # fmt: skip
        outbox.close()
        inbox.close()
        opened = [timed(lambda: Outbox.open(folder / "outbox.sqlite", settings).close()) for _ in range(5)]
        line(f"Outbox.open ({n} rows)", opened)
        opened = [timed(lambda: Inbox.open(folder / "inbox.sqlite").close()) for _ in range(5)]
        line(f"Inbox.open ({n} rows)", opened)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
