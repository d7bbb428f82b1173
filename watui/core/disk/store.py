"""The profile on disk: where it is, its size, its validity, who holds its lock; quarantine and purge.

Everything here is blocking I/O: the manager calls it through ``asyncio.to_thread``.

Validity (``inspect``), most serious problem first:
- ``missing``: no ``<session_path>/session-<client_id>/`` folder: a QR scan is needed.
- ``corrupt``: a login LevelDB (WhatsApp's IndexedDB, Local Storage) has no ``CURRENT``, an empty or
  truncated one, or one naming a ``MANIFEST-*`` that is missing or empty: clear it, then a QR scan.
- ``login_missing``: WhatsApp's IndexedDB is there but its Local Storage (``Default/Local Storage/leveldb``)
  is gone: a half-deleted login; clear it. Chromium's own ``Local State`` and ``Default/Preferences`` are
  kept by cleanup but not required: Chromium writes them late (a freshly linked profile, or one whose
  browser was killed, may not have them yet) and recreates them without losing the login.
- ``no_login``: a sound profile without WhatsApp's IndexedDB: it never logged in (or was logged out);
  a QR scan is needed, nothing needs clearing.
- ``too_large``: bytes on disk over ``max_session_size_mb``; ``watui clean`` may bring it back under.
- ``locked``: a live process other than watui's own browser holds ``SingletonLock``, or was started on the
  profile (``--user-data-dir``; ``chromium-headless-shell`` writes no lock).
A stale lock (its pid is dead, or the pid was reused by a process started after the lock was made) is
reported but leaves the session valid: Chromium and ``watui clean`` both get rid of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
from pathlib import Path

from watui.config import Config
from watui.core.disk import cleanup as cl
from watui.core.disk import leveldb
from watui.core.disk.folders import MARKER, list_dir, looks_like_session_root, make_private_dirs, private_folder_problem
from watui.core.disk.locks import (
    _OWNER_PID_WIDTH,
    OwnerLock,
    _describe_live_lock,
    _describe_stale_lock,
    _foreign,
    _is_own,
    _read_owner_pid,
    _read_pid,
    read_lock,
)
from watui.core.disk.login import stored_login
from watui.core.disk.quarantine import Quarantine
from watui.core.durable import fsync_dir
from watui.core.errors import SessionBusyError, UnsafePathError
from watui.core.models import (
    PROBLEM_CORRUPT,
    PROBLEM_LOCKED,
    PROBLEM_LOGIN_MISSING,
    PROBLEM_MISSING,
    PROBLEM_NO_LOGIN,
    PROBLEM_TOO_LARGE,
    CleanupReport,
    ClearReport,
    DiskReport,
    LockInfo,
)
from watui.present import mb_figure, mb_over

log = logging.getLogger(__name__)

MIB = 1024 * 1024


class SessionStore:
    def __init__(self, config: Config, uid: int | None = None) -> None:
        self.config = config
        self.root: Path = config.session_root
        self.profile: Path = config.profile_dir
        # Whose folders these must be (the effective uid; a test gives another to run its checks as anyone).
        self.uid = os.geteuid() if uid is None else uid
        self.quarantined = Quarantine(self.root, config.session.quarantine_keep)

    @property
    def max_bytes(self) -> int:
        return self.config.session.max_session_size_mb * MIB

    @property
    def quarantine_dir(self) -> Path:
        return self.quarantined.dir

    # -- reading -----------------------------------------------------------------------------------
    def inspect(self, own_pids: frozenset[int] = frozenset()) -> DiskReport:
        """Size, file count, reclaimable bytes, lock, validity. A lock held by one of ``own_pids``
        (watui's own browser) or by one of their children is not a problem."""
        profile = self.profile
        if not profile.is_dir():
            detail = f"Session folder not found: {profile} (a QR scan is needed{self._copies_note()})"
            if profile.exists() or profile.is_symlink():
                detail = f"Session path is not a folder: {profile} (clear it, then scan a QR)"
                return self._report(False, detail, (PROBLEM_CORRUPT,), exists=True)
            return self._report(False, detail, (PROBLEM_MISSING,), exists=False)
        scan = cl.scan_profile(profile)
        lock = self.lock_info(own_pids)
        problems: list[tuple[str, str]] = []
        problems += self._login_problems(profile)
        if scan.size_bytes > self.max_bytes:
            problems.append((PROBLEM_TOO_LARGE, self._too_large(scan.size_bytes, scan.removable_bytes)))
        if lock.kind == "live" and not _is_own(lock.pid, own_pids):
            problems.append((PROBLEM_LOCKED, _describe_live_lock(lock)))
        codes = tuple(dict.fromkeys(code for code, _ in problems))
        if problems:
            detail = "; ".join(reason for _, reason in problems)
        else:
            detail = (
                f"Session valid: {mb_figure(scan.size_bytes)}MB of {self.config.session.max_session_size_mb}MB, "
                "WhatsApp login stored"
            )
        if lock.kind == "stale":
            detail += f"; {_describe_stale_lock(lock)}"
        return DiskReport(
            path=profile,
            exists=True,
            is_valid=not problems,
            validation_details=detail,
            size_bytes=scan.size_bytes,
            file_count=scan.file_count,
            reclaimable_bytes=scan.removable_bytes,  # a stale lock is a symlink: no blocks to reclaim
            max_bytes=self.max_bytes,
            lock=lock,
            problems=codes,
        )

    def _report(self, valid: bool, detail: str, problems: tuple[str, ...], exists: bool) -> DiskReport:
        return DiskReport(
            path=self.profile,
            exists=exists,
            is_valid=valid,
            validation_details=detail,
            max_bytes=self.max_bytes,
            problems=problems,
        )

    def _login_problems(self, profile: Path) -> list[tuple[str, str]]:
        if not (profile / cl.WA_INDEXEDDB).is_dir():
            return [(PROBLEM_NO_LOGIN, "no WhatsApp login stored (a QR scan is needed)")]
        out: list[tuple[str, str]] = []
        for rel in cl.LOGIN_LEVELDBS:
            damage = leveldb_damage(profile / rel)
            if damage:
                out.append((PROBLEM_CORRUPT, f"LevelDB damaged: {rel}: {damage}"))
        missing = [rel for rel in cl.LOGIN_REQUIRED if not (profile / rel).exists()]
        if missing:
            out.append((PROBLEM_LOGIN_MISSING, f"login files missing: {', '.join(missing)}"))
        if not out and not stored_login(profile):
            why = "no WhatsApp login stored: never linked, or logged out from the phone (a QR scan is needed)"
            out.append((PROBLEM_NO_LOGIN, why))
        return out

    def _too_large(self, size: int, reclaimable: int) -> str:
        cap = self.config.session.max_session_size_mb
        text = f"Session too large: {mb_over(size, cap)} > {cap}MB"
        if reclaimable:
            text += f" (watui clean would free {mb_figure(reclaimable)}MB)"
        return text

    def lock_info(self, own_pids: frozenset[int] = frozenset()) -> LockInfo:
        """Who holds the profile: its SingletonLock's live process, else any other live process started on
        it (``own_pids`` and their children aside); else nobody, or a dead process's lock (stale)."""
        return read_lock(self.profile, single_host=self.config.session.single_host, own_pids=own_pids)

    def owner_pid(self) -> int | None:
        """The pid of the watui process that owns this session now, if one does."""
        path = self._owner_file
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_pid(path) or -1
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- safety ------------------------------------------------------------------------------------
    def check_root(self) -> None:
        """Refuse a session_path that is /, the home folder, not a folder, another uid's or writable by
        group or others (whoever can write it can pose as its owner's control socket), or a folder of
        something else."""
        real = Path(os.path.realpath(self.root))
        where = f"[session] session_path {self.root}"
        if real == Path("/"):
            raise UnsafePathError(f"{where} is the filesystem root: refusing; give sessions a folder of their own")
        if real == Path(os.path.realpath(Path.home())):
            raise UnsafePathError(
                f"{where} is your home folder: refusing; use a folder of its own, e.g. ~/whatsapp-session-pro"
            )
        if not os.path.lexists(real):
            return
        if not real.is_dir():
            raise UnsafePathError(f"{where} is not a folder")
        problem = private_folder_problem(real, self.uid)
        if problem:
            raise UnsafePathError(f"[session] session_path {problem}")
        if not looks_like_session_root(real):
            raise UnsafePathError(
                f"{where} holds neither a session (session-*) nor watui's marker file ({MARKER}): "
                "refusing to touch it; point session_path at a folder of its own"
            )

    def ensure_root(self) -> None:
        """Check the root is safe, create it (0700) with watui's marker file if missing."""
        self.check_root()
        make_private_dirs(self.root)
        self.check_root()  # again: another user may have made the folder between the check and mkdir
        marker = self.root / MARKER
        if not marker.exists():
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write("This folder holds WhatsApp Web sessions managed by watui. Do not put other files here.\n")

    # -- changing ----------------------------------------------------------------------------------
    def cleanup(self, own_pids: frozenset[int] = frozenset()) -> CleanupReport:
        """Remove caches, temp files, stale locks; never the login. Move old ``whatsapp-session*``
        folders found in session_path into quarantine. Raises SessionBusyError when a live process
        other than ``own_pids`` holds the profile. With ``own_pids`` (watui's browser is running) the
        profile is left alone: Chromium may be writing any of it; stop the browser for a full clean."""
        if not os.path.lexists(self.root):
            return CleanupReport(0, (), message=f"nothing to clean: {self.root} does not exist")
        self.check_root()
        self._refuse_profile_elsewhere()
        lock = self.lock_info(own_pids)
        self._refuse_if_held(lock, own_pids)
        notes: list[str] = [] if own_pids else self.restore_leftovers()
        removal = cl.Removal(0, (), ())
        if own_pids:
            notes.append("the browser is running: nothing removed from the profile (stop it for a full clean)")
        elif self.profile.is_dir():
            notes += self.quarantined.cut_torn_tails(self.profile)
            removal = cl.remove_items(self.profile, cl.scan_profile(self.profile).removable)
            if lock.kind == "stale":
                removal = _merge(removal, self._remove_lock_files())
                if _foreign(lock):
                    note = (
                        f"removed the SingletonLock left by host '{lock.host}' (pid {lock.pid}): no process here "
                        "uses the profile and [session] single_host = true"
                    )
                    log.warning("%s: %s", self.profile, note)
                    notes.append(note)
        moved, move_notes = self.quarantined.move_aside_old_sessions()
        notes += move_notes
        notes += [f"could not remove {item}" for item in removal.failed]
        notes += self._other_sessions_note()
        summary = f"freed {mb_figure(removal.freed_bytes)}MB ({len(removal.removed)} items removed)"
        if moved:
            summary += f"; moved {len(moved)} old session folder(s) into {self.quarantine_dir}"
        message = "; ".join([summary, *notes])
        return CleanupReport(removal.freed_bytes, removal.removed, tuple(moved), message)

    def quarantine(self, reason: str = "") -> Path:
        """Move the profile into <root>/.quarantine/<name>-<timestamp>/; keep the newest N."""
        self.check_root()
        self._refuse_if_held(self.lock_info(), frozenset())
        if not os.path.lexists(self.profile):
            raise FileNotFoundError(f"no session to quarantine: {self.profile} does not exist")
        dest = self.quarantined.move_in(self.profile)
        self._after_quarantine(dest, reason or "watui clear")
        return dest

    def swap_in(self, folder: Path, reason: str) -> Path | None:
        """Put ``folder`` (complete, beside the profile in session_path) in the profile's place; the profile,
        if any, moves into quarantine (its path returned). Two renames: when the second fails the profile is
        moved back, as it was. The browser must be stopped."""
        self.check_root()
        self._refuse_if_held(self.lock_info(), frozenset())
        if not cl.is_inside(self.root, folder) or folder.parent != self.profile.parent:
            raise UnsafePathError(f"refusing to put {folder} in place of {self.profile}: it is not beside it")
        moved = self.quarantined.move_in(self.profile) if os.path.lexists(self.profile) else None
        try:
            os.rename(folder, self.profile)
        except BaseException:
            if moved is not None:
                os.rename(moved, self.profile)
            raise
        fsync_dir(self.root)
        if moved is not None:
            try:
                self._after_quarantine(moved, reason)
            except OSError as exc:  # the swap is done: an old copy that could not be pruned does not undo it
                log.warning("%s: could not prune old quarantined copies: %s", self.quarantine_dir, exc)
        return moved

    def restore_leftovers(self) -> list[str]:
        """Settle what a restore that died left beside the profile (``.<profile>.restore-*``): a verified one
        (``restore-ready-*``) takes the profile's place when the profile is missing; any other is removed
        (it is a plaintext copy of a login). What was done, one note each."""
        notes: list[str] = []
        profile = self.profile.name
        for entry in list_dir(self.root):
            if not (entry.name.startswith(f".{profile}.restore-") and entry.is_dir(follow_symlinks=False)):
                continue
            path = Path(entry.path)
            if entry.name.startswith(f".{profile}.restore-ready-") and not os.path.lexists(self.profile):
                os.rename(path, self.profile)
                fsync_dir(self.root)
                notes.append(f"finished an interrupted restore: {entry.name} is {self.profile} again")
                log.warning("%s: %s", self.root, notes[-1])
                continue
            cl.remove_inside(self.root, path)
            notes.append(f"removed {entry.name}, left by a restore that did not finish")
        return notes

    def _after_quarantine(self, dest: Path, reason: str) -> None:
        note = dest / "WATUI-QUARANTINE.txt"
        with contextlib.suppress(OSError):
            note.write_text(
                f"moved here by watui at {time.strftime('%Y-%m-%d %H:%M:%S %Z')}\nfrom: {self.profile}\n"
                f"reason: {reason}\nto restore: move this folder back to {self.profile}\n"
            )
        self.quarantined.prune(self.profile.name)

    def clear(self, purge: bool = False) -> ClearReport:
        """Quarantine the profile (or delete it with ``purge``) so the next start needs a QR scan."""
        self.check_root()
        self._refuse_if_held(self.lock_info(), frozenset())
        if not os.path.lexists(self.profile):
            return ClearReport(purged=False, moved_to=None, message=f"nothing to clear: {self.profile} does not exist")
        if purge:
            cl.remove_inside(self.root, self.profile)
            return ClearReport(purged=True, moved_to=None, message=f"deleted {self.profile}; a QR scan is needed")
        dest = self.quarantine("watui clear")
        return ClearReport(purged=False, moved_to=dest, message=f"moved {self.profile} to {dest}; a QR scan is needed")

    def acquire_owner(self) -> OwnerLock:
        """Take the one-owner lock; raise SessionBusyError naming the owner's pid when held."""
        self.ensure_root()
        path = self._owner_file
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = _read_owner_pid(path)
            shown = str(pid) if pid else "unknown"
            raise SessionBusyError(f"session {self.profile} is in use by watui (pid {shown})", pid, "watui") from None
        # Never empty for a reader: the pid overwrites the old one in place (fixed width, one write), then the
        # file is cut to that length (a no-op unless an older watui left something longer).
        line = f"{os.getpid():>{_OWNER_PID_WIDTH}}\n".encode()
        os.pwrite(fd, line, 0)
        os.ftruncate(fd, len(line))
        return OwnerLock(fd, path)

    # -- helpers -----------------------------------------------------------------------------------
    def _copies_note(self) -> str:
        """Where copies of a missing profile are: an unfinished restore, the newest quarantined copy."""
        profile = self.profile.name
        notes = []
        ready = sorted(e.name for e in list_dir(self.root) if e.name.startswith(f".{profile}.restore-ready-"))
        if ready:
            notes.append(
                f"an interrupted restore left {self.root / ready[-1]}: 'watui clean' or 'watui init' finishes it"
            )
        pattern = re.compile(rf"^{re.escape(profile)}-(\d{{8}}-\d{{6}})(?:-(\d+))?$")
        copies = []
        for entry in list_dir(self.quarantine_dir):
            match = pattern.match(entry.name)
            if match:
                copies.append((match.group(1), int(match.group(2) or 1), entry.name))
        if copies:
            newest = self.quarantine_dir / max(copies)[2]
            notes.append(f"the last copy moved aside is {newest}: move it back to {self.profile} to use it")
        return "".join(f"; {note}" for note in notes)

    @property
    def _owner_file(self) -> Path:
        return self.root / f".watui-{self.config.session.client_id}.owner"

    def _refuse_profile_elsewhere(self) -> None:
        """Cleanup reaches into the profile: refuse when it resolves outside session_path (a symlink to
        another folder), so nothing outside session_path is ever removed, whatever the links."""
        real = os.path.realpath(self.profile)
        if os.path.lexists(self.profile) and os.path.dirname(real) != os.path.realpath(self.root):
            raise UnsafePathError(
                f"session folder {self.profile} leads to {real}, outside session_path {self.root}: refusing to "
                "clean it; replace the link with the folder itself, or point session_path at the folder holding it"
            )

    def _refuse_if_held(self, lock: LockInfo, own_pids: frozenset[int]) -> None:
        if lock.kind != "live" or _is_own(lock.pid, own_pids):
            return
        raise SessionBusyError(
            f"session {self.profile} is in use: {_describe_live_lock(lock)}; stop it first", lock.pid, lock.name
        )

    def _remove_lock_files(self) -> cl.Removal:
        removed = []
        for name in cl.LOCK_NAMES:
            path = self.profile / name
            if os.path.lexists(path):
                with contextlib.suppress(FileNotFoundError):
                    cl.remove_inside(self.profile, path)
                    removed.append(name)
        return cl.Removal(0, tuple(removed), ())

    def _other_sessions_note(self) -> list[str]:
        others = sorted(
            e.name
            for e in list_dir(self.root)
            if e.name.startswith("session") and e.name != self.profile.name and e.is_dir(follow_symlinks=False)
        )
        if not others:
            return []
        return [f"other clients' sessions left in place: {', '.join(others)}"]


# -- module helpers --------------------------------------------------------------------------------


def leveldb_damage(folder: Path) -> str | None:
    """Why LevelDB could not read ``folder`` as written, or None when it is sound (or absent: not our call).
    Checks CURRENT, parses the MANIFEST and verifies the checksums of the live logs and tables."""
    return leveldb.damage(folder)


def _merge(a: cl.Removal, b: cl.Removal) -> cl.Removal:
    return cl.Removal(a.freed_bytes + b.freed_bytes, a.removed + b.removed, a.failed + b.failed)
