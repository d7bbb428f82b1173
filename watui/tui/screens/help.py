"""The help screen behind ``?``: every key and what each panel shows."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_TEXT = """\
Keys
  i  initialize: validate, clean, start the browser, connect or show a QR
  r  reconnect: restart the browser on the saved session
  k  clean caches, temp files and stale locks (never the login)
  c  clear: move the session to <session_path>/.quarantine/ (asks first)
  s  scan the QR (only with --demo, on the simulator)
  l  show or hide the event log
  ?  this help
  q  quit (closes the browser cleanly; the session stays on disk)
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

Press Esc, q or ? to close."""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP_TEXT, id="help-text", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
