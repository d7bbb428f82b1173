"""How long `watui watch --demo` takes to stop, as a supervisor sees it: SIGTERM while idle on the QR, SIGHUP,
and SIGTERM while the in-process simulator holds a page load (``/__sim/slow``). Real processes, real signals.
Prints the median of a few rounds beside the goal (under 5 s).

Run: .venv/bin/python bench/bench_stop.py [--rounds N]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.test_headless_faces import Face, initialize_done  # noqa: E402
from tests.support.watui_proc import sim_call  # noqa: E402

GOAL_S = 5.0


def one_stop(folder: Path, sig: signal.Signals, slow: bool) -> float:
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("")
    face = Face(folder, "watch", "--jsonl")
    try:
        face.wait_event(initialize_done, "the start to end on the QR")
        if slow:
            sim_call(face.sim_port, "/__sim/slow?ms=600000")
            face.proc.send_signal(signal.SIGUSR1)  # a new browser whose page load the simulator holds
            face.wait_sim(lambda s: any(p["state"] == "OPENING" for p in s["pages"]), "a held page load")
        t0 = time.perf_counter()
        code = face.stop(sig)
        took = time.perf_counter() - t0
        if code != 0 or face.browsers():
            raise SystemExit(f"unclean stop: exit {code}, browsers left {len(face.browsers())}")
        return took
    finally:
        if face.proc.poll() is None:
            face.proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    cases = {
        "SIGTERM on the QR": (signal.SIGTERM, False),
        "SIGHUP on the QR": (signal.SIGHUP, False),
        "SIGTERM during a held page load": (signal.SIGTERM, True),
    }
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (sig, slow) in cases.items():
            times = [one_stop(Path(tmp) / f"{name}-{n}".replace(" ", "_"), sig, slow) for n in range(rounds)]
            median = statistics.median(times)
            worst = max(worst, median)
            print(f"{name:<34} median {median:5.2f} s  (max {max(times):5.2f} s; goal < {GOAL_S:g} s)", flush=True)
    return 0 if worst < GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
