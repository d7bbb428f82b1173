"""The alert rules as their tests drive them: a clock to move by hand, rules on it, a state change fed in,
and the (alert, status) pairs that came out."""

from __future__ import annotations

from watui.config import AlertSettings
from watui.core.events import Event
from watui.core.journal.alerts import Alert, AlertRules
from watui.core.models import ConnectionState as S
from watui.core.models import SessionInfo


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


def rules(**settings: float) -> tuple[AlertRules, Clock]:
    clock = Clock()
    return AlertRules(AlertSettings(**settings), "bot", clock), clock  # type: ignore[arg-type]


def state(rules_: AlertRules, to: S, message: str = "", **info: object) -> list[Alert]:
    return rules_.on_event(Event("state", SessionInfo(state=to, **info), message=message, state=to))  # type: ignore[arg-type]


def names(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.alert, a.status) for a in alerts]
