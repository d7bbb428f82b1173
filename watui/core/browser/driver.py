"""BrowserDriver: launches Chromium on the persistent profile and pushes page state changes to the core.

Async Playwright only. An injected script (:mod:`watui.core.browser.contract`) reports the page's state through
WhatsApp's own module events (modules channel) or a MutationObserver (dom channel), calling back into
Python (``expose_binding``). When a QR canvas is shown but neither yields its payload, the driver
screenshots the canvas and decodes it (pixels channel). The browser's ``close`` and the page's
``crash``/``close`` events are watched too, so the core hears of a change within a second without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from watui.config import Config
from watui.core.browser import contract
from watui.core.browser.chromium import (
    ProcessTree,
    _driver_of,
    _kill_tree,
    _stopped,
    find_browser,
    find_browser_processes,
    launch_args,
    own_pids_of,
    read_driver_death,
)
from watui.core.browser.contract import PageReport
from watui.core.disk.evidence import Evidence
from watui.core.models import Account, BrowserProcess, ConnectionState

log = logging.getLogger(__name__)

BINDING = "__watuiState"
CLOSE_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 3.0  # the Playwright driver answers its stop at once, unless it is hung or stopped
# The driver enforces page.goto's own timeout: a hung or stopped driver would never time out. Our bound.
GOTO_SLACK_S = 5.0
PIXEL_DECODE_INTERVAL_S = 1.0  # at most one screenshot-and-decode of the QR a second


def decode_qr(png: bytes) -> str | None:
    """The text of the QR code in a PNG, decoded as it is (no border added, no inverted retry)."""
    import io

    with Image.open(io.BytesIO(png)) as image:
        results = zxingcpp.read_barcodes(image.convert("L"))
    return results[0].text if results else None


class BrowserDriver:
    """One Chromium on one profile. Callbacks run on the event loop."""

    def __init__(
        self,
        config: Config,
        on_report: Callable[[PageReport], None],
        on_closed: Callable[[str], None],
    ) -> None:
        self.config = config
        self._on_report = on_report
        self._on_closed = on_closed
        self._playwright: Playwright | None = None
        self._context: BrowserContext | None = None
        self._page: Page | None = None
        self._closing = False
        self.pid: int | None = None
        self.driver_pid: int | None = None  # the Playwright driver (node) this browser answers through
        self._navigations = 0  # page loads watui started that have not committed yet
        self.navigated_at = 0.0  # loop time the last of them ended
        self._tree = ProcessTree()  # the samples' CPU baselines
        self.detection: str | None = None  # the channel of the newest report
        self.executable: Path | None = None
        self._raw: dict[str, Any] | None = None  # the newest report as the page sent it
        self._pixel_qr: tuple[str, str] | None = None  # (canvas signature, decoded payload)
        self._decoding: asyncio.Task[None] | None = None
        self._last_decode = 0.0

    @property
    def running(self) -> bool:
        return self._context is not None

    @property
    def page(self) -> Page | None:
        """watui's own WhatsApp Web tab (None: no browser): the messaging service sends through it."""
        return self._page

    async def launch(self) -> None:
        """Start Chromium on the profile, ready to ``open()`` WhatsApp Web."""
        executable = find_browser(self.config.browser.executable, headless=self.config.browser.headless)
        self.executable = executable
        profile = self.config.profile_dir
        profile.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._closing = False
        starter = async_playwright()
        self._playwright = await starter.start()
        read_driver_death(starter)
        try:
            self._context = await self._playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(executable),
                headless=self.config.browser.headless,
                args=launch_args(self.config),
                # Only the simulator's throwaway certificate is ever accepted.
                ignore_https_errors=self.config.sim_port is not None,
                user_agent=self.config.browser.user_agent or None,
                timeout=self.config.session.browser_timeout_ms,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except BaseException:
            await self._stop_playwright()
            raise
        self._context.on("close", lambda _ctx: self._closed("browser closed"))
        wa = self.config.whatsapp
        script = contract.observer_script(BINDING, contract.selectors(wa.selectors), wa.modules, wa.pixels)
        await self._context.expose_binding(BINDING, self._binding)
        # An init script runs again in every document: the channels are re-injected after each navigation.
        await self._context.add_init_script(script)
        self._page = self._context.pages[0] if self._context.pages else await self._context.new_page()
        self._watch_page(self._page)
        self.pid = await asyncio.to_thread(self._main_pid)
        self.driver_pid = await asyncio.to_thread(_driver_of, self.pid)

    async def open(self) -> int | None:
        """(Re)load WhatsApp Web; returns the HTTP status once the response has started.

        States arrive later, by callback.
        """
        page = self._require_page()
        timeout = self.config.session.session_timeout_ms
        loop = asyncio.get_running_loop()
        self._navigations += 1
        try:
            response = await asyncio.wait_for(
                page.goto(self.config.whatsapp.url, wait_until="commit", timeout=timeout),
                timeout / 1000 + GOTO_SLACK_S,
            )
        except TimeoutError:
            raise PlaywrightTimeoutError(
                f"Page.goto: Timeout {timeout}ms exceeded (the browser's driver did not answer)"
            ) from None
        finally:
            self._navigations -= 1
            self.navigated_at = loop.time()
        return response.status if response is not None else None

    @property
    def navigating(self) -> bool:
        """A page load watui started is pending: the page may be silent meanwhile without being frozen
        (the load has its own bound, ``session_timeout_ms``)."""
        return self._navigations > 0

    async def click(self, name: str) -> bool:
        """Do what clicking ``name`` does: through WhatsApp's own module (``Socket.takeover()``,
        ``Cmd.refreshQR()``) when the modules channel is live, else click the selector. True when done."""
        page = self._require_page()
        action = contract.MODULE_ACTIONS.get(name)
        if action is not None and self.detection == "modules":
            with contextlib.suppress(PlaywrightError):
                if await page.evaluate("(a) => !!(window.__watuiAct && window.__watuiAct(a))", action):
                    return True
        selector = contract.selectors(self.config.whatsapp.selectors)[name]
        try:
            await page.click(selector, timeout=2000)
        except PlaywrightError:
            return False
        return True

    async def ping(self, timeout_s: float = 5.0, network_every_s: float = 5.0) -> bool:
        """Whether the whole browser answers within ``timeout_s``: the driver and the renderer (the
        question is evaluated), the compositor in the GPU process (a frame is painted) and the network
        service (a round trip to the site, at most every ``network_every_s``). A renderer that answers
        while the network service or the GPU process is stopped would otherwise look healthy while the
        page has no connection, or shows no QR."""
        if self._page is None:
            return False
        try:
            await asyncio.wait_for(self._page.evaluate(_PING_JS, network_every_s * 1000), timeout_s)
        except (PlaywrightError, TimeoutError):
            return False
        return True

    async def page_loaded(self) -> bool:
        """Whether a document finished loading (so a page that no channel recognises is not the network's fault)."""
        if self._page is None:
            return False
        try:
            state = await asyncio.wait_for(self._page.evaluate("document.readyState"), 5)
        except (PlaywrightError, TimeoutError):
            return False
        return state in ("interactive", "complete")

    async def probe(self) -> list[dict[str, Any]]:
        """Every probe of every channel: ``{channel, probe, matched, value}``."""
        page = self._require_page()
        result: Any = await page.evaluate("window.__watuiProbe ? window.__watuiProbe() : []")
        probes = [dict(p) for p in result] if isinstance(result, list) else []
        probes.append({"channel": "pixels", "probe": "decoded", "matched": self._pixel_qr is not None,
                       "value": self._pixel_qr[1][:40] if self._pixel_qr else None})  # fmt: skip
        return probes

    async def collect_evidence(self) -> Evidence:
        """What a person needs to see why the page was not recognised (nothing beyond 40 characters of text a node)."""
        page = self._require_page()
        png = b""
        with contextlib.suppress(PlaywrightError, TimeoutError):
            png = await page.screenshot(timeout=10000)
        outline = ""
        user_agent = ""
        version: Any = None
        with contextlib.suppress(PlaywrightError):
            outline = str(await page.evaluate(contract.OUTLINE_JS))
            user_agent = str(await page.evaluate("navigator.userAgent"))
            version = await page.evaluate(_VERSION_JS)
        probes: list[dict[str, Any]] = []
        with contextlib.suppress(PlaywrightError):
            probes = await self.probe()
        return Evidence(
            png=png, outline=outline, probes=probes, url=page.url, user_agent=user_agent,
            wa_version=str(version) if version else None,
            browser=str(self.executable) if self.executable else None,
        )  # fmt: skip

    async def close(self, kill: bool = False) -> None:
        """Close Chromium cleanly so the profile is flushed and unlocked.

        A browser that does not close within CLOSE_TIMEOUT_S (hung, or stopped) is killed: otherwise it
        would hold the profile's lock and no new browser could start on it. ``kill``: known frozen, so
        kill it (its own process tree only) without waiting for a clean close that cannot come.
        """
        self._closing = True
        if self._decoding is not None:
            self._decoding.cancel()
        context, self._context, self._page = self._context, None, None
        pid, self.pid = self.pid, None
        driver_pid, self.driver_pid = self.driver_pid, None
        # A stopped driver goes at once with the browser; one that runs is left to stop cleanly (Playwright
        # complains of a driver killed under it), and killed below if it does not.
        stuck = driver_pid if await asyncio.to_thread(_stopped, driver_pid) else None
        if kill or stuck is not None:
            # Known frozen: the browser, or the driver every call goes through. Nothing is asked of it
            # any more (a clean close through a stopped driver only times out).
            await asyncio.to_thread(_kill_tree, pid, stuck)
        elif context is not None:
            try:
                await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_S)
            except (PlaywrightError, TimeoutError):
                await asyncio.to_thread(_kill_tree, pid, stuck)
        try:
            await asyncio.wait_for(self._stop_playwright(), STOP_TIMEOUT_S)
        except TimeoutError:  # a driver that does not stop is hung: killed, never left behind
            await asyncio.to_thread(_kill_tree, None, driver_pid)

    def sample(self) -> BrowserProcess | None:
        """pid, memory and CPU of the browser and its children. Blocking: call off the loop."""
        return self._tree.sample(self.pid, self.executable)

    def own_pids(self) -> frozenset[int]:
        """The browser's pids, so the store does not take our own lock for a foreign one."""
        return own_pids_of(self.pid)

    # -- internals ---------------------------------------------------------------------------------
    def _require_page(self) -> Page:
        if self._page is None:
            raise RuntimeError("browser not running")
        return self._page

    def _watch_page(self, page: Page) -> None:
        page.on("crash", lambda _p: self._closed("page crashed"))
        page.on("close", lambda _p: self._closed("page closed"))

    def _closed(self, reason: str) -> None:
        if self._closing:
            return
        self._closing = True
        self._context, self._page = None, None
        self.pid = None
        self._on_closed(reason)

    async def _binding(self, source: Any, payload: dict[str, Any]) -> None:
        # Only watui's own tab (its top frame) is the session's page: the init script runs in every document
        # of the context, so another tab (a person's, a second WhatsApp Web in "open in another window") or
        # a frame reports too, and must not be taken for the session.
        page = self._page
        if page is None or not isinstance(source, dict):
            return
        top = page.main_frame
        if source.get("page") is not page or source.get("frame") is not top:
            return
        self._raw = payload
        self._on_report(self._report(payload))

    def _report(self, payload: dict[str, Any]) -> PageReport:
        """Turn the page's raw report into watui's terms; start a pixel decode when the QR is unread."""
        channel = payload.get("channel")
        message = ""
        if channel == "modules":
            state, message = contract.map_state(str(payload.get("waState")))
        elif channel == "dom":
            try:
                state = ConnectionState(payload.get("state", "OPENING"))
            except ValueError:
                state = ConnectionState.OPENING
        else:
            channel, state = None, ConnectionState.OPENING
        qr = payload.get("qr") or None
        canvas = payload.get("canvas")
        if qr is None and canvas and state in (ConnectionState.OPENING, ConnectionState.UNPAIRED):
            held = self._pixel_qr
            if held is None or held[0] != canvas:
                self._want_decode(canvas)
            # A redrawn QR is being read (a second or so): the one read before stays until then, as the
            # modules channel keeps its QR until the next payload is built, so the QR does not blink out at
            # every rotation. Only while that read goes on: a drawing that does not decode drops it.
            if held is not None and (held[0] == canvas or self._decoding is not None and not self._decoding.done()):
                qr, state, channel = held[1], ConnectionState.UNPAIRED, "pixels"
        raw = payload.get("account")
        account = Account(name=raw.get("name"), number=raw.get("number")) if isinstance(raw, dict) else None
        self.detection = channel
        wid = payload.get("wid")
        return PageReport(
            state=state,
            qr=qr,
            account=account,
            detection=channel,
            message=message,
            logged_out=payload.get("loggedOut") is True,
            wid=wid if isinstance(wid, str) and wid else None,
        )

    def _want_decode(self, canvas: str) -> None:
        if self._decoding is None or self._decoding.done():
            self._decoding = asyncio.create_task(self._decode_canvas(canvas), name="watui-pixels")

    async def _decode_canvas(self, canvas: str) -> None:
        """Screenshot the QR canvas and decode it: at most once a second, again when it is redrawn,
        a few times for one drawing that did not decode (caught mid-paint)."""
        try:
            await self._decode_until_read(canvas)
        finally:
            raw = self._raw
            current = raw.get("canvas") if raw is not None else None
            if self._pixel_qr is not None and self._pixel_qr[0] != current:
                self._pixel_qr = None  # the QR read last is not on the screen any more: never shown again
                if raw is not None and not self._closing:  # (this task still runs: no new read is started)
                    self._on_report(self._report(raw))

    async def _decode_until_read(self, canvas: str) -> None:
        tries = 0
        while not self._closing and tries < 3:
            loop = asyncio.get_running_loop()
            wait = self._last_decode + PIXEL_DECODE_INTERVAL_S - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_decode = loop.time()
            payload = await self._screenshot_and_decode()
            raw = self._raw
            current = raw.get("canvas") if raw is not None else None
            if payload is not None:
                self._pixel_qr = (canvas, payload)
                if raw is not None and not self._closing:
                    report = self._report(raw)
                    if report.detection == "pixels":
                        self._on_report(report)
            else:
                tries += 1
            if not current or (self._pixel_qr is not None and self._pixel_qr[0] == current):
                return
            if current != canvas:
                canvas, tries = str(current), 0

    async def _screenshot_and_decode(self) -> str | None:
        page = self._page
        if page is None:
            return None
        selector = contract.merged("pixels", self.config.whatsapp.pixels)["qr_canvas"]
        try:
            box: Any = await page.evaluate(_CANVAS_BOX_JS, selector)
            if not box:
                return None
            png = await page.screenshot(clip=box, timeout=5000)
        except (PlaywrightError, TimeoutError):
            return None
        return await asyncio.to_thread(decode_qr, png)

    def _main_pid(self) -> int | None:
        procs = find_browser_processes(self.config.profile_dir)
        return procs[0].pid if procs else None

    async def _stop_playwright(self) -> None:
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()


# The heartbeat's question. Any answer of the network counts, an error too (the site down is the page's
# own state to report): only a request the network service never answers is silence. One request at a
# time: a pending one is waited for again, not repeated.
_PING_JS = """async (networkEveryMs) => {
  const frame = new Promise((painted) => requestAnimationFrame(() => painted()));
  let net = window.__watuiNet;
  if (!net || (net.done && Date.now() - net.at >= networkEveryMs)) {
    net = window.__watuiNet = {done: false, at: Date.now()};
    net.answered = Promise.resolve()  // about:blank has no site to ask: an error, so an answer
      .then(() => fetch(new URL("/favicon.ico", location.href), {cache: "no-store", credentials: "omit"}))
      .then(() => {}, () => {})
      .finally(() => { net.done = true; net.at = Date.now(); });
  }
  await Promise.all([frame, net.answered]);
  return 1;
}"""
_VERSION_JS = "(() => { try { return window.Debug && window.Debug.VERSION || null } catch (e) { return null } })()"
# The largest visible match of the pixels channel's selector, as a screenshot clip.
_CANVAS_BOX_JS = """(selector) => {
  let best = null, area = 0;
  for (const c of document.querySelectorAll(selector)) {
    const r = c.getBoundingClientRect();
    if (r.width * r.height > area) { best = r; area = r.width * r.height; }
  }
  return best && area >= 64 ? {x: best.x, y: best.y, width: best.width, height: best.height} : null;
}"""
