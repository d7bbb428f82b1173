"""Which Chromium to drive and how: the executable, its flags, its processes on a profile, and killing them.

The executable: ``[browser] executable``, else Playwright's own, else Debian's.

Headless, a headless shell is preferred (Playwright's, then Debian's ``chromium-headless-shell``): about
half the memory of full Chromium and a faster start.

``python -m watui.core.browser.chromium`` prints the path found (exit 0) or the one-line advice (exit 1).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sys
import threading
import time
from pathlib import Path

import psutil

from watui.config import Config
from watui.core.errors import BrowserNotFoundError, first_line
from watui.core.models import BrowserProcess

log = logging.getLogger("watui.core.browser.driver")  # read_driver_death speaks for the driver

SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Debian's /usr/bin/chromium-headless-shell is a shell script that does not exec: a shell would stay
# between watui and the browser (a kill would hit the shell). The binary itself comes first.
HEADLESS_SHELLS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell")
ADVICE = (
    "no Chromium found: install Debian's with 'sudo apt-get install chromium', or run "
    "'playwright install chromium' where Playwright's download site is reachable, or set "
    "[browser] executable in config.toml"
)


def playwright_chromium(headless_shell: bool = False) -> Path | None:
    """Playwright's own Chromium (or its headless shell), when `playwright install` has put one in its cache."""
    base = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not base.is_dir():
        return None
    pattern, rels = ("chromium-*", ("chrome-linux64/chrome", "chrome-linux/chrome"))
    if headless_shell:
        pattern, rels = ("chromium_headless_shell-*", ("chrome-headless-shell-linux64/chrome-headless-shell",
                                                       "chrome-linux/headless_shell"))  # fmt: skip
    for folder in sorted(base.glob(pattern), reverse=True):
        for rel in rels:
            exe = folder / rel
            if exe.is_file() and os.access(exe, os.X_OK):
                return exe
    return None


def find_browser(configured: str = "", headless: bool = False) -> Path:
    """The executable to launch; raises BrowserNotFoundError with advice when there is none."""
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            found = shutil.which(configured)
            if found is None:
                raise BrowserNotFoundError(f"[browser] executable '{configured}' is not an executable file; {ADVICE}")
            path = Path(found)
        return path
    if headless:
        shell = playwright_chromium(headless_shell=True)
        if shell is not None:
            return shell
    own = playwright_chromium()
    if own is not None:
        return own
    for candidate in (HEADLESS_SHELLS if headless else ()) + SYSTEM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    raise BrowserNotFoundError(ADVICE)


KILL_WAIT_S = 2.0  # SIGKILL is immediate, even for a stopped process; this is only a bound
_SHELLS = frozenset({"sh", "bash", "dash"})

# Flags a server needs: no first-run, no phoning home, no GPU, small shared memory is fine.
SERVER_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--mute-audio",
    "--password-store=basic",
)


def launch_args(config: Config) -> list[str]:
    args = list(SERVER_FLAGS)
    # Public clients do the same: navigator.webdriver stays false, as in a person's browser.
    args.append("--disable-blink-features=AutomationControlled")
    args.append(f"--disk-cache-size={config.browser.disk_cache_mb * 1024 * 1024}")
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    if config.sim_port is not None:
        args.append(f"--host-resolver-rules=MAP web.whatsapp.com {config.sim_target}")
    args.extend(config.browser.extra_args)
    return args


def find_browser_processes(profile: Path) -> list[psutil.Process]:
    """Chromium processes started on ``profile`` (the main process first). Blocking: call off the loop."""
    marker = f"--user-data-dir={profile}"
    main: list[psutil.Process] = []
    children: list[psutil.Process] = []
    for proc in psutil.process_iter(["cmdline", "name"]):
        cmdline = proc.info.get("cmdline") or []
        if marker in cmdline and proc.info.get("name") not in _SHELLS:  # a wrapper script is not the browser
            (children if any(a.startswith("--type=") for a in cmdline) else main).append(proc)
    return main + children


def _proportional_memory(proc: psutil.Process) -> int:
    """PSS where the kernel gives it: Chromium's processes share most pages, so summed RSS overstates."""
    try:
        return int(getattr(proc.memory_full_info(), "pss", 0)) or int(proc.memory_info().rss)
    except psutil.AccessDenied:
        return int(proc.memory_info().rss)


class ProcessTree:
    """Samples of a browser's process tree. CPU is measured since the previous sample, so the same
    ``psutil.Process`` of each pid is kept from one sample to the next (a new one has no baseline and
    reads 0.0). Blocking: call off the loop."""

    def __init__(self) -> None:
        self._processes: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()

    def sample(self, pid: int | None, executable: Path | None = None) -> BrowserProcess | None:
        """pid, memory (proportional set size) and CPU of ``pid`` and its children; None when it is gone."""
        if pid is None:
            return None
        with self._lock:  # two samples never overlap (the baselines are shared)
            try:
                main = self._processes.get(pid) or psutil.Process(pid)
                procs = [main, *main.children(recursive=True)]
            except psutil.Error:
                return None
            kept = {proc.pid: self._processes.get(proc.pid, proc) for proc in procs}
            self._processes = kept
            rss = 0
            cpu = 0.0
            for proc in kept.values():
                with contextlib.suppress(psutil.Error):
                    rss += _proportional_memory(proc)
                    cpu += proc.cpu_percent(interval=None)
        exe = str(executable) if executable else None
        return BrowserProcess(pid=pid, rss_bytes=rss, cpu_percent=round(cpu, 1), processes=len(kept), executable=exe)


def own_pids_of(pid: int | None) -> frozenset[int]:
    """``pid`` and its children's (empty for None)."""
    if pid is None:
        return frozenset()
    try:
        main = psutil.Process(pid)
        return frozenset([pid, *(c.pid for c in main.children(recursive=True))])
    except psutil.Error:
        return frozenset([pid])


def _tree(pid: int | None) -> list[psutil.Process]:
    if pid is None:
        return []
    try:
        main = psutil.Process(pid)
        return [main, *main.children(recursive=True)]
    except psutil.Error:
        return []


def _gone(proc: psutil.Process) -> bool:
    """Dead, or a zombie: a zombie holds nothing (its parent, if stopped or killed, may never reap it)."""
    try:
        return bool(proc.status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _kill_tree(pid: int | None, driver_pid: int | None = None) -> None:
    """SIGKILL a browser that would not close, with its children, and its Playwright driver (``node …
    run-driver``, the browser's parent) when that does not answer either: only their own trees, since a
    new browser may already be starting on the same profile. The driver goes first, so it cannot start
    anything meanwhile; SIGKILL works on stopped processes too."""
    procs = {p.pid: p for p in [*_tree(driver_pid), *_tree(pid)]}
    for proc in procs.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()
    # Not psutil.wait_procs: it waits for zombies that a killed driver can no longer reap, and it would
    # reap the driver (our own child) behind asyncio's back.
    deadline = time.monotonic() + KILL_WAIT_S
    while not all(_gone(p) for p in procs.values()) and time.monotonic() < deadline:
        time.sleep(0.02)


def _stopped(pid: int | None) -> bool:
    """Whether ``pid`` is stopped (SIGSTOP, a debugger): it will answer nothing until continued."""
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
    except psutil.Error:
        return False


def _driver_of(browser_pid: int | None) -> int | None:
    """The Playwright driver that started the browser: the browser's ancestor that is our own child."""
    if browser_pid is None:
        return None
    try:
        for proc in psutil.Process(browser_pid).parents():
            if proc.ppid() == os.getpid():
                return int(proc.pid)
    except psutil.Error:
        return None
    return None


def read_driver_death(starter: object) -> None:
    """Playwright sets an exception on a future that nobody awaits once its driver process dies (a SIGTERM
    to watui's whole process group: systemd's default KillMode, ``timeout``); asyncio then prints it at
    exit as "Future exception was never retrieved". The calls in flight fail with it anyway and watui's
    stop goes on: read it here. (Playwright keeps the future private: look for it, never fail.)"""
    transport = getattr(getattr(starter, "_client", None), "_transport", None)
    future = getattr(transport, "on_error_future", None)
    if isinstance(future, asyncio.Future):
        future.add_done_callback(_retrieve)


def _retrieve(future: asyncio.Future[object]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.info("the Playwright driver stopped: %s", first_line(future.exception()))


def main(argv: list[str]) -> int:
    try:
        path = find_browser()
    except BrowserNotFoundError as exc:
        if "--quiet" not in argv:
            print(f"watui: {exc}", file=sys.stderr)
        return 1
    if "--quiet" not in argv:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
