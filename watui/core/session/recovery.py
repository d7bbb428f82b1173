"""Reconnect with backoff: bring a dropped session back by itself, without the operator.

After the page lost its connection or the browser died, each attempt waits for the page to come back (the
first one gives the page's own retry a grace), reloads it, or restarts the browser through the launch
gate (watui/core/session/launch.py: the profile is checked, quarantined and restored as on the first launch); the
delays grow by ``multiplier`` up to ``max_delay_ms`` plus up to ``jitter_ms`` of random delay, and every
wait is announced as a ``retry`` event. Only what the network, the site or the browser can cause is
retried; giving up, or a programming error, ends in FAILED with a message that says why.
``Recovery`` is handed the session's state, its browser slot and the launch gate, each behind the small
interface below (tests/unit/test_backoff.py fakes the browser and records the sleeps).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

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

from watui.config import ReconnectSettings
from watui.core.browser.driver import BrowserDriver
from watui.core.errors import InitFailed, WatuiError, first_line
from watui.core.models import ConnectionState, now_utc
from watui.core.session.browser_slot import explain
from watui.core.session.state import SessionState

log = logging.getLogger(__name__)

S = ConnectionState
# What a reconnect attempt may fail with and be retried: the site, the network, the browser.
RETRYABLE = (InitFailed, PlaywrightError, OSError)


class Slot(Protocol):
    """What a recovery does with the browser (watui/core/session/browser_slot.py's BrowserSlot)."""

    @property
    def driver(self) -> BrowserDriver | None: ...
    async def answers(self, driver: BrowserDriver) -> bool: ...
    async def open_page(self) -> None: ...
    async def wait_settled(
        self, timeout_s: float, ignore: frozenset[ConnectionState] | set[ConnectionState] = ...
    ) -> ConnectionState | None: ...
    async def unrecognised(self) -> bool: ...
    async def kill(self) -> None: ...
    async def close(self) -> None: ...


class Gate(Protocol):
    """How a recovery starts a browser on the disk (watui/core/session/launch.py's LaunchGate)."""

    def new_run(self) -> None: ...
    async def open(self, notes: list[str]) -> ConnectionState | None: ...
    async def settled(self, state: ConnectionState | None, notes: list[str]) -> ConnectionState | None: ...


class Recovery:
    """The one recovery run of a session: started by what the browser reports, cancelled by the verbs."""

    def __init__(
        self,
        state: SessionState,
        slot: Slot,
        policy: ReconnectSettings,
        load_timeout_s: float,
        *,
        gate: Gate,
        starting: Callable[[], bool] = lambda: False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._state = state
        self._slot = slot
        self._gate = gate
        self._policy = policy
        self._load_timeout_s = load_timeout_s
        self._starting = starting  # an initialize runs (it handles what a recovery would)
        self._sleep = sleep
        self.task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def start(self, reason: str) -> None:
        """Start recovering, unless a recovery or an initialize (which handles it) is running already."""
        if self.running:
            return
        if self._starting():
            return  # an initialize in progress handles it
        self.task = asyncio.create_task(self.run(reason), name="watui-recover")

    async def cancel(self) -> None:
        task, self.task = self.task, None
        if task is not None and task is not asyncio.current_task() and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def run(self, reason: str) -> None:
        """Attempt until connected, with backoff; FAILED with the last cause when the attempts are used up."""
        st, rc = self._state, self._policy
        self._gate.new_run()  # this run may quarantine and restore, once, like an initialize
        if self._slot.driver is None:
            st.set_state(S.RECONNECTING, f"{reason}; restarting the browser")
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
            sleep=self._wait,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self.attempt(attempt.retry_state.attempt_number, reason)
        except RETRYABLE as exc:  # every attempt used up: say the last attempt's own cause
            await self._slot.close()
            st.fail(
                f"gave up after {rc.max_attempts} reconnect attempts: {self._explain(exc)}; "
                "press r (watui init) to try again"
            )
        except WatuiError as exc:  # e.g. no browser to start: retrying cannot help
            await self._slot.close()
            st.fail(f"reconnect failed: {exc}")
        except Exception as exc:  # a programming error: in the log with its traceback, never retried
            log.exception("reconnect failed with an internal error")
            await self._slot.close()
            cause = f"{type(exc).__name__}: {first_line(exc)}"
            st.fail(f"reconnect failed with an internal error ({cause}); see the log")

    async def attempt(self, attempt: int, reason: str) -> bool:
        """One attempt: wait for the page, reload it, or restart the browser; InitFailed if it does not come back."""
        st, slot = self._state, self._slot
        if st.info.state is S.CONNECTED:
            return True
        st.update_health(reconnect_attempts=attempt)
        st.publish("health")  # the faces read the attempt in progress from the events, not only at its end
        if slot.driver is None or not slot.driver.running:
            st.set_state(S.RECONNECTING, f"{reason}; restarting the browser (attempt {attempt})")
            # As every launch: the disk is checked first (a profile lost or damaged meanwhile is restored).
            state = await self._gate.open([])
        else:
            # The page retries by itself first; give it the first delay before reloading it.
            grace = max(self._policy.initial_delay_ms / 1000, 1.0)
            if attempt == 1 and await slot.wait_settled(grace, ignore={S.CONFLICT}) is S.CONNECTED:
                return True
            driver = slot.driver  # (it may have died during the grace)
            if driver is None or not await slot.answers(driver):
                # The browser does not answer (a stopped network service or compositor, a hung renderer): a
                # reload would hang the same way, and the heartbeat does not count the silence of a load.
                what = "closed" if driver is None else "does not answer"
                why = f"{reason}; the browser {what}: restarting it (attempt {attempt})"
                st.set_state(S.RECONNECTING, why)
                await slot.kill()
                state = await self._gate.open([])  # as every launch: the disk is checked first
            else:
                st.set_state(S.RECONNECTING, f"{reason}; reloading WhatsApp Web (attempt {attempt})")
                await slot.open_page()
                state = await self._gate.settled(await slot.wait_settled(self._load_timeout_s), [])
        if state is None and await slot.unrecognised():
            return True  # not a connection problem: retrying would only load the same page again
        if state is None:
            raise InitFailed(f"WhatsApp Web did not come back within {self._load_timeout_s:g} s")
        return True  # CONNECTED, or a state that is not a connection problem (logged out, conflict)

    def _explain(self, exc: BaseException) -> str:
        return explain(exc, self._load_timeout_s)

    def _announce_retry(self, retry_state: RetryCallState) -> None:
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        at = now_utc() + timedelta(seconds=delay)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        cause = self._explain(error) if error else "still not connected"
        self._state.update_health(
            reconnect_attempts=retry_state.attempt_number, next_retry_at=at, is_healthy=False, reason=cause
        )
        self._state.publish(
            "retry",
            message=f"reconnect attempt {retry_state.attempt_number} failed: {cause}; next in {delay:.1f} s",
            data={
                "attempt": retry_state.attempt_number,
                "delay_s": round(delay, 2),
                "at": at.isoformat(),
                "cause": cause,
            },
        )

    async def _wait(self, seconds: float) -> None:
        """The wait between two attempts (the state says RECONNECTING while no browser runs)."""
        st = self._state
        if st.info.state is not S.TIMEOUT and self._slot.driver is None:
            st.set_state(S.RECONNECTING, st.info.message)
        await self._sleep(seconds)
        st.update_health(next_retry_at=None)
