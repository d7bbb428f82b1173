"""Alerts: rules read from the manager's events, deduplicated, and delivered to the operator.

:class:`AlertRules` is pure (events and a clock in, :class:`Alert` s out): one ``firing`` when a problem
starts and one ``resolved`` when it ends; a rule that fired less than ``repeat_every_s`` ago stays
quiet (neither its firing nor its resolve is sent), so a flapping connection does not flood anyone.

Rules (each alert carries its name as ``alert``): ``disconnected`` (away from CONNECTED, after being
connected, longer than ``down_after_s``, unless a more precise rule below is already firing),
``qr_needed`` (logged out, or a login that expired), ``failed``, ``conflict``, ``unrecognised`` (the
core's ``unrecognised`` event: no page channel recognised WhatsApp Web; the evidence folder is named),
``too_large`` (the session on disk), ``memory`` (browser above ``memory_mb``), ``restarts`` (the connection dropped more
than ``max_restarts_per_hour`` times in the last hour).

Messaging rules, read from the session's :class:`Traffic` (:meth:`AlertRules.on_traffic`, fed by the
journal service when the session declares MESSAGES) and its ``message``/``ack`` events; each threshold 0 is
off: ``outbox_stuck`` (while CONNECTED, a message has waited ``outbox_stuck_s`` and nothing was sent
meanwhile: counted from the latest of the oldest waiting message's acceptance, the connection, the last
send, so a long queue that flows is not stuck), ``webhook_backlog`` (the webhook's oldest undelivered
message or ack is older than ``webhook_backlog_s``), ``silent`` (opt-in, ``silent_h``: CONNECTED and no
incoming message for that many hours, counted from the latest of the last incoming message and the
moment it connected). Away from CONNECTED, ``outbox_stuck`` and ``silent`` keep their status (neither
fires nor resolves: ``disconnected`` says what is wrong); ``outbox_stuck`` resolves once nothing old
waits, ``silent`` once a message comes in (or a new connection starts the count again).

Delivery to the operator's channels is ``watui/core/journal/channels.py``.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from watui.config import AlertSettings, Config
from watui.core.events import Event
from watui.core.messages.port import Traffic, counted_as
from watui.core.models import PROBLEM_NO_LOGIN, PROBLEM_TOO_LARGE, ConnectionState, SessionInfo

S = ConnectionState
MESSAGING_RULES = ("outbox_stuck", "webhook_backlog", "silent")
RULES = (
    "disconnected", "qr_needed", "failed", "conflict", "unrecognised", "too_large", "memory", "restarts",
    *MESSAGING_RULES,
)  # fmt: skip
# A precise rule firing makes "disconnected" redundant for the same stretch.
_PRECISE = ("qr_needed", "failed", "conflict")

Status = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Alert:
    alert: str
    status: Status
    session: str
    state: str
    message: str
    time: float = field(default_factory=time.time)
    test: bool = False
    # One id per alert, the same in every attempt and every channel: a receiver drops a repeat by it.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "alert": self.alert,
            "status": self.status,
            "session": self.session,
            "state": self.state,
            "message": self.message,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "host": socket.gethostname(),
        }
        if self.test:
            out["test"] = True
        return out

    @property
    def title(self) -> str:
        return f"watui {self.session}: {self.alert} {self.status}"


# -- rules --------------------------------------------------------------------------------------------


@dataclass
class _RuleState:
    active: bool = False  # the condition holds now
    notified: bool = False  # its firing was sent (so its resolve is sent too)
    last_sent: float | None = None


class AlertRules:
    """Turns events (and the passing of time, :meth:`tick`) into firing / resolved alerts."""

    def __init__(self, settings: AlertSettings, session: str, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock
        self._rules = {name: _RuleState() for name in RULES}
        self._state = S.UNLAUNCHED
        self._connected_before = False
        self._away_since: float | None = None
        self._drops: deque[float] = deque()
        # Messaging: the latest Traffic read (None: no messaging, its rules stay quiet), when CONNECTED began
        # (None while not connected), the last send and the last incoming message its events told.
        self._traffic: Traffic | None = None
        self._connected_at: float | None = None
        self._last_sent: float | None = None
        self._last_heard: float | None = None

    def memory(self) -> dict[str, Any]:
        """What must outlive watui (kept in the journal, see watchers.py) so a restart repeats no alert:
        when each rule last sent one, which fired and owe their resolve, the drops of the last hour."""
        rules = {
            name: {"lastSent": rule.last_sent, "owesResolve": rule.notified}
            for name, rule in self._rules.items()
            if rule.last_sent is not None or rule.notified
        }
        return {"rules": rules, "drops": list(self._drops)}

    def restore(self, memory: dict[str, Any]) -> None:
        """Take back :meth:`memory` of a previous run: a rule that fired within ``repeat_every_s`` stays
        quiet, and one whose firing was sent without its resolve holds on, so its resolve is sent."""
        saved_rules = memory.get("rules")
        for name, saved in (saved_rules if isinstance(saved_rules, dict) else {}).items():
            rule = self._rules.get(name)
            if rule is None or not isinstance(saved, dict):
                continue
            last = saved.get("lastSent")
            if isinstance(last, int | float) and not isinstance(last, bool):
                rule.last_sent = float(last)
            if saved.get("owesResolve") is True:
                rule.active = rule.notified = True
        now = self.clock()
        drops = memory.get("drops")
        for t in drops if isinstance(drops, list) else []:
            if isinstance(t, int | float) and not isinstance(t, bool) and 0 <= now - t <= 3600:
                self._drops.append(float(t))

    def firing(self) -> list[str]:
        """Rules whose condition holds now (sent or kept quiet by repeat_every_s)."""
        return [name for name, rule in self._rules.items() if rule.active]

    def on_event(self, event: Event) -> list[Alert]:
        out: list[Alert] = []
        info = event.info
        if event.type == "state" and event.state is not None:
            out += self._on_state(event.state, info, event.message)
        elif event.type == "unrecognised" or (event.type == "error" and event.data.get("code") == "unrecognised"):
            why = event.message or "WhatsApp Web's page was not recognised"
            if event.data.get("evidence"):
                why += f" (evidence: {event.data['evidence']})"
            out += self._set("unrecognised", True, info, why)
        elif event.type in ("message", "ack"):
            counted = counted_as(event.type, event.data)
            if counted == "sent":
                self._last_sent = self.clock()
            elif counted == "received":
                self._last_heard = self.clock()
        if event.type == "disk" and info.disk is not None:
            too_large = PROBLEM_TOO_LARGE in info.disk.problems
            out += self._set("too_large", too_large, info, info.disk.validation_details)
        if info.browser is not None and self.settings.memory_mb > 0:
            rss_mb = info.browser.rss_bytes / 1048576
            limit = self.settings.memory_mb
            # Resolve only below 90 % of the limit: memory hovering at the line is one alert, not many.
            if rss_mb > limit or (self._rules["memory"].active and rss_mb > 0.9 * limit):
                out += self._set("memory", True, info, f"browser uses {rss_mb:.0f} MB (limit {limit} MB)")
            else:
                out += self._set("memory", False, info, f"browser uses {rss_mb:.0f} MB")
        return out + self.tick(info)

    def tick(self, info: SessionInfo) -> list[Alert]:
        """Time-based rules: ``disconnected`` after down_after_s; ``restarts`` as the hour slides."""
        now = self.clock()
        out: list[Alert] = []
        away = self._away_since
        precise = any(self._rules[name].active for name in _PRECISE)
        if away is not None and now - away > self.settings.down_after_s and not precise:
            seconds = now - away
            out += self._set("disconnected", True, info, f"not connected for {seconds:.0f} s ({info.message})")
        while self._drops and now - self._drops[0] > 3600:
            self._drops.popleft()
        limit = self.settings.max_restarts_per_hour
        count = len(self._drops)
        out += self._set("restarts", count > limit, info, f"the connection dropped {count} times in the last hour")
        return out + self._messaging(info, now)

    def on_traffic(self, traffic: Traffic, info: SessionInfo) -> list[Alert]:
        """The session's messaging figures as just read: the messaging rules look at them from now on."""
        self._traffic = traffic
        return self.tick(info)

    def _messaging(self, info: SessionInfo, now: float) -> list[Alert]:
        traffic = self._traffic
        if traffic is None:
            return []
        settings = self.settings
        connected = self._state is S.CONNECTED and self._connected_at is not None
        out: list[Alert] = []
        waiting = traffic.queued + traffic.sending
        if settings.outbox_stuck_s <= 0 or waiting == 0 or traffic.oldest_pending_at is None:
            out += self._set("outbox_stuck", False, info, "nothing waits in the outbox")
        elif connected:
            assert self._connected_at is not None
            since = max(traffic.oldest_pending_at, self._connected_at, self._last_sent or 0.0)
            stuck = now - since > settings.outbox_stuck_s
            why = (
                f"{waiting} message(s) waiting in the outbox, the oldest for {now - traffic.oldest_pending_at:.0f} s,"
                f" and nothing sent for {now - since:.0f} s while connected"
                if stuck
                else "the outbox sends again"
            )
            out += self._set("outbox_stuck", stuck, info, why)
        oldest = traffic.webhook_oldest_at
        if settings.webhook_backlog_s > 0 and traffic.webhook and traffic.webhook_backlog > 0 and oldest is not None:
            late = now - oldest > settings.webhook_backlog_s
            why = f"{traffic.webhook_backlog} webhook delivery(ies) waiting, the oldest for {now - oldest:.0f} s"
            if traffic.webhook_error:
                why += f" ({traffic.webhook_error})"
            out += self._set("webhook_backlog", late, info, why if late else "the webhook delivers again")
        else:
            out += self._set("webhook_backlog", False, info, "the webhook has delivered everything")
        limit_s = settings.silent_h * 3600.0
        if limit_s <= 0:
            out += self._set("silent", False, info, "the silent rule is off")
        elif connected:
            assert self._connected_at is not None
            since = max(self._connected_at, traffic.last_received_at or 0.0, self._last_heard or 0.0)
            quiet = now - since > limit_s
            why = (
                f"connected, but no incoming message for {(now - since) / 3600:.1f} h"
                if quiet
                else "a message came in (or a new connection started the count again)"
            )
            out += self._set("silent", quiet, info, why)
        return out

    def _on_state(self, state: ConnectionState, info: SessionInfo, message: str) -> list[Alert]:
        previous, self._state = self._state, state
        out: list[Alert] = []
        now = self.clock()
        if state is S.CONNECTED:
            if previous is not S.CONNECTED or self._connected_at is None:
                self._connected_at = now
            self._connected_before = True
            self._away_since = None
            for name in ("disconnected", "qr_needed", "failed", "conflict", "unrecognised"):
                out += self._set(name, False, info, "connected again")
            return out
        self._connected_at = None
        if previous is S.CONNECTED:
            self._drops.append(now)
        if self._connected_before and self._away_since is None:
            self._away_since = now
        if state in (S.UNPAIRED, S.UNPAIRED_IDLE) and self._had_login(info):
            why = (
                "logged out (or the login was lost and no snapshot brought it back): scan a new QR"
                if self._connected_before
                else "the login expired: scan a new QR"
            )
            out += self._set("qr_needed", True, info, why)
        elif state is S.FAILED:
            out += self._set("failed", True, info, message or info.message)
        elif state is S.CONFLICT:
            out += self._set("conflict", True, info, message or "WhatsApp is open in another window")
        return out

    def _had_login(self, info: SessionInfo) -> bool:
        """A QR for a session that had a login (not the first scan of a new one, which nobody misses)."""
        if self._connected_before:
            return True
        disk = info.disk
        return disk is not None and disk.exists and PROBLEM_NO_LOGIN not in disk.problems

    def _set(self, name: str, active: bool, info: SessionInfo, message: str) -> list[Alert]:
        rule = self._rules[name]
        now = self.clock()
        if active and not rule.active:
            rule.active = True
            quiet = rule.last_sent is not None and now - rule.last_sent < self.settings.repeat_every_s
            rule.notified = not quiet
            if rule.notified:
                rule.last_sent = now
                return [Alert(name, "firing", self.session, info.state.value, message, now)]
        elif not active and rule.active:
            rule.active = False
            if rule.notified:
                rule.notified = False
                return [Alert(name, "resolved", self.session, info.state.value, message, now)]
        return []


def make_test_alert(config: Config) -> Alert:
    return Alert(
        "test",
        "firing",
        config.session.client_id,
        "TEST",
        "a test alert from `watui alerts test`: this channel works",
        test=True,
    )
