"""The evidence folders of an unrecognised page on disk: what each holds, and only the last 5 kept."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from watui.core.disk.evidence import Evidence, save_evidence


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


def test_evidence_is_readable_by_its_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    evidence = Evidence(png=b"\x89PNG fake", outline="<html>", url="https://web.whatsapp.com/")
    (tmp_path / "diagnostics").mkdir(mode=0o755)  # made by an older watui with the umask's mode
    old = os.umask(0o022)
    try:
        folder = save_evidence(tmp_path, evidence)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "diagnostics").stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["dom-outline.txt", "page.json", "probes.json", "screenshot.png"]
    assert {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files} == {f.name: "0o600" for f in files}
