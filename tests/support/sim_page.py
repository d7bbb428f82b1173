"""Test helpers around the simulator: a real Chromium on a persistent profile pointed at it, and a
reader of the page state that uses the same selector table as watui's driver."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from playwright.async_api import BrowserContext, Page, async_playwright

from watui.config import DESKTOP_USER_AGENT
from watui.core.browser.chromium import find_browser
from watui.core.browser.contract import DEFAULT_SELECTORS, STATE_ORDER
from watui.sim.server import Simulator

WA_URL = "https://web.whatsapp.com/"
SERVER_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_flags(sim: Simulator) -> list[str]:
    flags = [*SERVER_FLAGS, *sim.browser_args()]
    if os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags


@asynccontextmanager
async def sim_browser(
    sim: Simulator, profile: Path, *, open_page: bool = True, ignore_https_errors: bool = True
) -> AsyncIterator[BrowserContext]:
    """A headless Chromium on ``profile`` (a user-data-dir) that sees ``sim`` as web.whatsapp.com.

    With ``open_page`` the first tab has already loaded WhatsApp Web. The context is closed cleanly
    on exit, so the profile on disk is what a normal browser exit leaves. Without
    ``ignore_https_errors`` only the simulator's SPKI pin (in its browser_args) makes the certificate pass.
    """
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(find_browser()),
            headless=True,
            args=chromium_flags(sim),
            ignore_https_errors=ignore_https_errors,
            user_agent=DESKTOP_USER_AGENT,  # the simulator, like the real site, refuses HeadlessChrome
        )
        try:
            if open_page:
                page = context.pages[0] if context.pages else await context.new_page()
                await page.goto(WA_URL)
            yield context
        finally:
            await context.close()


def first_page(context: BrowserContext) -> Page:
    return context.pages[0]


# The driver's rule (contract.STATE_ORDER): the first selector that matches decides the state.
_READ_STATE_JS = """
(() => {
  const sel = SELECTORS;
  for (const [key, state] of ORDER) {
    if (document.querySelector(sel[key])) return state;
  }
  return "OPENING";
})()
""".replace("SELECTORS", json.dumps(DEFAULT_SELECTORS)).replace(
    "ORDER", json.dumps([[k, s.value] for k, s in STATE_ORDER])
)


async def page_state(page: Page) -> str:
    """The state watui's driver would read from this page now."""
    result: Any = await page.evaluate(_READ_STATE_JS)
    return str(result)


async def wait_state(page: Page, state: str, timeout_ms: float = 15000) -> None:
    """Wait until the driver's rule reads ``state`` from the page."""
    expression = f"(want) => {_READ_STATE_JS.strip()} === want"
    await page.wait_for_function(expression, arg=state, timeout=timeout_ms)


async def stored_login(page: Page) -> dict[str, Any]:
    """What the page keeps of its login: the IndexedDB token and the localStorage keys."""
    result: Any = await page.evaluate(
        """async () => {
          const db = await new Promise((ok, ko) => {
            const r = indexedDB.open("wawc", 1);
            r.onupgradeneeded = () => r.result.createObjectStore("user");
            r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error);
          });
          const token = await new Promise((ok, ko) => {
            const r = db.transaction("user").objectStore("user").get("login-token");
            r.onsuccess = () => ok(r.result ?? null); r.onerror = () => ko(r.error);
          });
          db.close();
          return {indexeddb: token, localstorage: localStorage.getItem("WAToken1"),
                  wid: localStorage.getItem("last-wid-md")};
        }"""
    )
    return dict(result)


async def until(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until ``predicate()`` holds (checked every 50 ms); fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
