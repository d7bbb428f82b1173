"""Reconnect with backoff: bring a dropped session back by itself, without the operator.

After the page lost its connection or the browser died, each attempt waits for the page to come back (the
first one gives the page's own retry a grace), reloads it, or restarts the browser through the launch
gate (watui/core/session/launch.py: the profile is checked, quarantined and restored as on the first launch); the
delays grow by ``multiplier`` up to ``max_delay_ms`` plus up to ``jitter_ms`` of random delay, and every
wait is announced as a ``retry`` event. Only what the network, the site or the browser can cause is
retried; giving up, or a programming error, ends in FAILED with a message that says why.
``Recovery`` holds a reference to its manager and acts through the manager's own steps; the manager's
``_recover``, ``_recover_once`` and ``_retry_sleep`` are the seams (tests replace the last two).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from playwright.async_api import Error as PlaywrightError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_never,
    wait_exponential,
    wait_random,
)

from watui.config import Config
from watui.core.errors import InitFailed, WatuiError, first_line
from watui.core.models import ConnectionState, now_utc

if TYPE_CHECKING:
    from watui.core.session.manager import SessionManager

log = logging.getLogger(__name__)

S = ConnectionState
# What a reconnect attempt may fail with and be retried: the site, the network, the browser.
RETRYABLE = (InitFailed, PlaywrightError, OSError)
PING_BEFORE_RELOAD_S = 5.0  # a browser asked before a reload must answer within this (or heartbeat_timeout_ms)


def answer_within_s(config: Config) -> float:
    """How long a browser asked "do you answer?" outside the heartbeat (before a reload, before calling a
    page unknown) may take: PING_BEFORE_RELOAD_S, or heartbeat_timeout_ms when that is shorter."""
    return min(config.session.heartbeat_timeout_ms / 1000, PING_BEFORE_RELOAD_S)


class Recovery:
    """The one recovery run of a manager: started by what the browser reports, cancelled by the verbs."""

    def __init__(self, manager: SessionManager) -> None:
        self._m = manager
        self.config = manager.config
        self.task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, reason: str) -> None:
        """Start recovering, unless a recovery or an initialize (which handles it) is running already."""
        if self.running:
            return
        if self._m._starting:
            return  # an initialize in progress handles it
        self.task = asyncio.create_task(self._m._recover(reason), name="watui-recover")

    async def cancel(self) -> None:
        task, self.task = self.task, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def run(self, reason: str) -> None:
        """Attempt until connected, with backoff; FAILED with the last cause when the attempts are used up."""
        m = self._m
        rc = self.config.reconnect
        m._gate.new_run()  # this run may quarantine and restore, once, like an initialize
        if m._driver is None:
            m._set_state(S.RECONNECTING, f"{reason}; restarting the browser")
        retrying = AsyncRetrying(
            stop=stop_after_attempt(rc.max_attempts) if rc.max_attempts else stop_never,
            # min(initial * multiplier^(n-1), max) + random(0..jitter): the jitter is added after the cap,
            # so bots that all reached the cap still do not retry in step.
            wait=wait_exponential(
                multiplier=rc.initial_delay_ms / 1000, max=rc.max_delay_ms / 1000, exp_base=rc.multiplier
            )
            + wait_random(0, rc.jitter_ms / 1000),
            # Only what the network, the site or the browser can cause is retried; a bug fails at once.
            retry=retry_if_exception_type(RETRYABLE),
            before_sleep=self._announce_retry,
            sleep=m._retry_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await m._recover_once(attempt.retry_state.attempt_number, reason)
        except RETRYABLE as exc:  # every attempt used up: say the last attempt's own cause
            await m._close_browser()
            m._fail(
                f"gave up after {rc.max_attempts} reconnect attempts: {m._explain(exc)}; "
                "press r (watui init) to try again"
            )
        except WatuiError as exc:  # e.g. no browser to start: retrying cannot help
            await m._close_browser()
            m._fail(f"reconnect failed: {exc}")
        except Exception as exc:  # a programming error: in the log with its traceback, never retried
            log.exception("reconnect failed with an internal error")
            await m._close_browser()
            cause = f"{type(exc).__name__}: {first_line(exc)}"
            m._fail(f"reconnect failed with an internal error ({cause}); see the log")

    async def attempt(self, attempt: int, reason: str) -> bool:
        """One attempt: wait for the page, reload it, or restart the browser; InitFailed if it does not come back."""
        m = self._m
        if m._info.state is S.CONNECTED:
            return True
        m._info = replace(m._info, health=replace(m._info.health, reconnect_attempts=attempt))
        m._publish("health")  # the faces read the attempt in progress from the events, not only at its end
        if m._driver is None or not m._driver.running:
            m._set_state(S.RECONNECTING, f"{reason}; restarting the browser (attempt {attempt})")
            # As every launch: the disk is checked first (a profile lost or damaged meanwhile is restored).
            state = await m._gate.open([])
        else:
            # The page retries by itself first; give it the first delay before reloading it.
            grace = max(self.config.reconnect.initial_delay_ms / 1000, 1.0)
            if attempt == 1 and await m._wait_settled(grace, ignore={S.CONFLICT}) is S.CONNECTED:
                return True
            driver = m._driver  # (it may have died during the grace)
            if driver is None or not await driver.ping(answer_within_s(self.config)):
                # The browser does not answer (a stopped network service or compositor, a hung renderer): a
                # reload would hang the same way, and the heartbeat does not count the silence of a load.
                what = "closed" if driver is None else "does not answer"
                why = f"{reason}; the browser {what}: restarting it (attempt {attempt})"
                m._set_state(S.RECONNECTING, why)
                await m._kill_browser()
                state = await m._gate.open([])  # as every launch: the disk is checked first
            else:
                m._set_state(S.RECONNECTING, f"{reason}; reloading WhatsApp Web (attempt {attempt})")
                await m._open_page()
                state = await m._gate.settled(await m._wait_settled(m._load_timeout_s), [])
        if state is None and await m._unrecognised():
            return True  # not a connection problem: retrying would only load the same page again
        if state is None:
            raise InitFailed(f"WhatsApp Web did not come back within {m._load_timeout_s:g} s")
        return True  # CONNECTED, or a state that is not a connection problem (logged out, conflict)

    def _announce_retry(self, retry_state: RetryCallState) -> None:
        m = self._m
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        at = now_utc() + timedelta(seconds=delay)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        cause = m._explain(error) if error else "still not connected"
        health = replace(
            m._info.health,
            reconnect_attempts=retry_state.attempt_number,
            next_retry_at=at,
            is_healthy=False,
            reason=cause,
        )
        m._info = replace(m._info, health=health)
        m._publish(
            "retry",
            message=f"reconnect attempt {retry_state.attempt_number} failed: {cause}; next in {delay:.1f} s",
            data={
                "attempt": retry_state.attempt_number,
                "delay_s": round(delay, 2),
                "at": at.isoformat(),
                "cause": cause,
            },
        )

    async def sleep(self, seconds: float) -> None:
        """The wait between two attempts (the state says RECONNECTING while no browser runs)."""
        m = self._m
        if m._info.state is not S.TIMEOUT and m._driver is None:
            m._set_state(S.RECONNECTING, m._info.message)
        await asyncio.sleep(seconds)
        m._info = replace(m._info, health=replace(m._info.health, next_retry_at=None))
