"""The journal's cost: what recording one event costs the event loop, how fast the writer commits, the
file's size after a simulated 30 days (goal < 20 MB), and how long `watui history --since 7d` takes on it.

Usage: ``.venv/bin/python bench/bench_history.py``.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from watui.core.journal.journal import Journal  # noqa: E402
from watui.core.journal.report import read_report  # noqa: E402

EVENTS = 20_000


def write_cost(folder: Path) -> None:
    journal = Journal(folder / "cost.sqlite")
    journal.open()
    now = time.time()
    start = time.perf_counter()
    for i in range(EVENTS):
        journal.record(now + i, "state", "CONNECTED", "connected", {"attempt": i})
    queued = time.perf_counter() - start
    journal.flush(120)
    total = time.perf_counter() - start
    journal.close()
    print(f"record() on the event loop: {queued / EVENTS * 1e6:.1f} µs per event (queue put only)")
    print(f"writer thread: {EVENTS} events committed in {total:.2f} s = {total / EVENTS * 1e6:.1f} µs per event")


def thirty_days(folder: Path) -> None:
    path = folder / "30d.sqlite"
    journal = Journal(path, keep_days=30)
    journal.open()
    rng = random.Random(12)
    end = time.time()
    t = end - 30 * 86400
    journal.record(t, "start", "UNLAUNCHED", "watui started")
    state = "CONNECTED"
    journal.record(t + 5, "state", state, "connected")
    events = 1
    while t < end:
        size = 80 * 1048576 + rng.randrange(20 * 1048576)
        journal.sample(t, state, size, 350 * 1048576 + rng.randrange(100 * 1048576), rng.random() * 5)
        if rng.random() < 30 / 1440:  # about 30 events a day: drops, retries, errors, actions, alerts
            kind = rng.choice(["state", "retry", "error", "action", "alert"])
            if kind == "state":
                state = "TIMEOUT" if state == "CONNECTED" else "CONNECTED"
            journal.record(t, kind, state, f"{kind} at minute {int(t // 60)}", {"attempt": 1, "delay_s": 1.5})
            events += 1
        t += 60
    journal.flush(300)
    journal.close()
    size_mb = sum(p.stat().st_size for p in folder.glob("30d.sqlite*")) / 1048576
    print(f"30 days (43,200 samples, {events} events): {size_mb:.1f} MB on disk (goal < 20 MB)")
    start = time.perf_counter()
    report = read_report(path, since_s=7 * 86400, down_after_s=60, gap_s=60)
    took = time.perf_counter() - start
    print(f"read_report --since 7d on it: {took * 1000:.0f} ms ({len(report['incidents'])} incidents)")
    if size_mb >= 20:
        raise SystemExit("journal too large")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_cost(Path(tmp))
        thirty_days(Path(tmp))


if __name__ == "__main__":
    main()
