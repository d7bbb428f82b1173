"""BrowserDriver: launches Chromium on the persistent profile and pushes page state changes to the core.

Async Playwright only. The page reports its own state through a MutationObserver that calls back into
Python (``expose_binding``); the browser's ``close`` and the page's ``crash``/``close`` events are
watched too, so the core hears of a change within a second without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from playwright.async_api import BrowserContext, Page, Playwright, async_playwright
from playwright.async_api import Error as PlaywrightError

from watui.config import Config
from watui.core import wa_page
from watui.core.browser_finder import find_browser
from watui.core.models import Account, BrowserProcess, ConnectionState

log = logging.getLogger(__name__)

BINDING = "__watuiState"
CLOSE_TIMEOUT_S = 10.0

# Flags a server needs: no first-run, no phoning home, no GPU, small shared memory is fine.
SERVER_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--mute-audio",
    "--password-store=basic",
)


@dataclass(frozen=True)
class PageReport:
    """What the page says about itself, as read by the selector table."""

    state: ConnectionState
    qr: str | None = None
    account: Account | None = None


def launch_args(config: Config) -> list[str]:
    args = list(SERVER_FLAGS)
    if os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to start as root with its sandbox
    if config.sim_port is not None:
        args.append(f"--host-resolver-rules=MAP web.whatsapp.com 127.0.0.1:{config.sim_port}")
    args.extend(config.browser.extra_args)
    return args


def find_browser_processes(profile: Path) -> list[psutil.Process]:
    """Chromium processes started on ``profile`` (the main process first). Blocking: call off the loop."""
    marker = f"--user-data-dir={profile}"
    main: list[psutil.Process] = []
    children: list[psutil.Process] = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if marker in cmdline:
            (children if any(a.startswith("--type=") for a in cmdline) else main).append(proc)
    return main + children


def _proportional_memory(proc: psutil.Process) -> int:
    """PSS where the kernel gives it: Chromium's processes share most pages, so summed RSS overstates."""
    try:
        return int(getattr(proc.memory_full_info(), "pss", 0)) or int(proc.memory_info().rss)
    except psutil.AccessDenied:
        return int(proc.memory_info().rss)


def _kill_tree(pid: int) -> None:
    """SIGKILL a browser that would not close, with its children (only its own tree: a new browser
    may already be starting on the same profile)."""
    try:
        main = psutil.Process(pid)
        procs = [main, *main.children(recursive=True)]
    except psutil.Error:
        return
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=5)


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
        self._processes: dict[int, psutil.Process] = {}  # kept across samples: CPU baselines
        self._sample_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._context is not None

    async def launch(self) -> None:
        """Start Chromium on the profile, ready to ``open()`` WhatsApp Web."""
        executable = find_browser(self.config.browser.executable)
        profile = self.config.profile_dir
        profile.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._closing = False
        self._playwright = await async_playwright().start()
        try:
            self._context = await self._playwright.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(executable),
                headless=self.config.browser.headless,
                args=launch_args(self.config),
                # Only the simulator's throwaway certificate is ever accepted.
                ignore_https_errors=self.config.sim_port is not None,
                timeout=self.config.session.browser_timeout_ms,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
        except BaseException:
            await self._stop_playwright()
            raise
        self._context.on("close", lambda _ctx: self._closed("browser closed"))
        table = wa_page.selectors(self.config.whatsapp.selectors)
        await self._context.expose_binding(BINDING, self._binding)
        await self._context.add_init_script(wa_page.observer_script(BINDING, table))
        self._page = self._context.pages[0] if self._context.pages else await self._context.new_page()
        self._watch_page(self._page)
        self.pid = await asyncio.to_thread(self._main_pid)

    async def open(self) -> int | None:
        """(Re)load WhatsApp Web; returns the HTTP status once the response has started.

        States arrive later, by callback.
        """
        page = self._require_page()
        timeout = self.config.session.session_timeout_ms
        response = await page.goto(self.config.whatsapp.url, wait_until="commit", timeout=timeout)
        return response.status if response is not None else None

    async def click(self, name: str) -> bool:
        """Click the element of selector ``name`` if it is there; True when clicked."""
        page = self._require_page()
        selector = wa_page.selectors(self.config.whatsapp.selectors)[name]
        try:
            await page.click(selector, timeout=2000)
        except PlaywrightError:
            return False
        return True

    async def ping(self, timeout_s: float = 5.0) -> bool:
        """Whether the page answers a trivial evaluate within ``timeout_s`` (a hung renderer or a
        stopped browser does not). One round trip: cheap enough to ask every few seconds."""
        if self._page is None:
            return False
        try:
            await asyncio.wait_for(self._page.evaluate("1"), timeout_s)
        except (PlaywrightError, TimeoutError):
            return False
        return True

    async def close(self, kill: bool = False) -> None:
        """Close Chromium cleanly so the profile is flushed and unlocked.

        A browser that does not close within CLOSE_TIMEOUT_S (hung, or stopped) is killed: otherwise it
        would hold the profile's lock and no new browser could start on it. ``kill``: known frozen, so
        kill it (its own process tree only) without waiting for a clean close that cannot come.
        """
        self._closing = True
        context, self._context, self._page = self._context, None, None
        pid, self.pid = self.pid, None
        if kill and pid is not None:
            await asyncio.to_thread(_kill_tree, pid)
        if context is not None:
            try:
                await asyncio.wait_for(context.close(), CLOSE_TIMEOUT_S)
            except (PlaywrightError, TimeoutError):
                if pid is not None:
                    await asyncio.to_thread(_kill_tree, pid)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop_playwright(), CLOSE_TIMEOUT_S)

    def sample(self) -> BrowserProcess | None:
        """pid, memory and CPU of the browser and its children. Blocking: call off the loop.

        CPU is measured since the previous sample, so the same ``psutil.Process`` of each pid is kept
        from one sample to the next (a new one has no baseline and reads 0.0).
        """
        pid = self.pid
        if pid is None:
            return None
        with self._sample_lock:  # two samples never overlap (the baselines are shared)
            try:
                main = self._processes.get(pid) or psutil.Process(pid)
                procs = [main, *main.children(recursive=True)]
            except psutil.Error:
                return None
            kept = {proc.pid: self._processes.get(proc.pid, proc) for proc in procs}
            self._processes = kept
            rss = 0
            cpu = 0.0
            for proc in kept.values():
                with contextlib.suppress(psutil.Error):
                    rss += _proportional_memory(proc)
                    cpu += proc.cpu_percent(interval=None)
        return BrowserProcess(pid=pid, rss_bytes=rss, cpu_percent=round(cpu, 1), processes=len(kept))

    def own_pids(self) -> frozenset[int]:
        """The browser's pids, so the store does not take our own lock for a foreign one."""
        if self.pid is None:
            return frozenset()
        try:
            main = psutil.Process(self.pid)
            return frozenset([self.pid, *(c.pid for c in main.children(recursive=True))])
        except psutil.Error:
            return frozenset([self.pid])

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
        try:
            state = ConnectionState(payload.get("state", "OPENING"))
        except ValueError:
            state = ConnectionState.OPENING
        raw = payload.get("account")
        account = Account(name=raw.get("name"), number=raw.get("number")) if raw else None
        self._on_report(PageReport(state=state, qr=payload.get("qr"), account=account))

    def _main_pid(self) -> int | None:
        procs = find_browser_processes(self.config.profile_dir)
        return procs[0].pid if procs else None

    async def _stop_playwright(self) -> None:
        playwright, self._playwright = self._playwright, None
        if playwright is not None:
            with contextlib.suppress(Exception):
                await playwright.stop()
