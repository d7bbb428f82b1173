"""Two watui processes starting together on one session: the one that loses names the owner's pid.

The owner file is flock'd; the pid in it must be readable by a loser at any moment after the lock is
taken (it was truncated first, then written: a loser could read it empty and say "pid unknown").
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

_RACE = r"""
import os, sys, time
from watui.config import Config, SessionSettings
from watui.core.errors import SessionBusyError
from watui.core.disk.store import SessionStore

root, go_at, rounds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
store = SessionStore(Config(session=SessionSettings(session_path=root, client_id="race")))
for n in range(rounds):
    while time.time() < go_at + n * 0.02:  # both processes try at the same instants
        pass
    try:
        lock = store.acquire_owner()
    except SessionBusyError as exc:
        print(f"lost {exc.pid}", flush=True)
        continue
    print(f"won {os.getpid()}", flush=True)
    time.sleep(0.01)
    lock.release()
"""


def test_a_loser_always_reads_the_winners_pid(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    rounds = 150
    go_at = time.time() + 1.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACE, str(root), str(go_at), str(rounds)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].split("\n") for p in procs]
    assert all(p.returncode == 0 for p in procs)
    pids = {p.pid for p in procs}
    losses = [line.split()[1] for out in outputs for line in out if line.startswith("lost")]
    assert losses, "the two processes never met: the test proves nothing"
    unknown = [pid for pid in losses if pid == "None"]
    assert not unknown, f"{len(unknown)} of {len(losses)} losers could not read the owner's pid"
    assert {int(pid) for pid in losses} <= pids
