"""The help screen behind ``?``: every key and what each panel shows."""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from watui.tui.screens.recent_messages import RECENT

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
{traffic}  QR               the login code, black on white: beside the panels
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
    ("messages", f"recent messages: the last {RECENT} in and out, metadata only (t shows the texts)"),
    ("backup", "backup: an encrypted snapshot of the login now (when [snapshots] has a key)"),
    ("help", "this help"),
    ("quit", "quit (closes the browser cleanly; the session stays on disk)"),
)


# The Traffic panel's lines, only for a session that sends and receives messages (the ``messages`` key).
TRAFFIC_HELP = """\
  Traffic          outbox queued / sending, the last hour's sent,
                   failed and received, the last incoming message's
                   age, the webhook's backlog (or "webhook off")
"""


def help_text(keys: Mapping[str, str], meanings: Mapping[str, str] | None = None) -> str:
    """The help, with the keys the operator actually has (``keys``: binding id → key display; a key not in
    it, like ``messages`` without MESSAGES, is not listed). ``meanings`` replaces what a key is said to do
    (binding id → text), e.g. ``q`` in an attached dashboard."""
    meanings = meanings or {}
    listed = [(name, what) for name, what in KEY_HELP if name in keys]
    width = max(len(keys[name]) for name, _ in listed)
    lines = [f"  {keys[name]:<{width}}  {meanings.get(name, what)}" for name, what in listed]
    return HELP_TEXT.format(keys="\n".join(lines), traffic=TRAFFIC_HELP if "messages" in keys else "")


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
