"""Liveness: is the session's browser alive, answering, and not too old or too large.

Four loops beside the session, started with it, each a small class handed what it reads and the steps it
may take as callables: the health check (the safety net: a browser that should run and does not is started
again; processes and disk are sampled), the heartbeat (a page that stops answering for
``heartbeat_timeout_ms`` is handed to ``on_frozen``), the process sampling, and the browser recycling (reopen
Chromium on the same profile when it grew too large or too old).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from watui.config import BrowserSettings
from watui.core.browser.driver import BrowserDriver
from watui.core.errors import WatuiError, first_line
from watui.core.models import STATE_MESSAGES, ConnectionState, Health, InitResult, now_utc
from watui.core.session.browser_slot import BrowserSlot
from watui.core.session.state import SessionState

log = logging.getLogger(__name__)

S = ConnectionState
SAMPLE_INTERVAL_S = 5.0  # browser RSS/CPU sampling while it runs
HEARTBEATS_PER_TIMEOUT = 5  # the page is asked this many times within heartbeat_timeout_ms


class Heartbeat:
    """Ask the page a trivial question every fifth of ``timeout_s``; a browser that has not answered for that
    long (a hung renderer, stopped processes) goes to ``on_frozen``. Listens only while ``may_act()``: the
    operator wants a session and no verb owns the browser."""

    def __init__(
        self,
        state: SessionState,
        slot: BrowserSlot,
        may_act: Callable[[], bool],
        on_frozen: Callable[[BrowserDriver, float], Awaitable[None]],
        timeout_s: float,
    ) -> None:
        self._state = state
        self._slot = slot
        self._may_act = may_act
        self._on_frozen = on_frozen
        self.timeout_s = timeout_s
        # Which browser the heartbeat listens to and when (loop time) it last answered.
        self._heard_from: BrowserDriver | None = None
        self._heard_at = 0.0

    def silent_s(self, driver: BrowserDriver) -> float:
        """Seconds since ``driver`` last answered the heartbeat (0 while it is not being listened to).

        Silence while a page load watui started is pending is not a freeze: the page is between two
        documents, and the load has its own bound (``session_timeout_ms``, enforced on our side too). The
        silence counts from the end of the load.
        """
        if driver is not self._heard_from or driver.navigating:
            return 0.0
        return asyncio.get_running_loop().time() - max(self._heard_at, driver.navigated_at)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        timeout = self.timeout_s
        interval = timeout / HEARTBEATS_PER_TIMEOUT
        while True:
            await asyncio.sleep(interval)
            driver = self._slot.driver
            if driver is None or not driver.running or not self._may_act():
                self._heard_from = None  # listen afresh when the verb is done
                continue
            if driver is not self._heard_from:
                self._heard_from, self._heard_at = driver, loop.time()
            try:
                # One question may wait until the deadline: a busy page gets the whole timeout to answer.
                answer_within = max(timeout - self.silent_s(driver), interval)
                if await driver.ping(answer_within, network_every_s=timeout / 2):
                    self._heard_at = loop.time()
                    continue
                silent = self.silent_s(driver)
                if driver is self._slot.driver and silent >= timeout and self._may_act():
                    self._heard_from = None
                    await self._on_frozen(driver, silent)
            except Exception as exc:  # the liveness check must never die
                log.exception("heartbeat failed")
                self._state.publish("error", message=f"heartbeat failed: {first_line(exc)}")


class HealthCheck:
    """The safety net, every ``interval_s``: is the browser alive and answering, and what does the disk look like.

    Whether the page answers is the heartbeat's to say (every few seconds); this check starts a browser
    that should run and does not (``recover``), and samples processes and disk."""

    def __init__(
        self,
        state: SessionState,
        slot: BrowserSlot,
        heartbeat: Heartbeat,
        *,
        interval_s: float,
        should_run: Callable[[], bool],
        recover: Callable[[str], None],
        refresh_disk: Callable[[], Awaitable[object]],
    ) -> None:
        self._state = state
        self._slot = slot
        self._heartbeat = heartbeat
        self._interval_s = interval_s
        self._should_run = should_run  # the operator wants a session and no verb owns the browser
        self._recover = recover
        self._refresh_disk = refresh_disk

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.check()
            except Exception as exc:  # the safety net must never die
                log.exception("health check failed")
                self._state.publish("error", message=f"health check failed: {first_line(exc)}")

    async def check(self) -> Health:
        st = self._state
        driver = self._slot.driver
        reason = ""
        alive = driver is not None and driver.running and self._heartbeat.silent_s(driver) < self._heartbeat.timeout_s
        if driver is not None:
            st.update(browser=await asyncio.to_thread(driver.sample))
        if self._should_run() and driver is None:
            reason = "browser not running"
            self._recover(reason)
        elif driver is not None and not alive:
            reason = "browser not answering"
        elif st.info.state is not S.CONNECTED:
            reason = STATE_MESSAGES.get(st.info.state, st.info.state.value)
        await self._refresh_disk()
        st.update_health(is_healthy=alive and st.info.state is S.CONNECTED, last_check_at=now_utc(), reason=reason)
        st.publish("health")
        return st.info.health


class Sampler:
    """The browser's processes (RSS, CPU) every SAMPLE_INTERVAL_S while it runs, published when they change."""

    def __init__(self, state: SessionState, slot: BrowserSlot) -> None:
        self._state = state
        self._slot = slot

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL_S)
            driver = self._slot.driver
            if driver is None or not driver.running:
                continue
            sample = await asyncio.to_thread(driver.sample)
            if sample != self._state.info.browser:
                self._state.update(browser=sample)
                self._state.publish("health", data={"sample": True})


class Recycler:
    """Chromium's memory only grows: reopen it on the same profile (no QR) above recycle_above_mb or after
    recycle_every_h, when ``quiet()`` (CONNECTED, no verb, no recovery, no snapshot), at most once per
    recycle_min_interval_s. ``reconnect`` is the session's shared reconnect run."""

    def __init__(
        self,
        settings: BrowserSettings,
        state: SessionState,
        slot: BrowserSlot,
        *,
        quiet: Callable[[], bool],
        reconnect: Callable[[], Awaitable[InitResult]],
    ) -> None:
        self._settings = settings
        self._state = state
        self._slot = slot
        self._quiet = quiet
        self._reconnect = reconnect
        self._launched_at: float | None = None  # loop time of the browser's launch (recycle_every_h)
        self._recycled_at: float | None = None

    @property
    def wanted(self) -> bool:
        """Whether recycling is configured at all (its loop runs only then)."""
        return self._settings.recycle_above_mb > 0 or self._settings.recycle_every_h > 0

    def note_launched(self, at: float | None = None) -> None:
        """A new browser started now (or at loop time ``at``): its age counts for recycle_every_h."""
        self._launched_at = asyncio.get_running_loop().time() if at is None else at

    async def run(self) -> None:
        while True:
            await asyncio.sleep(SAMPLE_INTERVAL_S)
            reason = self.reason()
            if reason:
                with contextlib.suppress(WatuiError):
                    await self.recycle(reason)

    def reason(self) -> str | None:
        """Why the browser should be recycled now, or None."""
        settings = self._settings
        now = asyncio.get_running_loop().time()
        if self._state.info.state is not S.CONNECTED or not self._quiet():
            return None
        if self._recycled_at is not None and now - self._recycled_at < settings.recycle_min_interval_s:
            return None
        sample = self._state.info.browser
        mb = sample.rss_bytes / (1024 * 1024) if sample else 0.0
        if settings.recycle_above_mb and mb > settings.recycle_above_mb:
            return f"browser memory {mb:.0f} MB above recycle_above_mb = {settings.recycle_above_mb}"
        age_h = (now - self._launched_at) / 3600 if self._launched_at is not None else 0.0
        if settings.recycle_every_h and age_h >= settings.recycle_every_h:
            return f"browser running for {age_h:.1f} h (recycle_every_h = {settings.recycle_every_h:g})"
        return None

    async def recycle(self, reason: str = "asked") -> InitResult:
        """Close the browser cleanly and reopen it on the same profile (the login is kept: no QR)."""
        st = self._state
        self._recycled_at = asyncio.get_running_loop().time()
        before = st.info.browser
        result = await self._reconnect()
        driver = self._slot.driver
        after = await asyncio.to_thread(driver.sample) if driver is not None else None
        if after is not None:
            st.update(browser=after)
        mb_before = round(before.rss_bytes / (1024 * 1024), 1) if before else None
        mb_after = round(after.rss_bytes / (1024 * 1024), 1) if after else None
        st.publish(
            "recycle",
            message=f"browser recycled ({reason}): {mb_before} MB -> {mb_after} MB; {result.message}",
            data={"reason": reason, "mb_before": mb_before, "mb_after": mb_after, "state": result.state.value},
        )
        return result
