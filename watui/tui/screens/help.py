"""The help screen behind ``?``: every key and what each panel shows."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
Keys
{keys}
A greyed-out key cannot act now: another action runs, or it makes no
sense in this state. On opening, the dashboard initializes by itself,
unless the session is damaged or another process holds it.

Panels
  Session          exists, valid and why, size against the limit,
                   files, what cleaning frees, lock owner, path
  Connection       state (glyph and word), health, reconnect attempts
                   and the next retry, uptime or last connection,
                   account, browser pid / memory / CPU
  QR               the login code, black on white: beside the panels
                   when it fits, alone when not, else the size it needs
  Recommendations  what to do next, with its key
  Log              what happened, most recent first

Press Esc, q or ? to close. Keys are remapped in config.toml: [keys] reconnect = "f5"."""

KEY_HELP = (
    ("initialize", "initialize: validate, clean, start the browser, connect or show a QR"),
    ("reconnect", "reconnect: restart the browser on the saved session"),
    ("clean", "clean caches, temp files and stale locks (never the login)"),
    ("clear", "clear: move the session to <session_path>/.quarantine/ (asks first)"),
    ("scan", "scan the QR (only with --demo, on the simulator)"),
    ("log", "show or hide the event log"),
    ("history", "history: uptime, the last 24 h, incidents, size and memory"),
    ("backup", "backup: an encrypted snapshot of the login now (when [snapshots] has a key)"),
    ("help", "this help"),
    ("quit", "quit (closes the browser cleanly; the session stays on disk)"),
)


def help_text(keys: Mapping[str, str], meanings: Mapping[str, str] | None = None) -> str:
    """The help, with the keys the operator actually has (``keys``: binding id → key display).
    ``meanings`` replaces what a key is said to do (binding id → text), e.g. ``q`` in an attached dashboard."""
    meanings = meanings or {}
    width = max(len(keys.get(name, "")) for name, _ in KEY_HELP)
    lines = [f"  {keys.get(name, ''):<{width}}  {meanings.get(name, what)}" for name, what in KEY_HELP]
    return HELP_TEXT.format(keys="\n".join(lines))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def __init__(self, keys: Mapping[str, str], meanings: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.keys = keys
        self.meanings = meanings

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.keys, self.meanings), id="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
