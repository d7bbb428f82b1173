"""``<session_path>/.quarantine/``: where watui moves what it will not delete.

A damaged profile, an old seed-era session folder, the bytes cut from a torn LevelDB log: each goes here
as ``<name>-<YYYYmmdd-HHMMSS>[-N]``, the newest ``quarantine_keep`` copies of a name kept. Blocking I/O.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from pathlib import Path

from watui.core.disk import cleanup as cl
from watui.core.disk import leveldb
from watui.core.disk.folders import list_dir, make_private_dirs, write_durably
from watui.core.disk.locks import _describe_live_lock, read_lock
from watui.core.errors import UnsafePathError
from watui.core.models import LockInfo

log = logging.getLogger("watui.core.disk.store")

QUARANTINE = ".quarantine"
OLD_SESSION_PREFIX = "whatsapp-session"  # the seed system's session folders


class Quarantine:
    """The quarantine folder of the session root ``root``; ``keep`` copies of each name survive a prune."""

    def __init__(self, root: Path, keep: int) -> None:
        self.root = root
        self.dir = root / QUARANTINE
        self.keep = keep

    def move_aside_old_sessions(self) -> tuple[list[str], list[str]]:
        """Old seed-era folders (``whatsapp-session*``) inside session_path go to quarantine, whole,
        unless a live browser still uses them. Returns (moved, notes)."""
        moved: list[str] = []
        notes: list[str] = []
        for entry in list_dir(self.root):
            if not (entry.name.startswith(OLD_SESSION_PREFIX) and entry.is_dir(follow_symlinks=False)):
                continue
            held = held_inside(Path(entry.path))
            if held is not None:
                notes.append(f"old session folder {entry.name} left in place: {_describe_live_lock(held)}")
                continue
            dest = self.move_in(Path(entry.path))
            moved.append(f"{entry.name} -> {QUARANTINE}/{dest.name}")
        return moved, notes

    def cut_torn_tails(self, profile: Path) -> list[str]:
        """Cut each login log whose last write was cut short (a crash mid-write) back to its last whole
        record, the way LevelDB reads it, before Chromium opens the folder: Chromium appends to its last
        log, after the torn bytes, and the next read of that log fails its checksum. The cut bytes are
        kept in ``.quarantine/<profile>-torn-<time>/`` (fsync'd before the log is cut)."""
        notes: list[str] = []
        dest: Path | None = None
        for rel in cl.LOGIN_LEVELDBS:
            try:
                torn = leveldb.torn_tails(profile / rel)
            except (leveldb.Damage, OSError):
                continue  # damage is for inspect to report and init to quarantine, never to cut
            for tail in torn:
                with open(tail.path, "r+b") as log_file:
                    data = log_file.read()
                    if len(data) != tail.size:
                        continue  # written since it was read: not ours to cut
                    if dest is None:
                        dest = self.new_place(f"{profile.name}-torn")
                        make_private_dirs(dest)
                    kept = dest / rel / tail.path.name
                    write_durably(kept, data[tail.keep :], self.root)
                    log_file.truncate(tail.keep)
                    os.fsync(log_file.fileno())
                note = (
                    f"cut the torn last write of {rel}/{tail.path.name} back to its last whole record "
                    f"({tail.size - tail.keep} bytes kept in {kept})"
                )
                log.warning("%s: %s", profile, note)
                notes.append(note)
        if dest is not None:
            with contextlib.suppress(OSError):
                (dest / "WATUI-QUARANTINE.txt").write_text(
                    f"cut by watui at {time.strftime('%Y-%m-%d %H:%M:%S %Z')} from {profile}\n"
                    "Each file holds the bytes cut from the end of the LevelDB log of the same name (a write cut "
                    "short by a crash, which LevelDB does not read).\nTo put them back, with the browser stopped: "
                    "cat <this file> >> <the log>\n"
                )
            self.prune(f"{profile.name}-torn")
        return notes

    def new_place(self, name: str) -> Path:
        """A new name ``<name>-<YYYYmmdd-HHMMSS>[-N]`` in the quarantine folder (which is created)."""
        make_private_dirs(self.dir)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        base = f"{name}-{stamp}"
        # Same second as an earlier move: number it after the highest one, even if older ones were pruned,
        # so the order of the names stays the order of the moves.
        taken = [copy_number(e.name, base) for e in list_dir(self.dir)]
        highest = max((n for n in taken if n is not None), default=0)
        return self.dir / (base if highest == 0 else f"{base}-{highest + 1}")

    def move_in(self, folder: Path) -> Path:
        dest = self.new_place(folder.name)
        if not (cl.is_inside(self.root, folder) and cl.is_inside(self.root, dest)):
            raise UnsafePathError(f"refusing to move {folder}: it is not inside {self.root}")
        if os.path.lexists(dest):
            raise FileExistsError(f"{dest} already exists")
        os.rename(folder, dest)
        return dest

    def prune(self, name: str) -> list[Path]:
        """Delete all but the newest ``quarantine_keep`` quarantined copies of ``name``."""
        pattern = re.compile(rf"^{re.escape(name)}-(\d{{8}}-\d{{6}})(?:-(\d+))?$")
        found: list[tuple[str, int, Path]] = []
        for entry in list_dir(self.dir):
            match = pattern.match(entry.name)
            if match and entry.is_dir(follow_symlinks=False):
                found.append((match.group(1), int(match.group(2) or 1), Path(entry.path)))
        found.sort(reverse=True)
        doomed = [path for _, _, path in found[self.keep :]]
        for path in doomed:
            cl.remove_inside(self.dir, path)
        return doomed


def copy_number(name: str, base: str) -> int | None:
    """1 for ``base`` itself, N for ``base-N``, None for any other name."""
    if name == base:
        return 1
    suffix = name[len(base) + 1 :] if name.startswith(base + "-") else ""
    return int(suffix) if suffix.isdigit() else None


def held_inside(folder: Path) -> LockInfo | None:
    """A live lock on ``folder`` or on a LocalAuth session folder in it, if any."""
    candidates = [folder] + [Path(e.path) for e in list_dir(folder) if e.name.startswith("session")]
    for candidate in candidates:
        lock = read_lock(candidate)
        if lock.kind == "live":
            return lock
    return None
