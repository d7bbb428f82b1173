"""Which paths of a Chromium profile are cache and which are the login; cleaning without touching the login.

One table says it (DESIGN.md "The session on disk"). One walk over the profile gives its size on disk,
its file count and what cleanup may remove; :func:`remove_inside` is the only way anything is deleted,
and it refuses a path that resolves outside the folder it is given.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from watui.core.errors import UnsafePathError

# The WhatsApp login: never removed by cleanup, checked by validation.
WA_INDEXEDDB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"
LOCAL_STORAGE = "Default/Local Storage/leveldb"
LOGIN_PATHS: tuple[str, ...] = (WA_INDEXEDDB, LOCAL_STORAGE, "Local State", "Default/Preferences")
LOGIN_LEVELDBS: tuple[str, ...] = (WA_INDEXEDDB, LOCAL_STORAGE)
# What a stored login cannot do without. Local State and Preferences are Chromium's, written late and
# recreated at start: never removed, but their absence is no damage (it must not send a login to quarantine).
LOGIN_REQUIRED: tuple[str, ...] = (WA_INDEXEDDB, LOCAL_STORAGE)

# Caches Chromium rebuilds by itself: safe to remove while the browser is stopped. DESIGN.md's list, plus
# the GPU caches current Chromium writes (Dawn*, GPUPersistentCache), which are the same kind of thing.
CACHE_PATHS: tuple[str, ...] = (
    "Default/Cache",
    "Default/Code Cache",
    "Default/GPUCache",
    "Default/DawnGraphiteCache",
    "Default/DawnWebGPUCache",
    "Default/Service Worker/CacheStorage",
    "Default/Service Worker/ScriptCache",
    "GrShaderCache",
    "ShaderCache",
    "GraphiteDawnCache",
    "GPUPersistentCache",
    "Crashpad",
    "component_crx_cache",
)

# Chromium's profile lock (ProcessSingleton): SingletonLock is a symlink "hostname-pid".
LOCK_NAMES: tuple[str, ...] = ("SingletonLock", "SingletonSocket", "SingletonCookie")

# Temp files: "*.tmp", and what base::ImportantFileWriter leaves behind when Chromium dies mid-write.
TEMP_SUFFIX = ".tmp"
TEMP_PREFIX = ".org.chromium.Chromium."

# Never reached into by cleanup, not even for temp files: every site's IndexedDB (its .blob folders
# belong to the databases) besides the login paths themselves.
KEEP_WHOLE: tuple[str, ...] = ("Default/IndexedDB",)

Zone = Literal["plain", "login", "cache"]
_ZONES: dict[str, Zone] = {
    **{p: "login" for p in LOGIN_PATHS + KEEP_WHOLE},
    **{p: "cache" for p in CACHE_PATHS},
}


def zone_of(rel: str) -> Zone:
    """The zone a path (relative to the profile, '/'-separated) starts, if the table names it."""
    return _ZONES.get(rel, "plain")


def is_temp_name(name: str) -> bool:
    return name.lower().endswith(TEMP_SUFFIX) or name.startswith(TEMP_PREFIX)


@dataclass(frozen=True)
class Removable:
    """Something cleanup may remove: its path relative to the profile, its bytes on disk, why."""

    rel: str
    bytes: int
    kind: Literal["cache", "temp"]


@dataclass
class TreeScan:
    """What one walk of a profile found. Sizes are bytes on disk (st_blocks * 512), as ``du`` counts."""

    size_bytes: int = 0
    file_count: int = 0
    removable: list[Removable] = field(default_factory=list)

    @property
    def removable_bytes(self) -> int:
        return sum(item.bytes for item in self.removable)


class _Walker:
    """Walks a tree with os.scandir, never following symlinks; counts hard-linked files once (like du)."""

    def __init__(self) -> None:
        self.scan = TreeScan()
        self._seen: set[tuple[int, int]] = set()

    def run(self, top: str) -> TreeScan:
        try:
            st = os.stat(top)  # the top itself may be a link to where the profile lives; inside, none is followed
        except OSError:
            return self.scan
        self.scan.size_bytes += st.st_blocks * 512
        if stat.S_ISDIR(st.st_mode):
            self.scan.size_bytes += self._walk(top, "", "plain")
        else:
            self.scan.file_count += 1
        return self.scan

    def _walk(self, path: str, rel: str, zone: Zone) -> int:
        """Bytes under ``path`` (not counting ``path`` itself). Only the plain zone is classified entry by
        entry; a cache or login subtree is summed whole by the fast loop."""
        if zone != "plain":
            return self._sum(path)
        subtotal = 0
        try:
            entries = os.scandir(path)
        except OSError:  # unreadable folder: counted as empty rather than failing the whole report
            return 0
        with entries:
            for entry in entries:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                size = st.st_blocks * 512
                child_rel = f"{rel}/{entry.name}" if rel else entry.name
                child_zone = zone_of(child_rel)
                if stat.S_ISDIR(st.st_mode):
                    size += self._walk(entry.path, child_rel, child_zone)
                else:
                    self.scan.file_count += 1
                    size = self._once(st, size)
                self._note_removable(entry, child_rel, child_zone, st.st_mode, size)
                subtotal += size
        return subtotal

    def _sum(self, top: str) -> int:
        """Bytes under ``top``: the hot loop (20,000 files must take well under a second), kept lean."""
        blocks = 0
        files = 0
        stack = [top]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    else:
                        files += 1
                        if st.st_nlink > 1 and self._once(st, 1) == 0:
                            continue
                    blocks += st.st_blocks
        self.scan.file_count += files
        return blocks * 512

    def _once(self, st: os.stat_result, size: int) -> int:
        """``size`` the first time a hard-linked file is seen, 0 after (du counts it once)."""
        if st.st_nlink < 2:
            return size
        key = (st.st_dev, st.st_ino)
        if key in self._seen:
            return 0
        self._seen.add(key)
        return size

    def _note_removable(self, entry: os.DirEntry[str], rel: str, zone: Zone, mode: int, size: int) -> None:
        if zone == "cache":
            self.scan.removable.append(Removable(rel, size, "cache"))
        elif zone == "plain" and stat.S_ISREG(mode) and is_temp_name(entry.name):
            self.scan.removable.append(Removable(rel, size, "temp"))


def scan_profile(profile: Path) -> TreeScan:
    """Size, file count and the removable caches and temp files of a profile, in one walk."""
    return _Walker().run(str(profile))


def is_inside(boundary: Path, target: Path) -> bool:
    """Whether ``target`` (its folder resolved, the last part not followed) lies strictly inside ``boundary``."""
    real_boundary = os.path.realpath(boundary)
    real_parent = os.path.realpath(target.parent)
    if target.name in ("", ".", ".."):
        return False
    inside_parent = real_parent == real_boundary or real_parent.startswith(real_boundary.rstrip(os.sep) + os.sep)
    return inside_parent and os.path.join(real_parent, target.name) != real_boundary


def remove_inside(boundary: Path, target: Path) -> None:
    """Delete ``target`` (a file, a symlink or a folder tree) only if it lies inside ``boundary``.

    A symlink is unlinked, never followed: its target survives. Folder trees go through shutil.rmtree,
    which on Linux walks by file descriptor and does not follow symlinks inside the tree either.
    """
    if not is_inside(boundary, target):
        raise UnsafePathError(f"refusing to remove {target}: it is not inside {boundary}")
    real = Path(os.path.realpath(target.parent)) / target.name
    st = os.lstat(real)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(real)
    else:
        real.unlink()


@dataclass(frozen=True)
class Removal:
    """The outcome of removing the removable items of a profile."""

    freed_bytes: int
    removed: tuple[str, ...]
    failed: tuple[str, ...]


def remove_items(profile: Path, items: list[Removable]) -> Removal:
    """Remove each item (relative to ``profile``); an item that cannot be removed is reported, not fatal."""
    if os.path.islink(profile):  # its items would lie wherever the link leads: never reach through it
        raise UnsafePathError(f"refusing to clean {profile}: it is a symlink to {os.path.realpath(profile)}")
    freed = 0
    removed: list[str] = []
    failed: list[str] = []
    for item in items:
        if zone_of(item.rel) == "login" or _under_login(item.rel):
            continue  # belt and braces: the walk never offers one
        try:
            remove_inside(profile, profile / item.rel)
        except FileNotFoundError:
            continue
        except OSError as exc:
            failed.append(f"{item.rel} ({exc.strerror or exc})")
            continue
        freed += item.bytes
        removed.append(item.rel)
    return Removal(freed, tuple(removed), tuple(failed))


def _under_login(rel: str) -> bool:
    return any(rel == p or rel.startswith(p + "/") for p in LOGIN_PATHS + KEEP_WHOLE)
