"""The dashboard attached to a running owner: the same App, fed by the owner's API over its socket.

Keys act through the owner; ``q`` detaches and leaves the owner and its browser running. When the owner
exits the dashboard says so and ``i`` ends the App with ``take_over`` set, so the launcher starts the
session in this process.
"""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from watui.remote.session import RemoteScanner, RemoteSession
from watui.tui.app import WatuiApp
from watui.tui.messages import SessionChanged
from watui.tui.screens.help import HelpScreen

ATTACHED_MEANINGS = {
    "quit": "detach: leave this dashboard; the owner and its browser keep running",
    "initialize": "initialize (through the owner); once the owner has exited: take the session over here",
}


class AttachedApp(WatuiApp):
    """The dashboard on a :class:`RemoteSession` (another process owns the session)."""

    # The same keys; q's footer says what it does here (the owner keeps running).
    BINDINGS = [
        *(b for b in WatuiApp.BINDINGS if not (isinstance(b, Binding) and b.id == "quit")),
        Binding("q", "quit", "Detach", id="quit"),
    ]

    def __init__(
        self, manager: RemoteSession, *, simulator: RemoteScanner | None = None, session_root: Path | None = None
    ) -> None:
        super().__init__(manager, simulator=simulator, session_root=session_root, auto_initialize=False)
        self.remote = manager
        self.take_over = False

    def _subtitle(self) -> str:
        label = self.remote.client.label
        if self.remote.owner_gone:
            return f"{label} exited · i takes the session over · q quits"
        return f"attached to {label} · q detaches"

    def on_session_changed(self, message: SessionChanged) -> None:
        # Textual runs WatuiApp's handler for this message too (handlers run along the MRO).
        self.sub_title = self._subtitle()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.remote.owner_gone and action == "initialize":
            return True
        return super().check_action(action, parameters)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_keys(), ATTACHED_MEANINGS))

    def action_initialize(self) -> None:
        if self.remote.owner_gone:
            self.take_over = True
            self.exit()
            return
        super().action_initialize()
