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
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import crc32c as _crc32c

_BLOCK = 32 * 1024
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
_MASK_DELTA = 0xA282EAD8
_CURRENT_RE = re.compile(r"MANIFEST-(\d+)")
_FILE_RE = re.compile(r"(\d+)\.(log|ldb|sst)")
_TYPE_DELETION, _TYPE_VALUE = 0, 1
_NO_COMPRESSION, _SNAPPY = 0, 1


class Damage(Exception):
    """The folder would not open as it was written: the message says which file and why."""


def _crc(data: bytes) -> int:
    crc = _crc32c.crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


# -- logs --------------------------------------------------------------------------------------------
def log_records(data: bytes, name: str) -> Iterator[bytes]:
    """The records of a LevelDB log (or MANIFEST), checksums verified; raises Damage on a bad one.
    A record cut short by the end of the file (a crash mid-write) ends the log quietly."""
    for record, _ in _log_scan(data, name):
        yield record


def log_end(data: bytes, name: str) -> int:
    """Where the last whole record of a log ends: ``len(data)`` unless a write was cut short at its end
    (a torn tail: part of a record, or the zeros a crash can leave when the file grew but its data was not
    written). LevelDB reads a log only that far; raises Damage like :func:`log_records`."""
    ends = [end for _, end in _log_scan(data, name)]
    return ends[-1] if ends else 0


def _log_scan(data: bytes, name: str) -> Iterator[tuple[bytes, int]]:
    """(record, the byte just past it) for each whole record of a log; raises Damage."""
    pending: bytearray | None = None
    for start in range(0, len(data), _BLOCK):
        block = data[start : start + _BLOCK]
        last_block = start + _BLOCK >= len(data)
        pos = 0
        while pos + _HEADER <= len(block):
            crc, length, kind = struct.unpack_from("<IHB", block, pos)
            if kind == 0 and length == 0:
                # LevelDB skips the rest of a block from a zeroed header on, silently. The writer never
                # leaves one but at the end of the file (it grew, its data was not written): anywhere
                # else the records it hides are lost without a word, and that is damage.
                if not last_block or block.count(0, pos) != len(block) - pos:
                    raise Damage(f"{name}: zeroed record header at byte {start + pos} hides the rest of its block")
                return
            end = pos + _HEADER + length
            if kind not in (_FULL, _FIRST, _MIDDLE, _LAST):
                raise Damage(f"{name}: unknown record type {kind} at byte {start + pos}")
            if end > len(block):
                if last_block:
                    return  # the tail of a write cut short: its header was written, its data not all
                raise Damage(f"{name}: record at byte {start + pos} runs past its block")
            payload = block[pos + _HEADER : end]
            if _crc(bytes([kind]) + payload) != crc:
                raise Damage(f"{name}: checksum mismatch at byte {start + pos}")
            pos = end
            if kind == _FULL:
                if pending is not None:
                    raise Damage(f"{name}: record at byte {start + pos} interrupts a fragmented one")
                yield payload, start + pos
            elif kind == _FIRST:
                if pending is not None:
                    raise Damage(f"{name}: record at byte {start + pos} interrupts a fragmented one")
                pending = bytearray(payload)
            elif kind in (_MIDDLE, _LAST):
                if pending is None:
                    raise Damage(f"{name}: fragment without its start at byte {start + pos}")
                pending += payload
                if kind == _LAST:
                    yield bytes(pending), start + pos
                    pending = None


# -- varints and slices -----------------------------------------------------------------------------
class _Reader:
    def __init__(self, data: bytes, name: str) -> None:
        self.data, self.pos, self.name = data, 0, name

    @property
    def done(self) -> bool:
        return self.pos >= len(self.data)

    def varint(self) -> int:
        result = shift = 0
        while True:
            if self.pos >= len(self.data) or shift > 63:
                raise Damage(f"{self.name}: malformed number")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise Damage(f"{self.name}: field runs past its record")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def slice(self) -> bytes:
        return self.take(self.varint())


# -- the MANIFEST -----------------------------------------------------------------------------------
@dataclass
class Manifest:
    log_number: int = 0
    prev_log_number: int = 0
    tables: set[int] = field(default_factory=set)


def parse_manifest(data: bytes, name: str) -> Manifest:
    """The live tables and logs named by a MANIFEST; raises Damage when it does not parse."""
    out = Manifest()
    records = 0
    for record in log_records(data, name):
        records += 1
        r = _Reader(record, name)
        while not r.done:
            tag = r.varint()
            if tag == 1:  # comparator
                r.slice()
            elif tag == 2:
                out.log_number = r.varint()
            elif tag in (3, 4):  # next file number, last sequence
                r.varint()
            elif tag == 5:  # compact pointer
                r.varint()
                r.slice()
            elif tag == 6:  # deleted file
                r.varint()
                out.tables.discard(r.varint())
            elif tag == 7:  # new file: level, number, size, smallest, largest
                r.varint()
                out.tables.add(r.varint())
                r.varint()
                r.slice()
                r.slice()
            elif tag == 9:
                out.prev_log_number = r.varint()
            else:
                raise Damage(f"{name}: unknown field {tag} in a version edit")
    if records == 0:
        raise Damage(f"{name}: holds no version")
    return out


# -- tables -----------------------------------------------------------------------------------------
def _block(data: bytes, offset: int, size: int, name: str, decode: bool = True) -> bytes:
    """One table block, its checksum verified, decompressed (unless ``decode`` is false: checked only)."""
    if offset < 0 or size < 0 or offset + size + 5 > len(data):
        raise Damage(f"{name}: block at byte {offset} runs past the end of the file")
    body = data[offset : offset + size]
    kind = data[offset + size]
    (crc,) = struct.unpack_from("<I", data, offset + size + 1)
    if _crc(body + bytes([kind])) != crc:
        raise Damage(f"{name}: checksum mismatch in the block at byte {offset}")
    if kind == _NO_COMPRESSION or not decode:
        return body
    if kind == _SNAPPY:
        return snappy_decompress(body, name)
    raise Damage(f"{name}: unknown compression {kind} in the block at byte {offset}")


def _block_entries(block: bytes, name: str) -> Iterator[tuple[bytes, bytes]]:
    if len(block) < 4:
        raise Damage(f"{name}: a block too short to hold its restart count")
    (restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * restarts
    if limit < 0:
        raise Damage(f"{name}: a block's restart array runs past it")
    r = _Reader(block[:limit], name)
    key = b""
    while not r.done:
        shared, unshared, value_len = r.varint(), r.varint(), r.varint()
        if shared > len(key):
            raise Damage(f"{name}: a key shares more than the previous one holds")
        key = key[:shared] + r.take(unshared)
        yield key, r.take(value_len)


def _data_blocks(data: bytes, name: str) -> Iterator[tuple[int, int]]:
    """The (offset, size) of every data block of a table, from its footer and index (both verified)."""
    if len(data) < _FOOTER:
        raise Damage(f"{name}: too short to be a table")
    (magic,) = struct.unpack_from("<Q", data, len(data) - 8)
    if magic != _TABLE_MAGIC:
        raise Damage(f"{name}: not a table (bad magic number)")
    footer = _Reader(data[len(data) - _FOOTER : len(data) - 8], name)
    meta_offset, meta_size = footer.varint(), footer.varint()
    index_offset, index_size = footer.varint(), footer.varint()
    _block(data, meta_offset, meta_size, name, decode=False)
    for _, handle in _block_entries(_block(data, index_offset, index_size, name), name):
        h = _Reader(handle, name)
        yield h.varint(), h.varint()


def verify_table(data: bytes, name: str) -> None:
    """Check every block's checksum without decoding the blocks (a large IndexedDB is read fast)."""
    for offset, size in _data_blocks(data, name):
        _block(data, offset, size, name, decode=False)


def table_entries(data: bytes, name: str) -> Iterator[tuple[bytes, bytes]]:
    """Every (internal key, value) of a table, each block's checksum verified; raises Damage."""
    for offset, size in _data_blocks(data, name):
        yield from _block_entries(_block(data, offset, size, name), name)


def snappy_decompress(data: bytes, name: str = "block") -> bytes:
    """Raw snappy (github.com/google/snappy, ``format_description.txt``); blocks are a few KiB."""
    r = _Reader(data, name)
    size = r.varint()
    out = bytearray()
    src, pos = data, r.pos
    while pos < len(src):
        tag = src[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:
            length = tag >> 2
            if length >= 60:
                extra = length - 59
                length = int.from_bytes(src[pos : pos + extra], "little")
                pos += extra
            length += 1
            if pos + length > len(src):
                raise Damage(f"{name}: compressed literal runs past the block")
            out += src[pos : pos + length]
            pos += length
            continue
        if kind == 1:
            length = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | src[pos]
            pos += 1
        elif kind == 2:
            length = (tag >> 2) + 1
            offset = int.from_bytes(src[pos : pos + 2], "little")
            pos += 2
        else:
            length = (tag >> 2) + 1
            offset = int.from_bytes(src[pos : pos + 4], "little")
            pos += 4
        if offset == 0 or offset > len(out):
            raise Damage(f"{name}: compressed copy points before the start of the block")
        for _ in range(length):  # copies may overlap what they write
            out.append(out[-offset])
    if len(out) != size:
        raise Damage(f"{name}: decompressed to {len(out)} bytes, expected {size}")
    return bytes(out)


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
    if not text.endswith("\n") or not _CURRENT_RE.fullmatch(name):
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
    if best is None or best[1] != _TYPE_VALUE:
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
        match = _FILE_RE.fullmatch(entry)
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
    r = _Reader(record[12:], name)
    for i in range(count):
        kind = r.varint()
        if kind not in (_TYPE_VALUE, _TYPE_DELETION):
            raise Damage(f"{name}: unknown operation {kind} in a write batch")
        key = r.slice()
        value = r.slice() if kind == _TYPE_VALUE else b""
        yield seq + i, kind, key, value
