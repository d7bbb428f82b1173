"""A one-line bar over the panels while an alert rule is firing; hidden when none is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.reactive import var
from textual.widget import Widget

from watui.core.events import Event


@dataclass(frozen=True)
class FiringAlert:
    alert: str
    message: str
    since: datetime


def firing_after(current: tuple[FiringAlert, ...], event: Event) -> tuple[FiringAlert, ...]:
    """The alerts firing once ``event`` (an ``alert`` event) is taken into account."""
    name = str(event.data.get("alert", "?"))
    kept = tuple(a for a in current if a.alert != name)
    if event.data.get("status") == "firing":
        return (*kept, FiringAlert(name, event.message, event.time))
    return kept


class AlertBar(Widget):
    """``⚑ ALERT qr_needed: logged out: scan a new QR (since 03:12) · +1 more`` — glyph and word, not colour only."""

    DEFAULT_CSS = """
    AlertBar {
        display: none;
        height: 1;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    AlertBar.-firing {
        display: block;
    }
    """

    alerts: var[tuple[FiringAlert, ...]] = var(())

    def watch_alerts(self, alerts: tuple[FiringAlert, ...]) -> None:
        self.set_class(bool(alerts), "-firing")
        self.refresh()

    def render(self) -> Text:
        if not self.alerts:
            return Text("")
        newest = self.alerts[-1]
        since = newest.since.astimezone().strftime("%H:%M")
        more = f" · +{len(self.alerts) - 1} more ({', '.join(a.alert for a in self.alerts[:-1])})"
        return Text(
            f"⚑ ALERT {newest.alert}: {newest.message} (since {since})" + (more if len(self.alerts) > 1 else "")
        )
