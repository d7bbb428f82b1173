"""Benchmark: the session size scan on a generated 200 MB / 20,000-file profile, beside `du -s`.

Run: ``.venv/bin/python bench/bench_size.py`` (or ``bench/run.py`` for every benchmark). Prints the
median of several warm runs of ``SessionStore.inspect()`` (size, file count, reclaimable bytes, lock and
validity: everything ``watui info`` reads from disk) and of ``du -s`` on the same tree, and their ratio.
Goal: within 2x of du.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from watui.config import Config, SessionSettings  # noqa: E402
from watui.core.disk.store import SessionStore  # noqa: E402

TOTAL_BYTES = 200 * 1024 * 1024
FILES = 20_000
RUNS = 7
# Where Chromium piles up many files: cache folders, code cache, IndexedDB blobs, service workers.
FOLDERS = (
    "Default/Cache/Cache_Data",
    "Default/Code Cache/js",
    "Default/Code Cache/wasm",
    "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.blob/1/00",
    "Default/Service Worker/CacheStorage/abc/def",
    "Default/Service Worker/ScriptCache",
    "Default/GPUCache",
    "Default/Local Storage/leveldb",
)


def build_profile(profile: Path) -> None:
    """FILES files of real (non-sparse) data adding up to TOTAL_BYTES, spread over 40 folders."""
    block = os.urandom(1024 * 1024)
    per_file = TOTAL_BYTES // FILES
    folders = [profile / f"{base}/{n:02d}" for base in FOLDERS for n in range(5)]
    for folder in folders:
        folder.mkdir(parents=True)
    for i in range(FILES):
        offset = (i * 4099) % (len(block) - per_file)
        (folders[i % len(folders)] / f"f_{i:06d}").write_bytes(block[offset : offset + per_file])
    (profile / "Local State").write_text("{}")
    (profile / "Default" / "Preferences").write_text("{}")


def median_seconds(action: object, runs: int = RUNS) -> float:
    assert callable(action)
    action()  # warm the page cache and the dentry cache for both contenders alike
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    if shutil.which("du") is None:
        print("bench_size: du not found", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="watui-bench-") as tmp:
        root = Path(tmp) / "sessions"
        config = Config(session=replace(SessionSettings(), session_path=str(root), client_id="bench"))
        store = SessionStore(config)
        start = time.perf_counter()
        build_profile(store.profile)
        built = time.perf_counter() - start
        report = store.inspect()
        du_bytes = int(
            subprocess.run(
                ["du", "-s", "-B1", str(store.profile)], capture_output=True, text=True, check=True
            ).stdout.split()[0]
        )
        watui_s = median_seconds(store.inspect)
        du_s = median_seconds(lambda: subprocess.run(["du", "-s", str(store.profile)], capture_output=True, check=True))
    print(
        f"profile: {report.file_count:,} files, {report.size_bytes / 2**20:.1f} MB on disk "
        f"(du: {du_bytes / 2**20:.1f} MB), generated in {built:.1f} s"
    )
    print(f"watui SessionStore.inspect(): {watui_s * 1000:.1f} ms (median of {RUNS})")
    print(f"du -s:                        {du_s * 1000:.1f} ms (median of {RUNS})")
    print(f"ratio watui/du:               {watui_s / du_s:.2f}x (goal: <= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
