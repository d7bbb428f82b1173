"""Idle cost of the dashboard: CPU and RSS of the ``watui`` process, connected with nothing happening.

Runs ``watui --demo`` in a private tmux server (a real terminal, 120x45), scans the simulator's QR,
waits until the dashboard says CONNECTED and settles, then samples the watui process with psutil for
``--seconds`` (default 10), after ``--settle`` seconds (default 60) connected. The browser's
figures are printed beside it, for scale. Targets (issue 4):
under 2% of one core, under 120 MB RSS.

    .venv/bin/python bench/bench_tui_idle.py [--seconds 10] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

WATUI = Path(sys.executable).with_name("watui")
CPU_TARGET_PERCENT = 2.0
RSS_TARGET_MB = 120.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sim_post(port: int, path: str) -> dict[str, Any]:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the simulator's throwaway self-signed certificate
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", method="POST" if "scan" in path else "GET")
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        answer: dict[str, Any] = json.load(response)
        return answer


def tmux(socket_name: str, *args: str) -> str:
    cmd = ["tmux", "-L", socket_name, "-f", "/dev/null", *args]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=10).stdout


def wait(check: Any, what: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except (OSError, subprocess.CalledProcessError):
            value = None
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"bench: timed out waiting for {what}")


def watui_process(shell_pid: int) -> psutil.Process | None:
    for child in psutil.Process(shell_pid).children(recursive=True):
        try:
            if any(part.endswith("/watui") or part == "watui" for part in child.cmdline()[:2]):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def tree_rss_mb(proc: psutil.Process) -> float:
    total = 0
    for member in [proc, *proc.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += member.memory_info().rss
    return total / (1024 * 1024)


def sample(proc: psutil.Process, seconds: float) -> dict[str, float]:
    """CPU % of one core over the whole window, and the largest RSS seen (sampled each second)."""
    browsers = [c for c in proc.children(recursive=True) if "chrom" in c.name().lower()]
    roots = [b for b in browsers if b.ppid() not in {x.pid for x in browsers}]
    start_cpu = proc.cpu_times()
    start = time.monotonic()
    peak_rss = 0
    browser_mb = 0.0
    while time.monotonic() - start < seconds:
        peak_rss = max(peak_rss, proc.memory_info().rss)
        browser_mb = max(browser_mb, sum(tree_rss_mb(b) for b in roots))
        time.sleep(1.0)
    elapsed = time.monotonic() - start
    end_cpu = proc.cpu_times()
    used = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    return {
        "seconds": round(elapsed, 1),
        "cpu_percent_one_core": round(100 * used / elapsed, 2),
        "rss_mb": round(peak_rss / (1024 * 1024), 1),
        "browser_tree_rss_mb": round(browser_mb, 1),
    }


def run(seconds: float, settle: float) -> dict[str, Any]:
    socket_name = f"watui-bench-{os.getpid()}"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
        folder = Path(tmp)
        (folder / "config.toml").write_text('[demo]\nqr_rotate_ms = 120000\nstate_dir = "demo"\n')
        env = f"LANG=C.UTF-8 TERM=xterm-256color XDG_STATE_HOME={folder}/state XDG_CONFIG_HOME={folder}/cfg"
        command = (
            f"cd {folder} && env -u COLUMNS -u LINES {env} {WATUI} --demo --demo-port {port} "
            "--config config.toml; sleep 30"
        )
        tmux(socket_name, "new-session", "-d", "-x", "120", "-y", "45", "-s", "bench", command)
        try:
            shell_pid = int(tmux(socket_name, "display", "-p", "-t", "bench", "#{pane_pid}").strip())
            wait(lambda: sim_post(port, "/__sim/state").get("qr"), "the QR")
            sim_post(port, "/__sim/scan")
            wait(lambda: "● CONNECTED" in tmux(socket_name, "capture-pane", "-p", "-t", "bench"), "CONNECTED")
            proc = wait(lambda: watui_process(shell_pid), "the watui process")
            # Past the first minute uptime is shown in minutes: steady state, as on a server.
            time.sleep(settle)
            figures = sample(proc, seconds)
            tmux(socket_name, "send-keys", "-t", "bench", "q")
            wait(lambda: not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE, "watui to quit", 30)
        finally:
            subprocess.run(["tmux", "-L", socket_name, "kill-server"], capture_output=True, timeout=10)
    figures["cpu_ok"] = figures["cpu_percent_one_core"] < CPU_TARGET_PERCENT
    figures["rss_ok"] = figures["rss_mb"] < RSS_TARGET_MB
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="sampling window (default 10)")
    parser.add_argument("--settle", type=float, default=60.0, help="seconds connected before sampling (60)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = run(args.seconds, args.settle)
    if args.json:
        print(json.dumps(figures))
        return
    print(f"watui dashboard, connected and idle, over {figures['seconds']} s (tmux 120x45, --demo):")
    print(
        f"  CPU  {figures['cpu_percent_one_core']:.2f}% of one core  (target < {CPU_TARGET_PERCENT}%: "
        f"{'ok' if figures['cpu_ok'] else 'OVER'})"
    )
    rss_verdict = "ok" if figures["rss_ok"] else "OVER"
    print(f"  RSS  {figures['rss_mb']:.1f} MB  (target < {RSS_TARGET_MB:.0f} MB: {rss_verdict})")
    print(f"  browser (Chromium tree, for scale): {figures['browser_tree_rss_mb']:.1f} MB RSS")


if __name__ == "__main__":
    main()
