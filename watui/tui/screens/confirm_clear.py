"""The confirmation asked before ``c`` clears the session: it says exactly where the session goes."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmClear(ModalScreen[bool]):
    """Dismisses with True to clear, False to keep the session."""

    BINDINGS = [
        Binding("y", "answer(True)", "Clear", id="confirm-clear.yes"),
        Binding("n,escape", "answer(False)", "Keep", id="confirm-clear.no"),
    ]

    def __init__(self, session_root: Path) -> None:
        super().__init__()
        self.quarantine = session_root / ".quarantine"

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box"):
            yield Static("Clear the session?", id="confirm-title")
            yield Static(
                f"The session folder is moved to\n{self.quarantine}/\n"
                "(nothing is deleted; old ones are pruned by session.quarantine_keep).\n"
                "WhatsApp will need a new QR scan afterwards.",
                id="confirm-body",
            )
            with Horizontal(id="confirm-buttons"):
                yield Button("Clear (y)", id="yes", variant="error")
                yield Button("Keep (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        # Focus the safe answer: Enter keeps the session.
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, clear: bool) -> None:
        self.dismiss(clear)
