"""Run every bench/bench_*.py in turn with this Python and print their figures.

Usage: ``.venv/bin/python bench/run.py [NAME_FILTER]``. Exit status 1 when any benchmark failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    wanted = argv[0] if argv else ""
    scripts = sorted(p for p in HERE.glob("bench_*.py") if wanted in p.stem)
    if not scripts:
        print(f"no bench/bench_*.py matches {wanted!r}", file=sys.stderr)
        return 1
    failed = []
    for script in scripts:
        print(f"== {script.stem} ==", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=HERE.parent)
        took = time.perf_counter() - start
        status = "ok" if result.returncode == 0 else f"FAILED (exit {result.returncode})"
        print(f"-- {script.stem}: {status} in {took:.1f} s\n", flush=True)
        if result.returncode != 0:
            failed.append(script.stem)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
