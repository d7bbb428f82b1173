"""Benchmark: an encrypted login snapshot of a 200 MB profile, and its restore.

Run: ``.venv/bin/python bench/bench_snapshot.py`` (or ``bench/run.py snapshot``). The profile is
``bench_size``'s 200 MB of caches plus a login written in LevelDB's own format: WhatsApp's IndexedDB
holding LOGIN_MB of incompressible values (a heavy account's local database; the worst case for
compression) and Local Storage with ``last-wid-md``. Prints the median time of ``snapshots.take``
(copy the LevelDB way, verify, tar.gz, age-encrypt, fsync, decrypt again and verify) and of
``snapshots.restore`` (decrypt as a stream, unpack beside the profile, verify, swap in), and the
snapshot's size against the profile's.
Goals: snapshot < 1 s, under 10 % of the profile's size (caches are left out).
"""

from __future__ import annotations

import os
import shutil
import statistics
import struct
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_size import build_profile  # noqa: E402
from watui.config import Config, SessionSettings, SnapshotSettings  # noqa: E402
from watui.core import snapshots as sn  # noqa: E402
from watui.core.disk import cleanup as cl  # noqa: E402
from watui.core.disk.leveldb_format import masked_crc  # noqa: E402
from watui.core.disk.login import LOGIN_KEY  # noqa: E402
from watui.core.disk.store import SessionStore  # noqa: E402

LOGIN_MB = 8
RUNS = 3
_BLOCK = 32 * 1024


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _log(records: list[bytes]) -> bytes:
    """A LevelDB log: records split into 32 KiB blocks, each fragment with its masked CRC32C."""
    out = bytearray()
    for record in records:
        first = True
        while True:
            room = _BLOCK - len(out) % _BLOCK
            if room < 7:
                out += b"\0" * room
                room = _BLOCK
            chunk, record = record[: room - 7], record[room - 7 :]
            last = not record
            kind = 1 if first and last else 2 if first else 4 if last else 3
            out += struct.pack("<IHB", masked_crc(bytes([kind]) + chunk), len(chunk), kind) + chunk
            first = False
            if last:
                break
    return bytes(out)


def write_leveldb(folder: Path, pairs: list[tuple[bytes, bytes]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    edit = b"\x01" + _varint(26) + b"leveldb.BytewiseComparator" + b"\x02" + _varint(3) + b"\x03" + _varint(4)
    edit += b"\x04" + _varint(len(pairs))
    (folder / "MANIFEST-000001").write_bytes(_log([edit]))
    (folder / "CURRENT").write_text("MANIFEST-000001\n")
    batches = []
    for seq, (key, value) in enumerate(pairs, start=1):
        batches.append(struct.pack("<QI", seq, 1) + b"\x01" + _varint(len(key)) + key + _varint(len(value)) + value)
    (folder / "000003.log").write_bytes(_log(batches))


def build_login(profile: Path) -> None:
    values = [(f"model-storage/message/{i}".encode(), os.urandom(64 * 1024)) for i in range(LOGIN_MB * 16)]
    write_leveldb(profile / cl.WA_INDEXEDDB, values)
    write_leveldb(profile / cl.LOCAL_STORAGE, [(LOGIN_KEY, b'\x01"15550001234:1@c.us"')])


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
        root = Path(tmp) / "sessions"
        key = Path(tmp) / "id.txt"
        sn.generate_identity(key)
        config = Config(
            session=replace(SessionSettings(), session_path=str(root), client_id="bench", quarantine_keep=1),
            snapshots=SnapshotSettings(identity=str(key), keep=RUNS + 1),
        )
        store = SessionStore(config)
        store.ensure_root()
        build_profile(store.profile)
        build_login(store.profile)
        profile_bytes = store.inspect().size_bytes
        keys = sn.load_keys(config)
        assert keys is not None
        takes, restores = [], []
        snap = None
        for _ in range(RUNS):
            start = time.perf_counter()
            snap = sn.take(config, keys, "closed")
            takes.append(time.perf_counter() - start)
            time.sleep(1.0)  # one snapshot per second: names are stamped to the second
        assert snap is not None
        for _ in range(RUNS):
            shutil.rmtree(store.quarantine_dir, ignore_errors=True)
            start = time.perf_counter()
            sn.restore(config, keys, store, snap)
            restores.append(time.perf_counter() - start)
    share = snap.bytes / profile_bytes * 100
    print(
        f"profile: {profile_bytes / 2**20:.1f} MB on disk, login {snap.plain_bytes / 2**20:.1f} MB, {snap.files} files"
    )
    print(f"snapshot size: {snap.bytes / 2**20:.2f} MB encrypted = {share:.1f} % of the profile (goal: < 10 %)")
    took = median(takes) * 1000
    print(f"snapshot (copy, verify, tar.gz, encrypt, fsync, decrypt, verify): {took:.0f} ms, median of {RUNS} (< 1 s)")
    restored = median(restores) * 1000
    print(f"restore (decrypt as a stream, unpack beside, verify, fsync, swap in): {restored:.0f} ms median of {RUNS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
