"""The end-to-end tests' own fixtures (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tmux import Tmux


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server (its own socket) for this test, killed at its end."""
    server = Tmux(f"watui-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield server
    finally:
        server.kill()
