"""The end-to-end tests' own fixtures (the shared ones are in tests/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.messaging_e2e import Owner, Site, connected_owner, running_site
from tests.support.tmux import Tmux


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    """A private tmux server (its own socket) for this test, killed at its end."""
    server = Tmux(f"watui-test-{os.getpid()}-{tmp_path.name}")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    """`watui sim` as its own process (the site outlives watui), its logins in ``tmp_path``."""
    with running_site(tmp_path) as running:
        yield running


@pytest.fixture
def owner(tmp_path: Path, site: Site, chromium_path: Path) -> Iterator[Owner]:
    """A `watch` owner on ``site``, connected (the QR scanned on the site)."""
    with connected_owner(tmp_path / "work", site) as watui:
        yield watui
