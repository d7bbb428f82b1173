"""whatsapp-web.js, pinned, installed once per machine with npm: the client no one here wrote, for the
interop test and the send benchmark alike."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

WWEBJS_VERSION = "1.34.7"
CHROMIUM = "/usr/bin/chromium"


def install_wwebjs() -> tuple[Path | None, str]:
    """The folder where ``require("whatsapp-web.js")`` resolves to the pinned version (installed there the
    first time, in the user's cache), or None and why it cannot be had here."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "node and npm are needed for whatsapp-web.js"
    if not os.access(CHROMIUM, os.X_OK):
        return None, f"{CHROMIUM} is needed for whatsapp-web.js"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "watui-tests" / f"whatsapp-web.js-{WWEBJS_VERSION}"
    marker = folder / "node_modules" / "whatsapp-web.js" / "package.json"
    if marker.is_file() and json.loads(marker.read_text())["version"] == WWEBJS_VERSION:
        return folder, ""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "package.json").write_text('{"name": "watui-interop", "private": true}\n')
    env = {**os.environ, "PUPPETEER_SKIP_DOWNLOAD": "1"}
    try:
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts", f"whatsapp-web.js@{WWEBJS_VERSION}"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, "npm install of whatsapp-web.js timed out (registry unreachable?)"
    if done.returncode != 0 or not marker.is_file():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return None, f"npm could not install whatsapp-web.js {WWEBJS_VERSION}: {last}"
    return folder, ""
