"""Messages the dashboard's background tasks post to the App: a new snapshot, a finished action, a traffic
reading."""

from __future__ import annotations

from textual.message import Message

from watui.core.events import Event
from watui.core.models import SessionInfo
from watui.tui.widgets.traffic_panel import TrafficView


class SessionChanged(Message):
    """The core published an event; ``info`` is the immutable snapshot after it."""

    def __init__(self, info: SessionInfo, event: Event | None = None) -> None:
        super().__init__()
        self.info = info
        self.event = event


class ActionFinished(Message):
    """A key's action (``verb``) ended; ``text`` says how, for the status line and the log.
    ``level`` is "good", "info" (nothing wrong, more to do: e.g. scan the QR) or "error"."""

    def __init__(self, verb: str, level: str, text: str) -> None:
        super().__init__()
        self.verb = verb
        self.level = level
        self.text = text


class TrafficRead(Message):
    """A reading of the session's traffic figures ended: ``view`` holds them, or why they could not be read."""

    def __init__(self, view: TrafficView) -> None:
        super().__init__()
        self.view = view
