"""Attaching to a running owner: time to a live screen, an attached dashboard's idle CPU, the owner's cost.

Starts ``watui watch --demo`` (the owner), scans the simulator's QR, then in a private tmux server
(a real terminal, 120x45) runs ``watui --demo``, which attaches to the owner over its control socket.
Figures (issue 10):
- attach: from starting ``watui`` to the pane showing "attached to watui watch" and "● CONNECTED"
  (goal < 0.5 s; it includes Python's and Textual's start-up, printed apart for scale: ``watui --help``);
- the attached dashboard's CPU over ``--seconds`` once settled (goal < 2 % of one core);
- the owner's extra CPU per attached dashboard: the owner process (not its browser) sampled with none,
  then with one attached.

    .venv/bin/python bench/bench_attach.py [--seconds 10] [--settle 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tui_idle import WATUI, free_port, sim_post, tmux, wait, watui_process  # noqa: E402

ATTACH_GOAL_S = 0.5
CPU_TARGET_PERCENT = 2.0


def cpu_percent(proc: psutil.Process, seconds: float) -> float:
    """CPU of ``proc`` alone (not its children), % of one core, over ``seconds``."""
    start, t0 = proc.cpu_times(), time.monotonic()
    time.sleep(seconds)
    end, elapsed = proc.cpu_times(), time.monotonic() - t0
    return round(100 * ((end.user - start.user) + (end.system - start.system)) / elapsed, 2)


def run(seconds: float, settle: float) -> dict[str, Any]:
    socket_name = f"watui-bench-attach-{os.getpid()}"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
        folder = Path(tmp)
        (folder / "config.toml").write_text('[demo]\nqr_rotate_ms = 120000\nstate_dir = "demo"\n')
        env = {**os.environ, "XDG_STATE_HOME": f"{folder}/state", "XDG_CONFIG_HOME": f"{folder}/cfg"}
        base = [str(WATUI), "--config", "config.toml", "--demo"]
        owner = subprocess.Popen(
            [*base, "watch", "--demo-port", str(port)],
            cwd=folder,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait(lambda: sim_post(port, "/__sim/state").get("qr"), "the QR")
            sim_post(port, "/__sim/scan")
            status = [*base, "status"]
            wait(lambda: subprocess.run(status, cwd=folder, env=env, capture_output=True).returncode == 0, "CONNECTED")
            started = time.perf_counter()
            subprocess.run([*base, "--help"], cwd=folder, env=env, capture_output=True, check=True)
            startup_s = time.perf_counter() - started
            time.sleep(settle)
            owner_alone = cpu_percent(psutil.Process(owner.pid), seconds)

            envs = f"LANG=C.UTF-8 TERM=xterm-256color XDG_STATE_HOME={folder}/state XDG_CONFIG_HOME={folder}/cfg"
            command = f"cd {folder} && env -u COLUMNS -u LINES {envs} {' '.join(base)}; sleep 30"
            started = time.perf_counter()
            tmux(socket_name, "new-session", "-d", "-x", "120", "-y", "45", "-s", "bench", command)

            def live() -> bool:
                screen = tmux(socket_name, "capture-pane", "-p", "-t", "bench")
                return "attached to watui watch" in screen and "● CONNECTED" in screen

            while not live():
                if time.perf_counter() - started > 60:
                    raise SystemExit("bench: the attached dashboard never showed the live screen")
                time.sleep(0.02)
            attach_s = time.perf_counter() - started
            shell_pid = int(tmux(socket_name, "display", "-p", "-t", "bench", "#{pane_pid}").strip())
            attached = wait(lambda: watui_process(shell_pid), "the attached watui process")
            time.sleep(settle)
            owner_with_one = cpu_percent(psutil.Process(owner.pid), seconds)
            attached_cpu = cpu_percent(attached, seconds)
            tmux(socket_name, "send-keys", "-t", "bench", "q")
            wait(lambda: not attached.is_running() or attached.status() == psutil.STATUS_ZOMBIE, "detach", 30)
            owner_alive = owner.poll() is None
        finally:
            subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True, timeout=10)
            owner.terminate()
            try:
                owner.wait(30)
            except subprocess.TimeoutExpired:
                owner.kill()
    return {
        "attach_s": round(attach_s, 3),
        "python_startup_s": round(startup_s, 3),
        "attach_ok": attach_s < ATTACH_GOAL_S,
        "attached_cpu_percent": attached_cpu,
        "attached_cpu_ok": attached_cpu < CPU_TARGET_PERCENT,
        "owner_cpu_alone_percent": owner_alone,
        "owner_cpu_one_attached_percent": owner_with_one,
        "owner_extra_cpu_per_attached_percent": round(owner_with_one - owner_alone, 2),
        "owner_kept_running_after_detach": owner_alive,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="each sampling window (default 10)")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before each sample (default 10)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    f = run(args.seconds, args.settle)
    if args.json:
        print(json.dumps(f))
        return
    print(
        f"attach to a live screen: {f['attach_s']:.2f} s (goal < {ATTACH_GOAL_S} s: "
        f"{'ok' if f['attach_ok'] else 'OVER'}; watui --help alone takes {f['python_startup_s']:.2f} s)"
    )
    print(
        f"attached dashboard, idle: {f['attached_cpu_percent']:.2f}% of one core (target < {CPU_TARGET_PERCENT}%: "
        f"{'ok' if f['attached_cpu_ok'] else 'OVER'})"
    )
    print(
        f"owner (watui watch, without its browser): {f['owner_cpu_alone_percent']:.2f}% alone, "
        f"{f['owner_cpu_one_attached_percent']:.2f}% with one dashboard attached "
        f"(+{f['owner_extra_cpu_per_attached_percent']:.2f}% per dashboard)"
    )
    print(f"owner still running after q: {f['owner_kept_running_after_detach']}")
    if not f["owner_kept_running_after_detach"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
