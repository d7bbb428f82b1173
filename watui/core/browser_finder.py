"""Which Chromium to drive: ``[browser] executable``, else Playwright's own, else Debian's.

Headless, a headless shell is preferred (Playwright's, then Debian's ``chromium-headless-shell``): about
half the memory of full Chromium and a faster start.

``python -m watui.core.browser_finder`` prints the path found (exit 0) or the one-line advice (exit 1).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from watui.core.errors import BrowserNotFoundError

SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Debian's /usr/bin/chromium-headless-shell is a shell script that does not exec: a shell would stay
# between watui and the browser (a kill would hit the shell). The binary itself comes first.
HEADLESS_SHELLS = ("/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium-headless-shell")
ADVICE = (
    "no Chromium found: install Debian's with 'sudo apt-get install chromium', or run "
    "'playwright install chromium' where Playwright's download site is reachable, or set "
    "[browser] executable in config.toml"
)


def playwright_chromium(headless_shell: bool = False) -> Path | None:
    """Playwright's own Chromium (or its headless shell), when `playwright install` has put one in its cache."""
    base = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    if not base.is_dir():
        return None
    pattern, rels = ("chromium-*", ("chrome-linux64/chrome", "chrome-linux/chrome"))
    if headless_shell:
        pattern, rels = ("chromium_headless_shell-*", ("chrome-headless-shell-linux64/chrome-headless-shell",
                                                       "chrome-linux/headless_shell"))  # fmt: skip
    for folder in sorted(base.glob(pattern), reverse=True):
        for rel in rels:
            exe = folder / rel
            if exe.is_file() and os.access(exe, os.X_OK):
                return exe
    return None


def find_browser(configured: str = "", headless: bool = False) -> Path:
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
    if headless:
        shell = playwright_chromium(headless_shell=True)
        if shell is not None:
            return shell
    own = playwright_chromium()
    if own is not None:
        return own
    for candidate in (HEADLESS_SHELLS if headless else ()) + SYSTEM_CANDIDATES:
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
