"""The human formatters (watui.present), pure: what a person reads for a size, a duration, an age, a lock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support.screen import disk
from watui.core.models import PROBLEM_LOCKED, LockInfo
from watui.present import (
    ago,
    cell_glyph,
    duration,
    duration_words,
    lock_short,
    lock_text,
    mb_figure,
    megabytes,
    ratio_text,
    size,
    uptime,
)
from watui.tui.widgets.session_panel import snapshot_text

MB = 1024 * 1024


@pytest.mark.parametrize(
    ("size_bytes", "shown"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KB"),
        (MB - 1, "1024.0 KB"),
        (MB, "1.0 MB"),
        (int(74.2 * MB), "74.2 MB"),
        (1024 * MB, "1.00 GB"),
        (int(2.5 * 1024 * MB), "2.50 GB"),
    ],
)
def test_sizes_for_watui_info_take_the_unit_that_fits(size_bytes: int, shown: str) -> None:
    assert size(size_bytes) == shown


def test_the_dashboards_megabytes_drop_the_decimal_above_100() -> None:
    assert megabytes(int(74.2 * MB)) == "74.2 MB"
    assert megabytes(int(150.4 * MB)) == "150 MB"


def test_the_stores_figures_have_no_unit_and_a_decimal_only_when_small() -> None:
    assert mb_figure(int(3.24 * MB)) == "3.2"
    assert mb_figure(int(74.6 * MB)) == "75"


@pytest.mark.parametrize(
    ("seconds", "words", "short"),
    [
        (0, "0 s", "0s"),
        (45, "45 s", "45s"),
        (185, "3 min 05 s", "3m 05s"),
        (7620, "2 h 07 min", "2h 07m"),
        (3 * 86400 + 7200, "74 h 00 min", "3d 02h"),
    ],
)
def test_durations_in_words_for_reports_and_short_for_the_dashboard(seconds: int, words: str, short: str) -> None:
    assert duration_words(seconds) == words
    assert duration(seconds) == short


def test_the_dashboards_uptime_changes_once_a_minute() -> None:
    assert uptime(59) == "59s"
    assert uptime(61) == uptime(119) == "1m"
    assert duration(-5) == "0s"  # never negative


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (5, "5 s"),
        (119, "119 s"),
        (120, "2 min"),
        (7199, "120 min"),
        (7200, "2.0 h"),
        (172799, "48.0 h"),
        (172800, "2.0 d"),
    ],
)
def test_an_age_has_one_unit(seconds: float, shown: str) -> None:
    assert ago(seconds) == shown


def test_the_dashboards_snapshot_row_and_watui_info_say_the_same_age() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    row = snapshot_text(True, now - timedelta(hours=3, minutes=30), now)
    assert row is not None and row.plain == f"✔ {ago(3.5 * 3600)} ago" == "✔ 3.5 h ago"


def test_an_uptime_strip_reads_without_colour() -> None:
    assert [cell_glyph(r) for r in (1.0, 0.995, 0.5, 0.005, 0.0, None)] == ["█", "█", "▒", "░", "░", "·"]
    assert ratio_text({"ratio": 0.99951}) == "99.95 %"
    assert ratio_text({"ratio": None}) == "no data"


def test_watui_info_names_who_holds_the_lock_in_full() -> None:
    assert lock_text(LockInfo()) == "none"
    assert lock_text(LockInfo("stale", pid=9)) == "stale (pid 9, no longer running)"
    assert lock_text(LockInfo("stale")) == "stale"
    assert lock_text(LockInfo("stale", pid=9, host="old")) == (
        "stale (pid 9 on host 'old', a restarted container: single_host)"
    )
    assert lock_text(LockInfo("live", pid=7, host="other")) == "pid 7 on another host 'other'"
    assert lock_text(LockInfo("live", pid=7, name="chromium")) == "chromium (pid 7)"


def test_the_dashboard_says_whether_watui_may_take_the_lock() -> None:
    assert lock_short(disk()) == "free"
    assert lock_short(disk(lock=LockInfo("live", pid=7))) == "watui's browser (pid 7)"
    held = disk(lock=LockInfo("live", pid=7, name="chromium"), problems=(PROBLEM_LOCKED,))
    assert lock_short(held) == "held by pid 7 chromium"
    assert lock_short(disk(lock=LockInfo("stale", pid=9))) == "stale (pid 9 gone)"
