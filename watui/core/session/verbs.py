"""The verbs that change the session: initialize, reconnect (or take over a conflict), cleanup, clear.

One verb runs at a time (``claim``; a verb that cannot act now raises ActionUnavailable); concurrent
initialize / reconnect calls share one run, retried with backoff, which starts the browser through the
launch gate (watui/core/session/launch.py: validate the disk, quarantine a damaged session, restore a snapshot
before asking for a QR, launch) and waits for the page to settle. ``Verbs`` writes the operator's ``Intent``
and is handed the session's state, browser slot, recovery, launch gate and store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from typing import Any

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from watui.config import Config
from watui.core.disk.store import SessionStore
from watui.core.errors import ActionUnavailable, InitFailed, SessionBusyError, WatuiError
from watui.core.models import PROBLEM_TOO_LARGE, CleanupReport, ClearReport, ConnectionState, DiskReport, InitResult
from watui.core.session.browser_slot import BrowserSlot
from watui.core.session.launch import LaunchGate
from watui.core.session.recovery import Recovery
from watui.core.session.state import Intent, SessionState
from watui.core.snapshots import note_cleared

S = ConnectionState
VERBS = ("initialize", "reconnect", "cleanup", "clear")


class Verbs:
    """The verbs of one session, and the shared initialize / reconnect run."""

    def __init__(
        self,
        config: Config,
        state: SessionState,
        slot: BrowserSlot,
        intent: Intent,
        recovery: Recovery,
        gate: LaunchGate,
        store: SessionStore,
        *,
        refresh_disk: Callable[[], Awaitable[DiskReport]],
        spawn: Callable[[Coroutine[Any, Any, Any]], object],
    ) -> None:
        self.config = config
        self._state = state
        self._slot = slot
        self._intent = intent
        self._recovery = recovery
        self._gate = gate
        self._store = store
        self._refresh_disk = refresh_disk
        self._spawn = spawn
        self.run: asyncio.Task[InitResult] | None = None  # the shared initialize/reconnect run

    @property
    def starting(self) -> bool:
        """An initialize or reconnect run is in progress."""
        return self.run is not None and not self.run.done()

    def can(self, verb: str) -> bool:
        """Whether ``verb`` can act now (faces grey out what cannot)."""
        intent = self._intent
        if intent.stopping or verb not in VERBS:
            return False
        if intent.verb in ("cleanup", "clear"):
            return False
        if verb in ("initialize", "reconnect"):
            return True  # joins a run in progress
        if intent.verb is not None or self.starting:
            return False
        if verb == "clear":
            return bool(self._state.info.disk and self._state.info.disk.exists)
        return True

    async def reconnect(self) -> InitResult:
        """Take over a conflict, or restart the browser on the same profile and connect again."""
        if self._state.info.state is S.CONFLICT and self._slot.running:
            return await self.take_over()
        return await self.shared_run("reconnect")

    def claim(self, verb: str) -> None:
        """Mark ``verb`` as the one running now, or ActionUnavailable saying why it cannot act."""
        intent = self._intent
        if not self.can(verb):
            if intent.stopping:
                why = "watui is stopping"
            elif intent.verb:
                why = f"'{intent.verb}' is running"
            elif self.starting:
                why = "the session is starting"
            elif verb == "clear":
                why = "there is no session on disk to clear"
            else:
                why = f"unknown action '{verb}'"
            raise ActionUnavailable(f"cannot {verb} now: {why}")
        intent.verb = verb

    async def shared_run(self, verb: str) -> InitResult:
        """Initialize or reconnect; a call while a run is in progress awaits that run's result."""
        if self.run is not None and not self.run.done():
            return await asyncio.shield(self.run)
        self.claim(verb)
        self.run = asyncio.create_task(self._initialize(verb), name=f"watui-{verb}")
        self.run.add_done_callback(self._release_verb)
        return await asyncio.shield(self.run)

    def _release_verb(self, _task: asyncio.Task[InitResult]) -> None:
        self._intent.verb = None

    async def _initialize(self, verb: str) -> InitResult:
        st = self._state
        self._intent.want_running = True
        st.remember(qr_reloads=0)
        st.update(qr_gave_up=False)
        await self._recovery.cancel()
        st.publish("action", data={"verb": verb, "phase": "start"})
        if verb == "reconnect":
            await self._slot.close()
        notes: list[str] = []
        self._gate.new_run()
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
            return st.fail(str(exc))
        except InitFailed as exc:
            await self._slot.close()
            return st.fail(
                f"{exc} ({attempts} attempt{'s' if attempts > 1 else ''}). Check the network and proxy, "
                f"or raise session_timeout_ms in config.toml; press i (watui init) to try again"
            )
        except WatuiError as exc:
            await self._slot.close()
            return st.fail(str(exc))
        finally:
            st.publish("action", data={"verb": verb, "phase": "done"})
        if notes:
            result = replace(result, message=f"{result.message} ({'; '.join(notes)})")
        quarantined = self._gate.quarantined
        if quarantined:
            result = replace(result, quarantined_to=quarantined[0], quarantine_reason=quarantined[1])
        return result

    async def _initialize_once(self, notes: list[str]) -> InitResult:
        st, slot = self._state, self._slot
        disk = await self._refresh_disk()
        running = slot.running
        if running and st.info.state in (S.CONNECTED, S.UNPAIRED, S.PAIRING):
            settled = await slot.wait_settled(slot.load_timeout_s)
            if settled in (S.CONNECTED, S.UNPAIRED):
                return self._result_for(settled)  # nothing to do: already there
        if running and disk.is_damaged:  # the launch gate quarantines it once the browser is stopped
            await slot.close()
            running = False
        if running:
            st.set_state(S.OPENING, "reloading WhatsApp Web")
            await slot.open_page()
            state = await self._gate.settled(await slot.wait_settled(slot.load_timeout_s), notes)
        else:
            state = await self._gate.open(notes)  # validate, quarantine, restore before a QR, launch
            disk = st.info.disk or disk  # read by the launch, after its cleanup
            if PROBLEM_TOO_LARGE in disk.problems:
                notes.append(f"{disk.validation_details} after cleanup; consider clearing it")
        if state is None and await slot.unrecognised():
            return self._result_for(S.UNRECOGNISED)
        if state is None:
            await slot.close()
            raise InitFailed(f"WhatsApp Web did not load within {slot.load_timeout_s:g} s")
        return self._result_for(state)

    def _result_for(self, state: ConnectionState) -> InitResult:
        if state is S.CONNECTED:
            return InitResult(True, False, "Connected to WhatsApp Web", state)
        if state in (S.UNPAIRED, S.UNPAIRED_IDLE):
            return InitResult(False, True, "Scan the QR code with WhatsApp on your phone (Linked devices)", state)
        if state in (S.BLOCKED, S.UNRECOGNISED):
            return InitResult(False, False, self._state.info.message, state)
        return InitResult(False, False, "WhatsApp is open in another window; reconnect to take over", state)

    def _announce_init_retry(self, retry_state: RetryCallState) -> None:
        delay = retry_state.next_action.sleep if retry_state.next_action else 0.0
        error = retry_state.outcome.exception() if retry_state.outcome else None
        cause = self._slot.explain(error) if error else "unknown"
        self._state.publish(
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
        st, driver = self._state, self._slot.driver
        if driver is None:
            return InitResult(False, False, "the browser is not running: nothing to take over", st.info.state)
        st.publish("action", message="taking over: Use here", data={"verb": "reconnect", "phase": "start"})
        if not await driver.click("conflict_use_here"):
            return InitResult(False, False, "the 'Use here' button was not found", st.info.state)
        state = await self._slot.wait_settled(self._slot.load_timeout_s, ignore={S.CONFLICT})
        return self._result_for(state or st.info.state)

    async def cleanup(self) -> CleanupReport:
        """Remove caches and stale locks. A running browser is closed first and started again after."""
        st = self._state
        self.claim("cleanup")
        was_running = self._slot.running
        try:
            if was_running:
                await self._recovery.cancel()
                await self._slot.close()
                st.set_state(S.UNLAUNCHED, "browser closed for cleanup; it starts again after")
            report = await asyncio.to_thread(self._store.cleanup)
            st.publish("action", message=report.message, data={"verb": "cleanup", "phase": "done"})
            await self._refresh_disk()
            return report
        finally:
            self._intent.verb = None
            if was_running:  # also when cleanup was refused: never leave the session down
                self._spawn(self.shared_run("initialize"))

    async def clear(self, purge: bool = False) -> ClearReport:
        """Move the session into quarantine (or delete it with purge); a QR scan is needed after."""
        st = self._state
        self.claim("clear")
        try:
            self._intent.want_running = False
            await self._recovery.cancel()
            await self._slot.close()
            report = await asyncio.to_thread(self._store.clear, purge)
            await asyncio.to_thread(note_cleared, self.config)  # cleared on purpose: never restored by itself
            st.update(account=None, qr=None, connected_since=None)
            st.set_state(S.UNLAUNCHED, report.message)
            st.publish("action", message=report.message, data={"verb": "clear", "phase": "done"})
            await self._refresh_disk()
            return report
        finally:
            self._intent.verb = None
