"""The evidence folders of an unrecognised page on disk: what each holds, and only the last 5 kept."""

from __future__ import annotations

import json
from pathlib import Path

from watui.core.evidence import Evidence, save_evidence


def test_evidence_folders_hold_the_files_and_only_the_last_five_are_kept(tmp_path: Path) -> None:
    evidence = Evidence(png=b"\x89PNG fake", outline="<html>\n  <body>", probes=[{"channel": "dom", "matched": False}],
                        url="https://web.whatsapp.com/", user_agent="UA", wa_version="2.3000.1")  # fmt: skip
    folders = [save_evidence(tmp_path, evidence) for _ in range(7)]
    kept = sorted(p.name for p in (tmp_path / "diagnostics").iterdir())
    assert kept == sorted(f.name for f in folders[-5:])  # the newest five, the two oldest removed
    newest = folders[-1]
    assert (newest / "screenshot.png").read_bytes() == b"\x89PNG fake"
    assert (newest / "dom-outline.txt").read_text() == "<html>\n  <body>"
    assert json.loads((newest / "probes.json").read_text()) == [{"channel": "dom", "matched": False}]
    page = json.loads((newest / "page.json").read_text())
    assert (page["url"], page["userAgent"], page["debugVersion"]) == ("https://web.whatsapp.com/", "UA", "2.3000.1")
