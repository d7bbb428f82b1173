"""Evidence of a page that no channel recognised: ``<session_path>/diagnostics/<UTC stamp>/``, last 5 kept.

Each folder holds ``screenshot.png``, ``dom-outline.txt`` (tags and attributes, 40 characters of text a
node, never more of a chat), ``probes.json`` (every probe's result) and ``page.json`` (URL, user agent,
``window.Debug.VERSION``, browser). Blocking: call off the event loop.
"""

from __future__ import annotations

import json
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
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = base / stamp
    folder.mkdir(mode=0o700)
    if evidence.png:
        (folder / "screenshot.png").write_bytes(evidence.png)
    (folder / "dom-outline.txt").write_text(evidence.outline, encoding="utf-8")
    (folder / "probes.json").write_text(json.dumps(evidence.probes, indent=1), encoding="utf-8")
    page = {"url": evidence.url, "userAgent": evidence.user_agent, "debugVersion": evidence.wa_version,
            "browser": evidence.browser, "savedAt": stamp}  # fmt: skip
    (folder / "page.json").write_text(json.dumps(page, indent=1), encoding="utf-8")
    for old in sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return folder
