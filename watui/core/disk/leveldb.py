"""Read-only LevelDB, enough to judge a Chromium login folder without a browser: is it sound, and what
does it hold for one key.

Chromium keeps WhatsApp Web's login in two LevelDB folders (the origin's IndexedDB and Local Storage).
When one is damaged Chromium does not refuse it: it drops the records that fail their checksum, or
deletes and recreates the database, and the login is gone without a word. So watui looks first, the way
LevelDB itself reads its files (github.com/google/leveldb, ``doc/log_format.md``, ``doc/table_format.md``):
- ``CURRENT`` names the live ``MANIFEST-*``; the MANIFEST is a log of version edits that name the live
  tables and the live write-ahead log;
- logs (``*.log``, the MANIFEST too) are 32 KiB blocks of records, each with a masked CRC32C;
- tables (``*.ldb``, ``*.sst``) are blocks, each followed by its compression type and a masked CRC32C,
  and a 48-byte footer ending in a magic number.

A record cut short at the very end of a log is what a crash mid-write leaves, and LevelDB reads the log
up to it: that is not damage, but it must be cut back before Chromium appends after it (:func:`torn_tails`).
A checksum that does not match, a MANIFEST that does not parse, a zeroed record header LevelDB would skip
the rest of its block from, or a live table that is missing or fails its checksums is. Everything here
is blocking I/O: callers run it off the loop.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from watui.core.disk.leveldb_format import (
    CURRENT_RE,
    FILE_RE,
    TYPE_DELETION,
    TYPE_VALUE,
    Manifest,
    Reader,
    log_end,
    log_records,
    table_entries,
    verify_table,
)
from watui.core.disk.leveldb_format import Damage as Damage  # callers catch leveldb.Damage
from watui.core.disk.leveldb_format import parse_manifest as parse_manifest  # and read a MANIFEST with it


# -- a folder ---------------------------------------------------------------------------------------
@dataclass
class _Live:
    manifest: Manifest
    logs: list[Path]
    tables: list[Path]
    manifest_path: Path


def _live_files(folder: Path) -> _Live:
    """CURRENT -> MANIFEST -> the live logs and tables, each checked to exist; raises Damage."""
    try:
        text = (folder / "CURRENT").read_bytes()
    except FileNotFoundError:
        raise Damage("no CURRENT file") from None
    except OSError as exc:
        raise Damage(f"CURRENT unreadable ({exc.strerror})") from None
    name = manifest_name(text)
    try:
        data = (folder / name).read_bytes()
    except FileNotFoundError:
        raise Damage(f"CURRENT names {name}, which does not exist") from None
    if not data:
        raise Damage(f"{name} is empty")
    manifest = parse_manifest(data, name)
    live = [folder / n for n in live_files_of(manifest, os.listdir(folder), name)]
    logs = [p for p in live if p.suffix == ".log"]
    return _Live(manifest, logs, [p for p in live if p.suffix != ".log"], folder / name)


def manifest_name(current: bytes) -> str:
    """The MANIFEST a CURRENT file names; raises Damage when it is empty, cut short or garbled."""
    text = current.decode("ascii", "replace")
    if not text:
        raise Damage("CURRENT is empty")
    name = text[:-1]  # LevelDB itself refuses a CURRENT not ending in a newline (a write cut short)
    if not text.endswith("\n") or not CURRENT_RE.fullmatch(name):
        raise Damage("CURRENT is truncated or garbled")
    return name


# Tables never change once written, and a log only grows: a file already verified with the same
# identity and size is not read again (the health check re-reads the disk every half minute).
_verified: dict[tuple[str, int, int, int], bool] = {}


def damage(folder: Path) -> str | None:
    """Why LevelDB would not read ``folder`` as it was written, or None when it is sound (or absent)."""
    if not folder.is_dir():
        return None
    try:
        live = _live_files(folder)
        for path in live.tables + live.logs:
            _verified_once(path)
    except Damage as exc:
        return str(exc)
    except OSError as exc:
        return f"{exc.filename or folder}: unreadable ({exc.strerror or exc})"
    return None


@dataclass(frozen=True)
class TornTail:
    """A log whose last write was cut short: LevelDB reads it only to ``keep`` of its ``size`` bytes."""

    path: Path
    keep: int
    size: int


def torn_tails(folder: Path) -> list[TornTail]:
    """The MANIFEST and live logs of ``folder`` that end in a write cut short (a crash mid-write).

    LevelDB reads such a log up to its last whole record, then (Chromium reuses its logs) appends the next
    records after the torn bytes, and at the following open that log fails its checksum: the records after
    the tear are dropped. Cut back to ``keep`` before Chromium opens the folder, the log stays sound.
    Raises Damage like :func:`damage`; nothing for an absent folder."""
    if not folder.is_dir():
        return []
    live = _live_files(folder)
    out: list[TornTail] = []
    for path in [live.manifest_path, *live.logs]:
        data = path.read_bytes()
        keep = log_end(data, path.name)
        if keep < len(data):
            out.append(TornTail(path, keep, len(data)))
    return out


def _verified_once(path: Path) -> None:
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _verified:
        return
    _check(path.name, path.read_bytes(), decode=False)
    if len(_verified) > 4096:
        _verified.clear()
    _verified[key] = True


def latest_value(folder: Path, user_key: bytes) -> bytes | None:
    """The newest value stored for ``user_key``, None when absent or deleted; raises Damage."""
    live = _live_files(folder)
    return _newest(((p.name, p.read_bytes()) for p in live.tables + live.logs), user_key)


def _check(name: str, data: bytes, decode: bool) -> None:
    """Every record of a log, or every block of a table (decoded too with ``decode``); raises Damage."""
    if name.endswith(".log"):
        for _ in log_records(data, name):
            pass
    elif decode:
        for _ in table_entries(data, name):
            pass
    else:
        verify_table(data, name)


def _newest(files: Iterable[tuple[str, bytes]], user_key: bytes) -> bytes | None:
    """The value of the highest sequence number written for ``user_key`` in these live tables and logs
    (tables first, as LevelDB lists them), None when absent or deleted; raises Damage."""
    best: tuple[int, int, bytes] | None = None
    for name, data in files:
        if name.endswith(".log"):
            for record in log_records(data, name):
                for seq, kind, key, value in _ops_of(record, name):
                    if key == user_key and (best is None or seq >= best[0]):
                        best = (seq, kind, value)
            continue
        for internal, value in table_entries(data, name):
            if internal[:-8] == user_key:
                (trailer,) = struct.unpack_from("<Q", internal, len(internal) - 8)
                if best is None or trailer >> 8 > best[0]:
                    best = (trailer >> 8, trailer & 0xFF, value)
    if best is None or best[1] != TYPE_VALUE:
        return None
    return best[2]


# -- a folder held in memory (a snapshot's copy) --------------------------------------------------------
def live_names(files: Mapping[str, bytes]) -> list[str]:
    """CURRENT, the MANIFEST it names and the live logs and tables of a folder held as ``{name: bytes}``,
    in the order LevelDB reads them; raises Damage like the folder reader does."""
    text = files.get("CURRENT")
    if text is None:
        raise Damage("no CURRENT file")
    name = manifest_name(text)
    data = files.get(name)
    if data is None:
        raise Damage(f"CURRENT names {name}, which does not exist")
    if not data:
        raise Damage(f"{name} is empty")
    return ["CURRENT", name, *live_files_of(parse_manifest(data, name), files, name)]


def live_files_of(manifest: Manifest, names: Iterable[str], manifest_file: str = "the MANIFEST") -> list[str]:
    """The live tables then the live logs (oldest first) among ``names`` that ``manifest`` calls for;
    raises Damage when a live table is not among them."""
    numbered: dict[int, list[tuple[str, str]]] = {}
    for entry in names:
        match = FILE_RE.fullmatch(entry)
        if match:
            numbered.setdefault(int(match.group(1)), []).append((match.group(2), entry))
    tables: list[str] = []
    for number in sorted(manifest.tables):
        found = [n for kind, n in numbered.get(number, []) if kind in ("ldb", "sst")]
        if not found:
            raise Damage(f"{manifest_file} names table {number:06d}.ldb, which does not exist")
        tables.append(found[0])
    keep = {manifest.log_number, manifest.prev_log_number}
    logs = sorted(
        ((number, n) for number, found in numbered.items() for kind, n in found if kind == "log"),
    )
    return tables + [n for number, n in logs if number >= manifest.log_number or number in keep]


def damage_in(files: Mapping[str, bytes]) -> str | None:
    """Why a folder held in memory would not open as it was written, or None when it is sound."""
    try:
        for name in live_names(files)[2:]:
            _check(name, files[name], decode=True)
    except Damage as exc:
        return str(exc)
    return None


def latest_value_in(files: Mapping[str, bytes], user_key: bytes) -> bytes | None:
    """:func:`latest_value` for a folder held in memory; raises Damage."""
    return _newest(((name, files[name]) for name in live_names(files)[2:]), user_key)


def _ops_of(record: bytes, name: str) -> Iterator[tuple[int, int, bytes, bytes]]:
    if len(record) < 12:
        raise Damage(f"{name}: a write batch shorter than its header")
    seq, count = struct.unpack_from("<QI", record, 0)
    r = Reader(record[12:], name)
    for i in range(count):
        kind = r.varint()
        if kind not in (TYPE_VALUE, TYPE_DELETION):
            raise Damage(f"{name}: unknown operation {kind} in a write batch")
        key = r.slice()
        value = r.slice() if kind == TYPE_VALUE else b""
        yield seq + i, kind, key, value
