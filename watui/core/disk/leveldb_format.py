"""LevelDB's file formats, read-only: the log (and MANIFEST) records, the tables' blocks, Snappy.

The way LevelDB itself reads them (github.com/google/leveldb, ``doc/log_format.md``,
``doc/table_format.md``); ``leveldb.py`` judges a whole folder with these.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

import crc32c as _crc32c

_BLOCK = 32 * 1024
_HEADER = 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4
_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER = 48
_MASK_DELTA = 0xA282EAD8
CURRENT_RE = re.compile(r"MANIFEST-(\d+)")
FILE_RE = re.compile(r"(\d+)\.(log|ldb|sst)")
TYPE_DELETION, TYPE_VALUE = 0, 1
_NO_COMPRESSION, _SNAPPY = 0, 1


class Damage(Exception):
    """The folder would not open as it was written: the message says which file and why."""


def masked_crc(data: bytes) -> int:
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
            if masked_crc(bytes([kind]) + payload) != crc:
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
class Reader:
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
        r = Reader(record, name)
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
    if masked_crc(body + bytes([kind])) != crc:
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
    r = Reader(block[:limit], name)
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
    footer = Reader(data[len(data) - _FOOTER : len(data) - 8], name)
    meta_offset, meta_size = footer.varint(), footer.varint()
    index_offset, index_size = footer.varint(), footer.varint()
    _block(data, meta_offset, meta_size, name, decode=False)
    for _, handle in _block_entries(_block(data, index_offset, index_size, name), name):
        h = Reader(handle, name)
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
    r = Reader(data, name)
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
