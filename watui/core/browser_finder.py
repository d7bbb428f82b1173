"""Which Chromium to drive: ``[browser] executable``, else Playwright's own Chromium, else Debian's.

``python -m watui.core.browser_finder`` prints the path found (exit 0) or the one-line advice (exit 1).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from watui.core.errors import BrowserNotFoundError

SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
ADVICE = (
    "no Chromium found: install Debian's with 'sudo apt-get install chromium', or run "
    "'playwright install chromium' where Playwright's download site is reachable, or set "
    "[browser] executable in config.toml"
)


def playwright_chromium() -> Path | None:
    """Playwright's own Chromium, when `playwright install chromium` has put one in its cache."""
    base = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not base.is_dir():
        return None
    for folder in sorted(base.glob("chromium-*"), reverse=True):
        for rel in ("chrome-linux64/chrome", "chrome-linux/chrome"):
            exe = folder / rel
            if exe.is_file() and os.access(exe, os.X_OK):
                return exe
    return None


def find_browser(configured: str = "") -> Path:
    """The executable to launch; raises BrowserNotFoundError with advice when there is none."""
    if configured:
        path = Path(configured).expanduser()
        if not (path.is_file() and os.access(path, os.X_OK)):
            found = shutil.which(configured)
            if found is None:
                raise BrowserNotFoundError(
                    f"[browser] executable '{configured}' is not an executable file; {ADVICE}"
                )
            path = Path(found)
        return path
    own = playwright_chromium()
    if own is not None:
        return own
    for candidate in SYSTEM_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return Path(candidate)
    raise BrowserNotFoundError(ADVICE)


def main(argv: list[str]) -> int:
    try:
        path = find_browser()
    except BrowserNotFoundError as exc:
        if "--quiet" not in argv:
            print(f"watui: {exc}", file=sys.stderr)
        return 1
    if "--quiet" not in argv:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
