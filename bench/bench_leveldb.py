"""Benchmark: checking a large WhatsApp IndexedDB for damage before launch (issue 9, item 3).

Run: ``.venv/bin/python bench/bench_leveldb.py`` (or ``bench/run.py leveldb``). A real Chromium writes
about 100 MB of random records into the IndexedDB of https://web.whatsapp.com (answered by Playwright
itself: no network), twice, so LevelDB compacts them into tables. Then it times ``leveldb.damage()`` (every
live table's block checksums, the MANIFEST, the logs) cold and again (tables are remembered by identity),
and ``stored_login()`` on the Local Storage. Goal: a cold check well under a second per 100 MB.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.layout import run_page_on_profile  # noqa: E402
from watui.core.browser.chromium import find_browser  # noqa: E402
from watui.core.disk import leveldb  # noqa: E402
from watui.core.disk.login import stored_login  # noqa: E402

RECORDS = 3000
PAGE = f"""<!doctype html><script>
localStorage.setItem('last-wid-md', '"15550001111:1@c.us"');
const open = indexedDB.open('model-storage', 1);
open.onupgradeneeded = () => open.result.createObjectStore('msgs');
open.onsuccess = () => {{
  const tx = open.result.transaction('msgs', 'readwrite');
  const store = tx.objectStore('msgs');
  for (let i = 0; i < {RECORDS}; i++) {{
    const a = new Uint8Array(16384); crypto.getRandomValues(a); store.put(a, 'm' + Math.random());
  }}
  tx.oncomplete = () => {{ open.result.close(); document.title = 'stored'; }};
}};
</script>"""
DB = "Default/IndexedDB/https_web.whatsapp.com_0.indexeddb.leveldb"


def main() -> int:
    browser = find_browser("")
    with tempfile.TemporaryDirectory(prefix="watui-bench-leveldb-") as tmp:
        profile = Path(tmp) / "profile"
        start = time.perf_counter()
        for _ in range(2):
            run_page_on_profile(browser, profile, PAGE)
        made = time.perf_counter() - start
        db = profile / DB
        size = int(subprocess.run(["du", "-sb", str(db)], capture_output=True, text=True).stdout.split()[0])
        tables = len(list(db.glob("*.ldb")))
        subprocess.run(["sync"], check=False)
        start = time.perf_counter()
        verdict = leveldb.damage(db)
        cold = time.perf_counter() - start
        start = time.perf_counter()
        leveldb.damage(db)
        warm = time.perf_counter() - start
        start = time.perf_counter()
        login = stored_login(profile)
        read_login = time.perf_counter() - start
        shutil.rmtree(profile, ignore_errors=True)
    print(f"IndexedDB: {size / 2**20:.0f} MB in {tables} tables (Chromium wrote it in {made:.1f} s)")
    print(f"damage check, first: {cold * 1000:.0f} ms ({size / 2**20 / cold:.0f} MB/s); again: {warm * 1000:.1f} ms")
    print(f"stored login found: {login} in {read_login * 1000:.1f} ms; verdict: {verdict or 'sound'}")
    return 0 if verdict is None and login else 1


if __name__ == "__main__":
    sys.exit(main())
