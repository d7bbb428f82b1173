"""`pytest -m "not browser"` runs where no Chromium is installed: the `browser` marker follows the fixtures.

tests/conftest.py marks `browser` every test whose fixtures reach ``chromium_path`` (through
``session_layout``, ``other_owner``, the fixtures that start a watui on the simulator, ...). Here the whole
suite's fixtures are set up (``--setup-only``: no test body runs) in a private mount namespace where every
Chromium the browser finder knows is hidden; a test left unmarked that needs one would fail there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from watui.core.browser.chromium import HEADLESS_SHELLS, SYSTEM_CANDIDATES

ROOT = Path(__file__).resolve().parents[2]
# Each executable the finder would pick is covered by /dev/null (not executable) in the namespace only.
HIDE = 'for f in "$@"; do mount --bind /dev/null "$f" || exit 97; done; shift $#; exec '


def without_chromium(command: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run ``command`` in a private mount namespace with no Chromium (PATH, Debian's, Playwright's)."""
    present = [p for p in (*HEADLESS_SHELLS, *SYSTEM_CANDIDATES) if os.path.lexists(p)]
    env = {**os.environ, "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-playwright-browsers")}
    script = HIDE + " ".join(f"'{part}'" for part in command)
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", *present],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_suite_less_browser_tests_needs_no_chromium(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare to hide the browser in a private mount namespace")
    finder = without_chromium([sys.executable, "-m", "watui.core.browser.chromium"], tmp_path)
    if finder.returncode == 97 or "unshare:" in finder.stderr:
        pytest.skip(f"cannot make a private mount namespace here: {finder.stderr.strip()}")
    assert finder.returncode == 1 and "no Chromium found" in finder.stderr, "a Chromium is still visible"

    pytest_run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--snapshot-warn-unused"]
    run = without_chromium([*pytest_run, "-m", "not browser", "--setup-only", "tests"], tmp_path)
    lines = (run.stdout + run.stderr).strip().splitlines()
    tail = "\n".join(line for line in lines if line.startswith("ERROR")) or "\n".join(lines[-15:])
    assert run.returncode == 0, f"a test outside -m browser needs Chromium:\n{tail}"
    summary = lines[-1]  # "1 skipped, 183 deselected in 1.9s": every browser test left out, no error
    assert "deselected" in summary and "error" not in summary, summary
