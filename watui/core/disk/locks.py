"""Who holds a profile: SingletonLock reading, the process lookup (psutil), the owner lock and its pid."""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from pathlib import Path
from types import TracebackType

import psutil

from watui.core.models import LockInfo

# A process that started this long after the lock was made cannot be the one that made it (pid reuse).
_PID_REUSE_SLACK_S = 2.0


class OwnerLock:
    """Held by the one watui process that owns a session (fcntl.flock on a file in session_root).

    The kernel drops the lock when the process exits, however it exits; ``release()`` drops it sooner.
    """

    def __init__(self, fd: int, path: Path) -> None:
        self._fd: int | None = fd
        self.path = path

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> OwnerLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def read_lock(profile: Path, single_host: bool = False, own_pids: frozenset[int] = frozenset()) -> LockInfo:
    """Who holds ``profile``: the live process of its SingletonLock (a symlink "hostname-pid"), else a live
    process on this machine started with ``--user-data-dir`` = ``profile`` (other than ``own_pids`` and
    their children): not every browser writes the lock (``chromium-headless-shell`` does not), and two
    browsers on one LevelDB damage it. A lock written under another hostname is held, unless
    ``single_host`` (the folder is used from one machine at a time: the lock is what a restarted container
    leaves) and no process on this machine uses the profile."""
    lock = _read_singleton_lock(profile, single_host)
    if lock.kind == "live":
        return lock
    holder = _process_using(profile, own_pids)
    if holder is None:
        return lock
    return LockInfo(kind="live", pid=holder[0], name=holder[1], host=None)


def _read_singleton_lock(profile: Path, single_host: bool) -> LockInfo:
    lock = profile / "SingletonLock"
    try:
        target = os.readlink(lock)
    except FileNotFoundError:
        return LockInfo()
    except OSError:  # there but not a symlink: not Chromium's, nobody can hold it
        return LockInfo(kind="stale") if os.path.lexists(lock) else LockInfo()
    host, _, pid_text = target.rpartition("-")
    if not pid_text.isdigit():
        return LockInfo(kind="stale", host=host or None)
    pid = int(pid_text)
    if host and host != socket.gethostname():
        if single_host:
            holder = _process_using(profile)
            if holder is None:
                return LockInfo(kind="stale", pid=pid, host=host)
            return LockInfo(kind="live", pid=holder[0], name=holder[1], host=None)
        # Another machine's pid cannot be checked from here: treat it as held, never delete it.
        return LockInfo(kind="live", pid=pid, name=None, host=host)
    name = _live_process_name(pid, _lock_made_at(lock), profile)
    if name is None:
        return LockInfo(kind="stale", pid=pid, host=host or None)
    return LockInfo(kind="live", pid=pid, name=name, host=host or None)


def _process_using(profile: Path, own_pids: frozenset[int] = frozenset()) -> tuple[int, str] | None:
    """(pid, name) of a live process on this machine started with ``--user-data-dir`` = ``profile`` (the
    same folder once resolved, never a prefix of it), other than ``own_pids`` and their children."""
    real = os.path.realpath(profile)
    me = os.getpid()
    for proc in psutil.process_iter(["cmdline", "name"]):
        try:
            args = proc.info.get("cmdline") or []
            if proc.pid == me or not any(arg.startswith(_USER_DATA_DIR) for arg in args):
                continue
            uses = _uses_profile(proc, args, real) and proc.status() != psutil.STATUS_ZOMBIE
            if uses and not _is_own(proc.pid, own_pids):
                return proc.pid, str(proc.info.get("name") or "unknown")
        except psutil.Error:
            continue
    return None


_USER_DATA_DIR = "--user-data-dir="


def _uses_profile(proc: psutil.Process, args: list[str], real: str) -> bool:
    """Whether one of ``args`` is ``--user-data-dir=`` a path that resolves to ``real``; a relative path is
    the process's own, from its working folder."""
    for arg in args:
        if not arg.startswith(_USER_DATA_DIR):
            continue
        value = arg[len(_USER_DATA_DIR) :]
        if not os.path.isabs(value):
            try:
                value = os.path.join(proc.cwd(), value)
            except psutil.Error:
                continue  # its working folder cannot be read: its relative path cannot be placed
        if os.path.realpath(value) == real:
            return True
    return False


def _foreign(lock: LockInfo) -> bool:
    return bool(lock.host) and lock.host != socket.gethostname()


def _lock_made_at(lock: Path) -> float | None:
    try:
        return os.lstat(lock).st_mtime
    except OSError:
        return None


def _live_process_name(pid: int, lock_made_at: float | None, profile: Path) -> str | None:
    """The name of the live process ``pid`` that can have made the lock, else None (stale)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        started = proc.create_time()
        name = str(proc.name())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return "unknown"
    newer_than_lock = lock_made_at is not None and started > lock_made_at + _PID_REUSE_SLACK_S
    if newer_than_lock and not _may_be_the_browser(proc, name, profile):
        # The pid was reused after a crash or reboot by something unrelated: the lock's maker is gone.
        # (A browser is never judged by times alone: a clock step after its start would fool them.)
        return None
    return name


_BROWSER_NAMES = ("chrom", "headless_shell", "msedge", "brave")


def _may_be_the_browser(proc: psutil.Process, name: str, profile: Path) -> bool:
    if any(part in name.lower() for part in _BROWSER_NAMES):
        return True
    try:
        args = proc.cmdline()
    except psutil.Error:
        return True  # cannot tell: assume it may be
    return _uses_profile(proc, args, os.path.realpath(profile))


def _is_own(pid: int | None, own_pids: frozenset[int]) -> bool:
    """Whether ``pid`` is one of ``own_pids`` or a descendant of one (Chromium's helper processes)."""
    if pid is None or not own_pids:
        return False
    if pid in own_pids:
        return True
    try:
        return any(parent.pid in own_pids for parent in psutil.Process(pid).parents())
    except psutil.Error:
        return False


def _describe_live_lock(lock: LockInfo) -> str:
    if lock.name is None and lock.host:
        return (
            f"locked by pid {lock.pid} on another host '{lock.host}' (cannot be checked from here; if no "
            "browser there uses it, delete its SingletonLock by hand)"
        )
    return f"in use by {lock.name} (pid {lock.pid})"


def _describe_stale_lock(lock: LockInfo) -> str:
    who = f" of pid {lock.pid}" if lock.pid else ""
    if _foreign(lock):
        return (
            f"stale lock{who} from host '{lock.host}' (a restarted container; single_host = true and no process "
            "here uses the profile: watui clean and the next start remove it)"
        )
    return f"stale lock{who} left by a crash (watui clean removes it)"


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


_OWNER_PID_WIDTH = 10  # wider than any Linux pid (pid_max is at most 2**22)


def _read_owner_pid(path: Path, wait_s: float = 1.0) -> int | None:
    """The pid in a held owner file. A file the owner has just created is empty for the instant before
    its pid is written: wait a little for it rather than say "pid unknown"."""
    deadline = time.monotonic() + wait_s
    while True:
        pid = _read_pid(path)
        if pid is not None or time.monotonic() >= deadline:
            return pid
        time.sleep(0.005)
