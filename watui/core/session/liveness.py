"""Liveness: is the session's browser alive, answering, and not too old or too large.

Four loops beside the manager, started with it: the health check (the safety net: a browser that should
run and does not is started again; processes and disk are sampled), the heartbeat (a page that stops
answering for ``heartbeat_timeout_ms`` is killed and replaced), the process sampling, and the browser
recycling (reopen Chromium on the same profile when it grew too large or too old). ``Liveness`` holds a
reference to its manager: it reads the manager's snapshot and acts through the manager's own steps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from watui.core.browser.driver import BrowserDriver
from watui.core.errors import WatuiError, first_line
from watui.core.models import STATE_MESSAGES, ConnectionState, Health, InitResult, now_utc

if TYPE_CHECKING:
    from watui.core.session.manager import SessionManager

log = logging.getLogger(__name__)

S = ConnectionState
SAMPLE_INTERVAL_S = 5.0  # browser RSS/CPU sampling while it runs
HEARTBEATS_PER_TIMEOUT = 5  # the page is asked this many times within heartbeat_timeout_ms


class Liveness:
    """The health, heartbeat, sampling and recycling loops of one manager."""

    def __init__(self, manager: SessionManager) -> None:
        self._m = manager
        self.config = manager.config
        # Which browser the heartbeat listens to and when (loop time) it last answered.
        self._heard_from: BrowserDriver | None = None
        self._heard_at = 0.0
        self._launched_at: float | None = None  # loop time of the browser's launch (browser recycling)
        self._recycled_at: float | None = None

    def start(self) -> list[asyncio.Task[None]]:
        """Start the loops; the manager cancels the tasks returned on shutdown."""
        loops = [
            asyncio.create_task(self._health_loop(), name="watui-health"),
            asyncio.create_task(self._heartbeat_loop(), name="watui-heartbeat"),
            asyncio.create_task(self._sample_loop(), name="watui-sample"),
        ]
        browser = self.config.browser
        if browser.recycle_above_mb > 0 or browser.recycle_every_h > 0:
            loops.append(asyncio.create_task(self._recycle_loop(), name="watui-recycle"))
        return loops

    def note_launched(self) -> None:
        """A new browser started now (its age counts for recycle_every_h)."""
        self._launched_at = asyncio.get_running_loop().time()

    # -- health ------------------------------------------------------------------------------------
    async def _health_loop(self) -> None:
        interval = self.config.session.health_check_interval_ms / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.check_health()
            except Exception as exc:  # the safety net must never die
                log.exception("health check failed")
                self._m._publish("error", message=f"health check failed: {first_line(exc)}")

    async def check_health(self) -> Health:
        """The safety net: is the browser alive and answering, and what does the disk look like.

        Whether the page answers is the heartbeat's to say (``_heartbeat_loop``, every few seconds);
        this check starts a browser that should run and does not, and samples processes and disk.
        """
        m = self._m
        driver = m._driver
        reason = ""
        alive = driver is not None and driver.running and self._silent_s(driver) < self._heartbeat_timeout_s
        if driver is not None:
            m._info = replace(m._info, browser=await asyncio.to_thread(driver.sample))
        if m._want_running and self._idle and driver is None:
            reason = "browser not running"
            m._recovery.start(reason)
        elif driver is not None and not alive:
            reason = "browser not answering"
        elif m._info.state is not S.CONNECTED:
            reason = STATE_MESSAGES.get(m._info.state, m._info.state.value)
        await m.refresh_disk()
        health = replace(
            m._info.health,
            is_healthy=alive and m._info.state is S.CONNECTED,
            last_check_at=now_utc(),
            reason=reason,
        )
        m._info = replace(m._info, health=health)
        m._publish("health")
        return health

    @property
    def _idle(self) -> bool:
        """No verb in progress: a verb owns the browser and has its own timeouts."""
        m = self._m
        return not m._starting and m._verb is None and not m._stopping

    # -- heartbeat ---------------------------------------------------------------------------------
    @property
    def _heartbeat_timeout_s(self) -> float:
        return self.config.session.heartbeat_timeout_ms / 1000

    def _silent_s(self, driver: BrowserDriver) -> float:
        """Seconds since ``driver`` last answered the heartbeat (0 while it is not being listened to).

        Silence while a page load watui started is pending is not a freeze: the page is between two
        documents, and the load has its own bound (``session_timeout_ms``, enforced on our side too). The
        silence counts from the end of the load.
        """
        if driver is not self._heard_from or driver.navigating:
            return 0.0
        return asyncio.get_running_loop().time() - max(self._heard_at, driver.navigated_at)

    async def _heartbeat_loop(self) -> None:
        """Liveness: ask the page a trivial question every fifth of ``heartbeat_timeout_ms``; a browser
        that has not answered for that long (a hung renderer, stopped processes) is killed and replaced.
        Listens only while the operator wants a session and no verb owns the browser."""
        m = self._m
        loop = asyncio.get_running_loop()
        timeout = self._heartbeat_timeout_s
        interval = timeout / HEARTBEATS_PER_TIMEOUT
        while True:
            await asyncio.sleep(interval)
            driver = m._driver
            if driver is None or not driver.running or not (m._want_running and self._idle):
                self._heard_from = None  # listen afresh when the verb is done
                continue
            if driver is not self._heard_from:
                self._heard_from, self._heard_at = driver, loop.time()
            try:
                # One question may wait until the deadline: a busy page gets the whole timeout to answer.
                answer_within = max(timeout - self._silent_s(driver), interval)
                if await driver.ping(answer_within, network_every_s=timeout / 2):
                    self._heard_at = loop.time()
                    continue
                silent = self._silent_s(driver)
                if driver is m._driver and silent >= timeout and m._want_running and self._idle:
                    await self._replace_frozen(driver, silent)
            except Exception as exc:  # the liveness check must never die
                log.exception("heartbeat failed")
                m._publish("error", message=f"heartbeat failed: {first_line(exc)}")

    async def _replace_frozen(self, driver: BrowserDriver, silent_s: float) -> None:
        m = self._m
        reason = f"browser not answering for {silent_s:.0f} s"
        log.warning("%s (pid %s): killing and replacing it", reason, driver.pid)
        m._publish("error", message=f"{reason}; replacing it")
        self._heard_from = None
        m._info = replace(m._info, connected_since=None)
        m._set_state(S.RECONNECTING, f"{reason}; restarting the browser")
        # Still m._driver while it dies, so that nothing starts another browser on the profile meanwhile.
        await m._kill_browser()  # frozen: a clean close cannot come
        if m._want_running and self._idle:
            m._recovery.start(reason)

    # -- process sampling --------------------------------------------------------------------------
    async def _sample_loop(self) -> None:
        m = self._m
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL_S)
            driver = m._driver
            if driver is None or not driver.running:
                continue
            sample = await asyncio.to_thread(driver.sample)
            if sample != m._info.browser:
                m._info = replace(m._info, browser=sample)
                m._publish("health", data={"sample": True})

    # -- browser recycling -------------------------------------------------------------------------
    async def _recycle_loop(self) -> None:
        """Chromium's memory only grows: reopen it on the same profile (no QR) above recycle_above_mb or after
        recycle_every_h, when CONNECTED and quiet, at most once per recycle_min_interval_s."""
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL_S)
            reason = self._recycle_reason()
            if reason:
                with contextlib.suppress(WatuiError):
                    await self.recycle(reason)

    def _recycle_reason(self) -> str | None:
        m = self._m
        settings = self.config.browser
        now = asyncio.get_running_loop().time()
        quiet = m._info.state is S.CONNECTED and m._verb is None and not m._starting
        recovering = m._recovery.running
        if not quiet or recovering or m._autosnap.busy:
            return None
        if self._recycled_at is not None and now - self._recycled_at < settings.recycle_min_interval_s:
            return None
        sample = m._info.browser
        mb = sample.rss_bytes / (1024 * 1024) if sample else 0.0
        if settings.recycle_above_mb and mb > settings.recycle_above_mb:
            return f"browser memory {mb:.0f} MB above recycle_above_mb = {settings.recycle_above_mb}"
        age_h = (now - self._launched_at) / 3600 if self._launched_at is not None else 0.0
        if settings.recycle_every_h and age_h >= settings.recycle_every_h:
            return f"browser running for {age_h:.1f} h (recycle_every_h = {settings.recycle_every_h:g})"
        return None

    async def recycle(self, reason: str = "asked") -> InitResult:
        """Close the browser cleanly and reopen it on the same profile (the login is kept: no QR)."""
        m = self._m
        self._recycled_at = asyncio.get_running_loop().time()
        before = m._info.browser
        result = await m._verbs.shared_run("reconnect")
        driver = m._driver
        after = await asyncio.to_thread(driver.sample) if driver is not None else None
        if after is not None:
            m._info = replace(m._info, browser=after)
        mb_before = round(before.rss_bytes / (1024 * 1024), 1) if before else None
        mb_after = round(after.rss_bytes / (1024 * 1024), 1) if after else None
        m._publish(
            "recycle",
            message=f"browser recycled ({reason}): {mb_before} MB -> {mb_after} MB; {result.message}",
            data={"reason": reason, "mb_before": mb_before, "mb_after": mb_after, "state": result.state.value},
        )
        return result
