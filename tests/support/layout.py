"""What the fixtures of ``tests/conftest.py`` give a test, by name: the client id, the session layout, the
writers' types, and the real-Chromium profile maker (a test that makes a profile of its own calls it).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watui.config import Config, load_config

CLIENT_ID = "testbot"
WA_URL = "https://web.whatsapp.com/"
# What the page stores: a localStorage key and an IndexedDB object store, as WhatsApp Web does.
_LOGIN_PAGE = """<!doctype html><html><body>watui test login page<script>
localStorage.setItem('last-wid-md', '15550001111:1@c.us');
const open = indexedDB.open('wawc', 1);
open.onupgradeneeded = () => open.result.createObjectStore('user');
open.onsuccess = () => {
  const tx = open.result.transaction('user', 'readwrite');
  tx.objectStore('user').put('k'.repeat(4096), 'WASecretBundle');
  tx.oncomplete = () => { open.result.close(); document.title = 'stored'; };
};
</script></body></html>"""
BROWSER_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


async def _make_profile(executable: Path, user_data_dir: Path, html: str = _LOGIN_PAGE) -> None:
    """Open ``html`` as https://web.whatsapp.com/ in a real Chromium on ``user_data_dir``; it sets the title
    to 'stored' once its writes are done, then the browser closes cleanly (flushing them to disk)."""
    from playwright.async_api import Route, async_playwright

    async def serve_page(route: Route) -> None:
        await route.fulfill(body=html, content_type="text/html")

    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(executable),
            headless=True,
            args=BROWSER_ARGS + (["--no-sandbox"] if os.geteuid() == 0 else []),
        )
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            await page.route(f"{WA_URL}**", serve_page)
            await page.goto(WA_URL)
            await page.wait_for_function("document.title === 'stored'", timeout=30000)
        finally:
            await context.close()


def run_page_on_profile(executable: Path, user_data_dir: Path, html: str = _LOGIN_PAGE) -> None:
    """:func:`_make_profile` from any test, in its own thread: never inside a running pytest-asyncio loop."""
    failure: list[BaseException] = []

    def build() -> None:
        try:
            asyncio.run(_make_profile(executable, user_data_dir, html))
        except BaseException as exc:  # noqa: BLE001 - re-raised below in the test's thread
            failure.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    worker.join()
    if failure:
        raise failure[0]


@dataclass(frozen=True)
class SessionLayout:
    """One test's session: ``root`` is session_path, ``profile`` the Chromium user-data-dir in it."""

    root: Path
    profile: Path
    config_path: Path

    def config(self) -> Config:
        return load_config(self.config_path)


ConfigWriter = Callable[..., Path]


LockSetter = Callable[..., Path]
