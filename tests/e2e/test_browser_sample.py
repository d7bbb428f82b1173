"""The browser's CPU figure: measured between two samples of the same processes, so a busy browser
never reads 0.0. A real busy process tree stands in for Chromium (no browser needed)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from watui.config import Config
from watui.core.browser.driver import BrowserDriver

BUSY = "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'while True: pass']); exec('while True: pass')"


@pytest.fixture
def busy_tree() -> Iterator[subprocess.Popen[bytes]]:
    """A process spinning on a CPU, with one child spinning too (as a browser and its renderer)."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY])
    yield proc
    import psutil

    for child in psutil.Process(proc.pid).children(recursive=True):
        child.kill()
    proc.kill()
    proc.wait()


def test_a_busy_browser_reads_its_cpu_not_zero(busy_tree: subprocess.Popen[bytes], tmp_path: Path) -> None:
    driver = BrowserDriver(Config(base_dir=tmp_path), on_report=lambda _r: None, on_closed=lambda _w: None)
    driver.pid = busy_tree.pid
    time.sleep(0.5)  # let the child start
    first = driver.sample()
    time.sleep(1.0)
    second = driver.sample()
    assert first is not None and second is not None
    assert second.processes == 2
    assert second.cpu_percent > 10.0, second  # two spinning processes: far from idle
    assert second.rss_bytes > 0
