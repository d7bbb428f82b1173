"""Evidence of a page that no channel recognised: ``<session_path>/diagnostics/<UTC stamp>/``, last 5 kept.

Each folder holds ``screenshot.png``, ``dom-outline.txt`` (tags and attributes, 40 characters of text a
node, never more of a chat), ``probes.json`` (every probe's result) and ``page.json`` (URL, user agent,
``window.Debug.VERSION``, browser). The page's outline and screenshot may show a name or a number: the
folders are the owner's only (0700, files 0600). Blocking: call off the event loop.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEEP = 5
FOLDER = "diagnostics"


@dataclass(frozen=True)
class Evidence:
    png: bytes
    outline: str
    probes: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    user_agent: str = ""
    wa_version: str | None = None
    browser: str | None = None


def save_evidence(session_root: Path, evidence: Evidence, keep: int = KEEP) -> Path:
    """Write one evidence folder and remove all but the newest ``keep``; returns the folder."""
    base = session_root / FOLDER
    base.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(base, 0o700)  # also when an older watui made it with the umask's mode
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = base / stamp
    folder.mkdir(mode=0o700)
    if evidence.png:
        _write_private(folder / "screenshot.png", evidence.png)
    _write_private(folder / "dom-outline.txt", evidence.outline.encode())
    _write_private(folder / "probes.json", json.dumps(evidence.probes, indent=1).encode())
    page = {"url": evidence.url, "userAgent": evidence.user_agent, "debugVersion": evidence.wa_version,
            "browser": evidence.browser, "savedAt": stamp}  # fmt: skip
    _write_private(folder / "page.json", json.dumps(page, indent=1).encode())
    for old in sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only (0600 whatever the umask)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
