"""The verbs that change the session: initialize, reconnect (or take over a conflict), cleanup, clear.

One verb runs at a time (``claim``; a verb that cannot act now raises ActionUnavailable); concurrent
initialize / reconnect calls share one run, retried with backoff, which starts the browser through the
launch gate (watui/core/session/launch.py: validate the disk, quarantine a damaged session, restore a snapshot
before asking for a QR, launch) and waits for the page to settle. ``Verbs`` holds a reference to its
manager: the manager keeps the session's state and the browser steps; this module decides what a verb
does with them.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import TYPE_CHECKING

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from watui.core.errors import ActionUnavailable, InitFailed, SessionBusyError, WatuiError
from watui.core.models import PROBLEM_TOO_LARGE, CleanupReport, ClearReport, ConnectionState, InitResult
from watui.core.snapshots import note_cleared

if TYPE_CHECKING:
    from watui.core.session.manager import SessionManager

S = ConnectionState


class Verbs:
    """The verbs of one manager, and the shared initialize / reconnect run."""

    def __init__(self, manager: SessionManager) -> None:
        self._m = manager
        self.config = manager.config

    async def reconnect(self) -> InitResult:
        """Take over a conflict, or restart the browser on the same profile and connect again."""
        m = self._m
        if m._info.state is S.CONFLICT and m._driver is not None and m._driver.running:
            return await self.take_over()
        return await self.shared_run("reconnect")

    def claim(self, verb: str) -> None:
        """Mark ``verb`` as the one running now, or ActionUnavailable saying why it cannot act."""
        m = self._m
        if not m.can(verb):
            if m._stopping:
                why = "watui is stopping"
            elif m._verb:
                why = f"'{m._verb}' is running"
            elif m._starting:
                why = "the session is starting"
            elif verb == "clear":
                why = "there is no session on disk to clear"
            else:
                why = f"unknown action '{verb}'"
            raise ActionUnavailable(f"cannot {verb} now: {why}")
        m._verb = verb

    async def shared_run(self, verb: str) -> InitResult:
        """Initialize or reconnect; a call while a run is in progress awaits that run's result."""
        m = self._m
        if m._run is not None and not m._run.done():
            return await asyncio.shield(m._run)
        self.claim(verb)
        m._run = asyncio.create_task(self._initialize(verb), name=f"watui-{verb}")
        m._run.add_done_callback(self._release_verb)
        return await asyncio.shield(m._run)

    def _release_verb(self, _task: asyncio.Task[InitResult]) -> None:
        self._m._verb = None

    async def _initialize(self, verb: str) -> InitResult:
        m = self._m
        m._want_running = True
        m._qr_reloads = 0
        m._info = replace(m._info, qr_gave_up=False)
        await m._recovery.cancel()
        m._publish("action", data={"verb": verb, "phase": "start"})
        if verb == "reconnect":
            await m._close_browser()
        notes: list[str] = []
        m._gate.new_run()
        attempts = self.config.session.max_init_retries + 1
        try:
            retrying = AsyncRetrying(
                stop=stop_after_attempt(attempts),
                wait=wait_exponential_jitter(multiplier=1, max=10, jitter=0.5),
                retry=retry_if_exception_type(InitFailed),
                before_sleep=self._announce_init_retry,
                reraise=True,
            )
            async for attempt in retrying:
                with attempt:
                    result = await self._initialize_once(notes)
        except SessionBusyError as exc:
            return m._fail(str(exc))
        except InitFailed as exc:
            await m._close_browser()
            return m._fail(
                f"{exc} ({attempts} attempt{'s' if attempts > 1 else ''}). Check the network and proxy, "
                f"or raise session_timeout_ms in config.toml; press i (watui init) to try again"
            )
        except WatuiError as exc:
            await m._close_browser()
            return m._fail(str(exc))
        finally:
            m._publish("action", data={"verb": verb, "phase": "done"})
        if notes:
            result = replace(result, message=f"{result.message} ({'; '.join(notes)})")
        quarantined = m._gate.quarantined
        if quarantined:
            result = replace(result, quarantined_to=quarantined[0], quarantine_reason=quarantined[1])
        return result

    async def _initialize_once(self, notes: list[str]) -> InitResult:
        m = self._m
        disk = await m.refresh_disk()
        running = m._driver is not None and m._driver.running
        if running and m._info.state in (S.CONNECTED, S.UNPAIRED, S.PAIRING):
            settled = await m._wait_settled(m._load_timeout_s)
            if settled in (S.CONNECTED, S.UNPAIRED):
                return self._result_for(settled)  # nothing to do: already there
        if running and disk.is_damaged:  # the launch gate quarantines it once the browser is stopped
            await m._close_browser()
            running = False
        if running:
            m._set_state(S.OPENING, "reloading WhatsApp Web")
            await m._open_page()
            state = await m._gate.settled(await m._wait_settled(m._load_timeout_s), notes)
        else:
            state = await m._gate.open(notes)  # validate, quarantine, restore before a QR, launch
            disk = m._info.disk or disk  # read by the launch, after its cleanup
            if PROBLEM_TOO_LARGE in disk.problems:
                notes.append(f"{disk.validation_details} after cleanup; consider clearing it")
        if state is None and await m._unrecognised():
            return self._result_for(S.UNRECOGNISED)
        if state is None:
            await m._close_browser()
            raise InitFailed(f"WhatsApp Web did not load within {m._load_timeout_s:g} s")
        return self._result_for(state)

    def _result_for(self, state: ConnectionState) -> InitResult:
        m = self._m
        if state is S.CONNECTED:
            return InitResult(True, False, "Connected to WhatsApp Web", state)
        if state in (S.UNPAIRED, S.UNPAIRED_IDLE):
            return InitResult(False, True, "Scan the QR code with WhatsApp on your phone (Linked devices)", state)
        if state in (S.BLOCKED, S.UNRECOGNISED):
            return InitResult(False, False, m._info.message, state)
        return InitResult(False, False, "WhatsApp is open in another window; reconnect to take over", state)

    def _announce_init_retry(self, retry_state: RetryCallState) -> None:
        m = self._m
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        error = retry_state.outcome.exception() if retry_state.outcome else None
        cause = m._explain(error) if error else "unknown"
        m._publish(
            "retry",
            message=f"initialize attempt {retry_state.attempt_number} failed: {cause}; retrying in {delay:.1f} s",
            data={
                "attempt": retry_state.attempt_number,
                "delay_s": round(delay, 2),
                "verb": "initialize",
                "cause": cause,
            },
        )

    async def take_over(self) -> InitResult:
        """Press WhatsApp Web's 'Use here' on a conflict and wait for the page to settle."""
        m = self._m
        if m._driver is None:
            return InitResult(False, False, "the browser is not running: nothing to take over", m._info.state)
        m._publish("action", message="taking over: Use here", data={"verb": "reconnect", "phase": "start"})
        if not await m._driver.click("conflict_use_here"):
            return InitResult(False, False, "the 'Use here' button was not found", m._info.state)
        state = await m._wait_settled(m._load_timeout_s, ignore={S.CONFLICT})
        return self._result_for(state or m._info.state)

    async def cleanup(self) -> CleanupReport:
        """Remove caches and stale locks. A running browser is closed first and started again after."""
        m = self._m
        self.claim("cleanup")
        was_running = m._driver is not None and m._driver.running
        try:
            if was_running:
                await m._recovery.cancel()
                await m._close_browser()
                m._set_state(S.UNLAUNCHED, "browser closed for cleanup; it starts again after")
            report = await asyncio.to_thread(m.store.cleanup)
            m._publish("action", message=report.message, data={"verb": "cleanup", "phase": "done"})
            await m.refresh_disk()
            return report
        finally:
            m._verb = None
            if was_running:  # also when cleanup was refused: never leave the session down
                m._spawn(m.smart_initialize())

    async def clear(self, purge: bool = False) -> ClearReport:
        """Move the session into quarantine (or delete it with purge); a QR scan is needed after."""
        m = self._m
        self.claim("clear")
        try:
            m._want_running = False
            await m._recovery.cancel()
            await m._close_browser()
            report = await asyncio.to_thread(m.store.clear, purge)
            await asyncio.to_thread(note_cleared, self.config)  # cleared on purpose: never restored by itself
            m._info = replace(m._info, account=None, qr=None, connected_since=None)
            m._set_state(S.UNLAUNCHED, report.message)
            m._publish("action", message=report.message, data={"verb": "clear", "phase": "done"})
            await m.refresh_disk()
            return report
        finally:
            m._verb = None
