"""The Connection panel: state word and glyph, health, retries with a countdown, uptime, account, browser."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from watui.core.models import ConnectionState, SessionInfo, now_utc
from watui.present import clock_time, duration, megabytes, uptime
from watui.tui.widgets.rows import Row, label_rows

LABEL_WIDTH = 10

# Colour only repeats what the glyph and the word already say (tmux/SSH may cut colours).
STATE_STYLE = {
    ConnectionState.CONNECTED: "bold green",
    ConnectionState.FAILED: "bold red",
    ConnectionState.CONFLICT: "bold yellow",
    ConnectionState.TIMEOUT: "bold yellow",
    ConnectionState.RECONNECTING: "bold yellow",
    ConnectionState.UNPAIRED: "bold cyan",
    ConnectionState.UNPAIRED_IDLE: "bold cyan",
    ConnectionState.BLOCKED: "bold red",
    ConnectionState.UNRECOGNISED: "bold red",
}


def state_text(state: ConnectionState) -> Text:
    return Text(f"{state.glyph} {state.value}", style=STATE_STYLE.get(state, "bold"))


def state_row_text(info: SessionInfo) -> Text:
    """The state, and the page channel that recognised WhatsApp Web (modules, dom or pixels) when one did."""
    out = state_text(info.state)
    if info.detection:
        out.append(f" · read by {info.detection}", style="dim")
    return out


def health_text(info: SessionInfo) -> Text:
    health = info.health
    out = Text("✔ healthy", style="green") if health.is_healthy else Text("✖ not healthy", style="yellow")
    if health.reason and not health.is_healthy:
        out.append(f" — {health.reason}")
    return out


def retry_text(info: SessionInfo, now: datetime) -> str:
    health = info.health
    text = f"{health.reconnect_attempts} attempt{'s' if health.reconnect_attempts != 1 else ''}"
    if health.next_retry_at is not None:
        left = (health.next_retry_at - now).total_seconds()
        text += f" · next in {duration(left)}" if left > 0 else " · retrying now"
    return text


def uptime_text(info: SessionInfo, now: datetime) -> str:
    if info.state.is_connected and info.connected_since is not None:
        return f"up {uptime((now - info.connected_since).total_seconds())}"
    return f"last {clock_time(info.last_connected_at, now)}"


def account_text(info: SessionInfo) -> str:
    account = info.account
    if account is None or not (account.name or account.number):
        return "—"
    return " · ".join(part for part in (account.name, account.number) if part)


def browser_text(info: SessionInfo, width: int = 80) -> str:
    """The longest wording that fits ``width``: pid, memory and CPU always, the process count if room."""
    browser = info.browser
    if browser is None:
        return "not running"
    core = f"pid {browser.pid} · {megabytes(browser.rss_bytes)} · {browser.cpu_percent:.1f}% CPU"
    procs = f" ({browser.processes} procs)" if browser.processes > 1 else ""
    full = f"pid {browser.pid}{procs} · {megabytes(browser.rss_bytes)} · {browser.cpu_percent:.1f}% CPU"
    return full if len(full) <= width else core


def connection_rows(info: SessionInfo, now: datetime, width: int = 80) -> list[Row]:
    return [
        ("State", state_row_text(info)),
        ("Health", health_text(info)),
        ("Retries", retry_text(info, now)),
        ("Connected", uptime_text(info, now)),
        ("Account", account_text(info)),
        ("Browser", browser_text(info, width - LABEL_WIDTH)),
    ]


class ConnectionPanel(Widget):
    """Renders the live side of a snapshot; ``now`` ticks once a second for countdowns and uptime."""

    info: reactive[SessionInfo] = reactive(SessionInfo)
    """The latest snapshot from the core."""
    now: reactive[datetime] = reactive(now_utc, repaint=False)
    """The App's clock, for countdowns and uptime (repaints only when the text it shows changes)."""

    _shown: str = ""

    def watch_now(self) -> None:
        # The clock ticks every second; most ticks change nothing on screen (uptime above an hour).
        if self._rows_text() != self._shown:
            self.refresh()

    def _rows_text(self) -> str:
        return label_rows(connection_rows(self.info, self.now, self.content_size.width), LABEL_WIDTH).plain

    def render(self) -> Text:
        text = label_rows(connection_rows(self.info, self.now, self.content_size.width), LABEL_WIDTH)
        self._shown = text.plain
        return text
