"""BrowserSlot: the session's 0..1 browser: start it, open WhatsApp Web, close or kill it, and say what failed.

The slot holds the one ``BrowserDriver`` of a session (None while no browser runs) and is the only place that
starts or stops one; what the page reports goes to ``on_report``, a browser that died to ``on_closed``.
A page that loaded but that no channel recognises is kept as evidence here (``unrecognised``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from watui.config import Config
from watui.core.browser.contract import PageReport
from watui.core.browser.driver import BrowserDriver
from watui.core.disk.evidence import save_evidence
from watui.core.errors import InitFailed, WatuiError, first_line
from watui.core.models import ConnectionState
from watui.core.session.state import SessionState

log = logging.getLogger(__name__)

S = ConnectionState
PING_BEFORE_RELOAD_S = 5.0  # a browser asked before a reload must answer within this (or heartbeat_timeout_ms)


def answer_within_s(config: Config) -> float:
    """How long a browser asked "do you answer?" outside the heartbeat (before a reload, before calling a
    page unknown) may take: PING_BEFORE_RELOAD_S, or heartbeat_timeout_ms when that is shorter."""
    return min(config.session.heartbeat_timeout_ms / 1000, PING_BEFORE_RELOAD_S)


def explain(exc: BaseException, load_timeout_s: float) -> str:
    """One line an operator can act on, for what a launch or a page load failed with."""
    if isinstance(exc, PlaywrightTimeoutError) and "goto" in str(exc):
        return f"WhatsApp Web did not load within {load_timeout_s:g} s"
    return first_line(exc)


class BrowserSlot:
    """The browser of one session, 0 or 1 at a time."""

    def __init__(
        self,
        config: Config,
        state: SessionState,
        *,
        on_report: Callable[[PageReport], None],
        on_closed: Callable[[str], None],
        on_launched: Callable[[], None],
        clean: Callable[[], object],
        refresh_disk: Callable[[], Awaitable[object]],
        spawn: Callable[[Coroutine[Any, Any, Any]], object],
    ) -> None:
        self.config = config
        self._state = state
        self._on_report = on_report
        self._on_closed = on_closed
        self._on_launched = on_launched
        self._clean = clean
        self._refresh_disk = refresh_disk
        self._spawn = spawn
        self.driver: BrowserDriver | None = None

    @property
    def load_timeout_s(self) -> float:
        """How long WhatsApp Web may take to load or come back (``session_timeout_ms``)."""
        return self.config.session.session_timeout_ms / 1000

    @property
    def running(self) -> bool:
        return self.driver is not None and self.driver.running

    def explain(self, exc: BaseException) -> str:
        return explain(exc, self.load_timeout_s)

    async def launch(self) -> None:
        """Clean caches and stale locks (the browser is stopped: safe), start Chromium, open the page.
        Every launch goes through the launch gate (watui/core/session/launch.py), which checks the disk first."""
        await self.close()
        with contextlib.suppress(WatuiError):  # a refused cleanup is no reason not to start
            await asyncio.to_thread(self._clean)
        if self._state.info.state is not S.RECONNECTING:  # a recovery keeps saying so, with its attempt count
            self._state.set_state(S.OPENING, "starting the browser")
        driver = BrowserDriver(self.config, self._on_report, lambda why: self._closed(driver, why))
        self.driver = driver
        try:
            await driver.launch()
        except WatuiError:
            raise
        except Exception as exc:  # Playwright's errors: the browser did not start
            await self.close()
            raise InitFailed(self.explain(exc)) from exc
        self._state.update(browser=await asyncio.to_thread(driver.sample))
        self._on_launched()
        await self._refresh_disk()  # the profile exists now, locked by our own browser
        await self.open_page()

    async def open_page(self) -> None:
        driver = self.driver
        if driver is None:  # closed under the attempt (a health check gave up on it): retry with a new one
            raise InitFailed("the browser was closed while WhatsApp Web was loading")
        self._state.remember(logout_seen=False)  # a new page: what the last one said is noted already
        try:
            status = await driver.open()
        except Exception as exc:
            raise InitFailed(self.explain(exc)) from exc
        if status is not None and status >= 400:
            raise InitFailed(f"WhatsApp Web answered HTTP {status}")

    async def wait_settled(
        self, timeout_s: float, ignore: frozenset[ConnectionState] | set[ConnectionState] = frozenset()
    ) -> ConnectionState | None:
        """Wait until the page settles (not in ``ignore``); None on timeout or when the browser is gone."""
        return await self._state.wait_settled(timeout_s, ignore, alive=lambda: self.running)

    async def answers(self, driver: BrowserDriver) -> bool:
        """Whether ``driver``'s browser answers a question outside the heartbeat (answer_within_s)."""
        return await driver.ping(answer_within_s(self.config))

    async def unrecognised(self) -> bool:
        """A page loaded but no channel recognised it: keep the evidence, say so (state UNRECOGNISED)."""
        driver = self.driver
        if driver is None or not driver.running or driver.detection is not None or not await driver.page_loaded():
            return False
        if not await self.answers(driver):
            # Not an unknown page: a browser that paints nothing or cannot reach the site (its GPU process or
            # network service stopped) hides what the page shows, a QR read from its pixels first. A new
            # browser, not evidence (it would have no screenshot) and a stop.
            await self.kill()
            raise InitFailed("the browser does not answer (it paints nothing, or cannot reach the site)")
        folder: str | None = None
        try:
            evidence = await driver.collect_evidence()
            folder = str(await asyncio.to_thread(save_evidence, self.config.session_root, evidence))
        except Exception as exc:  # the state matters more than the evidence
            log.warning("could not save the evidence of an unrecognised page: %s", first_line(exc))
        where = f"; evidence in {folder}" if folder else ""
        message = (
            f"WhatsApp Web loaded but watui recognises nothing on it (no channel matched within "
            f"{self.load_timeout_s:g} s){where}. Run 'watui doctor'; the page may have changed"
        )
        self._state.stop_wanting()
        self._state.update(evidence=folder)
        self._state.set_state(S.UNRECOGNISED, message)
        self._state.publish("unrecognised", message=message, data={"evidence": folder})
        return True

    async def reload_qr(self) -> None:
        """Press the expired QR's reload button, once the page had a moment to draw it."""
        await asyncio.sleep(0.5)
        if self.driver is not None and self._state.info.state is S.UNPAIRED_IDLE:
            await self.driver.click("qr_expired")

    async def kill(self) -> None:
        """Kill a browser that does not answer (its own tree and driver: a clean close cannot come)."""
        driver = self.driver
        if driver is not None:
            await driver.close(kill=True)
            if self.driver is driver:
                self.driver = None
                self._state.update(browser=None)

    async def close(self) -> None:
        driver, self.driver = self.driver, None
        if driver is not None:
            await driver.close()
            self._state.update(browser=None)

    def _closed(self, driver: BrowserDriver, reason: str) -> None:
        self._spawn(driver.close())  # stops this driver's Playwright, whatever killed the browser
        if driver is not self.driver:
            return
        self.driver = None
        self._state.update(browser=None, connected_since=None)
        self._on_closed(reason)
