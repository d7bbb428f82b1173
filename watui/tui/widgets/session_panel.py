"""The Session panel: what is on disk — exists, valid and why, size against the limit, files, lock."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.text import Text

from watui.core.models import PROBLEM_NO_LOGIN, DiskReport
from watui.present import ago, bar, lock_short, megabytes, shorten_path
from watui.tui.widgets.rows import Row, SnapshotPanel, label_rows

LABEL_WIDTH = 7


def size_text(disk: DiskReport, width: int) -> Text:
    """``███░░░ 74.2/200 MB``; a ``⚠`` when over the limit, so it shows without colour."""
    limit_mb = disk.max_bytes / (1024 * 1024)
    numbers = f" {disk.size_mb:.1f}/{limit_mb:.0f} MB" if disk.max_bytes else f" {megabytes(disk.size_bytes)}"
    over = bool(disk.max_bytes) and disk.size_bytes > disk.max_bytes
    if over:
        numbers += " ⚠"
    bar_width = max(4, min(20, width - len(numbers)))
    fraction = disk.size_bytes / disk.max_bytes if disk.max_bytes else 0.0
    drawn = bar(fraction, bar_width)
    filled = drawn.count("█")
    out = Text(drawn[:filled], style="bold red" if over else "green")
    out.append(drawn[filled:], style="dim")
    out.append(numbers, style="bold red" if over else "")
    return out


def snapshot_text(on: bool, last_at: datetime | None, now: datetime | None = None) -> Text | None:
    """The last login snapshot's age; None (no row) while snapshots are off."""
    if not on:
        return None
    if last_at is None:
        return Text("none yet (b: take one)", style="yellow")
    seconds = max(0.0, ((now or datetime.now(UTC)) - last_at).total_seconds())
    return Text(f"✔ {ago(seconds)} ago")


def session_rows(disk: DiskReport | None, width: int, connected: bool = False) -> list[Row]:
    """The panel's rows; ``connected``: the page is logged in, whatever the disk said when last read."""
    if disk is None:
        return [("Disk", "not checked yet")]
    value_width = max(8, width - LABEL_WIDTH)
    if not disk.exists:
        return [
            ("Exists", Text("✖ no session folder yet", style="yellow")),
            ("Path", shorten_path(str(disk.path), value_width)),
        ]
    # Red only for damage; a profile that just needs a QR is yellow.
    invalid_style = "bold red" if disk.is_damaged else "bold yellow"
    valid = Text("✔ yes", style="green") if disk.is_valid else Text("✖ no", style=invalid_style)
    if disk.validation_details:
        valid.append(f": {disk.validation_details}")
    if connected and disk.problems == (PROBLEM_NO_LOGIN,):
        # Logged in, and Chromium writes the login to Local Storage some seconds later: not a missing login.
        valid = Text("◌ login being saved (connected; Chromium writes it to disk shortly)", style="yellow")
    files = f"{disk.file_count:,}"
    if disk.reclaimable_bytes:
        files += f" · clean frees {megabytes(disk.reclaimable_bytes)}"
    return [
        ("Exists", "✔ yes"),
        ("Valid", valid),
        ("Size", size_text(disk, value_width)),
        ("Files", files),
        ("Lock", lock_short(disk)),
        ("Path", shorten_path(str(disk.path), value_width)),
    ]


class SessionPanel(SnapshotPanel):
    """Renders ``info.disk``; the App hands ``info`` down by data binding."""

    def render(self) -> Text:
        rows = session_rows(self.info.disk, self.content_size.width, self.info.state.is_connected)
        snapshot = snapshot_text(self.info.snapshots_on, self.info.last_snapshot_at)
        if snapshot is not None:
            rows.append(("Backup", snapshot))
        return label_rows(rows, LABEL_WIDTH)
