"""The login QR: half blocks from ``watui.qr``, always black on white with its quiet zone, and its caption.

The colours are explicit (not theme colours) so a phone reads the code whatever the terminal's theme;
Textual's NO_COLOR filter turns them into greys, which keeps black black and white white.
"""

from __future__ import annotations

from datetime import datetime

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from watui.core.models import SessionInfo, now_utc
from watui.present import clock_time, duration
from watui.tui.layout import qr_cells, qr_lines

QR_STYLE = Style(color=Color.from_rgb(0, 0, 0), bgcolor=Color.from_rgb(255, 255, 255))


class QRCode(Widget):
    """Draws one QR payload with the line API: one Strip per text row, black on white."""

    DEFAULT_CSS = """
    QRCode { width: auto; height: auto; }
    """

    payload: reactive[str | None] = reactive(None, layout=True)
    """The QR's text; None draws nothing."""

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return qr_cells(self.payload)[0] if self.payload else 0

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return qr_cells(self.payload)[1] if self.payload else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = qr_lines(self.payload) if self.payload else ()
        if y >= len(lines):
            return Strip.blank(width)
        # Cropped rather than wrapped: the App never gives the code less room than it needs.
        return Strip([Segment(lines[y], QR_STYLE)]).crop_extend(0, width, QR_STYLE)


def expiry_text(info: SessionInfo, now: datetime) -> str:
    if info.qr_gave_up:
        return "The QR expired: press i for a new one"
    if info.qr_expires_at is None:
        return f"Code #{info.qr_rotations + 1}"
    left = (info.qr_expires_at - now).total_seconds()
    when = clock_time(info.qr_expires_at, now)
    if left <= 0:
        return f"Code #{info.qr_rotations + 1} expired at {when}; a new one is coming"
    return f"Code #{info.qr_rotations + 1} expires in {duration(left)} (at {when})"


def scan_hint(demo: bool) -> str:
    if demo:
        return "Demo: press s to scan it (or scan with any QR reader)"
    return "Phone: WhatsApp › Settings › Linked devices › Link a device"


class QRPane(Vertical):
    """The code, centred, with its expiry and how to scan it."""

    info: reactive[SessionInfo] = reactive(SessionInfo)
    """The latest snapshot from the core (its ``qr`` is drawn)."""
    now: reactive[datetime] = reactive(now_utc)
    """The App's clock, for the time left."""
    demo: reactive[bool] = reactive(False)
    """On the simulator, where ``s`` scans."""

    def compose(self) -> ComposeResult:
        yield QRCode(id="qr-code")
        yield Static(id="qr-expiry")
        yield Static(id="qr-hint")

    def on_mount(self) -> None:
        self.watch_info(self.info)

    def _refresh_caption(self) -> None:
        if not self.is_mounted:
            return
        self.query_one("#qr-expiry", Static).update(Text(expiry_text(self.info, self.now)))
        self.query_one("#qr-hint", Static).update(Text(scan_hint(self.demo)))

    def watch_info(self, info: SessionInfo) -> None:
        if not self.is_mounted:
            return
        self.query_one(QRCode).payload = info.qr
        self._refresh_caption()

    def watch_now(self) -> None:
        if self.info.qr is not None:  # no code, no countdown to redraw
            self._refresh_caption()

    def watch_demo(self) -> None:
        self._refresh_caption()
