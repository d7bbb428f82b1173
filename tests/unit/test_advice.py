"""What to do next (watui.core.advice), pure, and how each face words it: the dashboard's keys, `watui info`'s
commands. No browser, no process: SessionInfo and DiskReport built by hand."""

from __future__ import annotations

from dataclasses import replace

from tests.support.fakes import MB
from tests.support.screen import connected_info, damaged_info, disk, empty_info, qr_info, reconnecting_info
from watui.cli.session import advice as cli_advice
from watui.core.advice import Advice, Kind, advise
from watui.core.models import (
    PROBLEM_LOCKED,
    PROBLEM_NO_LOGIN,
    PROBLEM_TOO_LARGE,
    ConnectionState,
    LockInfo,
    SessionInfo,
)
from watui.tui.widgets.recommendations import advise as tui_advise


def kinds(info: SessionInfo) -> list[Kind]:
    return [a.kind for a in advise(info)]


def test_an_empty_folder_needs_a_login_and_a_shown_qr_a_scan() -> None:
    assert kinds(empty_info()) == [Kind.INITIALIZE]
    assert kinds(qr_info()) == [Kind.SCAN]
    assert kinds(replace(qr_info(), state=ConnectionState.PAIRING)) == [Kind.SCANNED]
    assert kinds(replace(qr_info(), qr_gave_up=True)) == [Kind.INITIALIZE]  # no more codes: ask for new ones


def test_a_damaged_session_is_cleared_first_and_urgently() -> None:
    found = advise(damaged_info())
    assert found[0] == Advice(Kind.CLEAR, "IndexedDB is corrupt") and found[0].urgent
    assert [a.kind for a in found] == [Kind.CLEAR, Kind.STALE_LOCK]  # its dead lock is listed too


def test_connected_means_the_login_works_whatever_the_disk_said_mid_write() -> None:
    info = replace(connected_info(), disk=damaged_info().disk)
    assert Kind.CLEAR not in kinds(info)


def test_a_valid_session_is_started_or_reconnected_and_a_recovering_one_is_left_to_watui() -> None:
    valid = SessionInfo(state=ConnectionState.UNLAUNCHED, disk=disk())
    assert kinds(valid) == [Kind.START]
    assert kinds(replace(valid, state=ConnectionState.CONFLICT)) == [Kind.RECONNECT]
    assert advise(reconnecting_info()) == [Advice(Kind.RECONNECTING, "attempt 3")]


def test_every_disk_finding_is_listed_an_oversized_profile_with_a_dead_lock_too() -> None:
    big = disk(is_valid=False, problems=(PROBLEM_TOO_LARGE,), size_bytes=250 * MB, lock=LockInfo("stale", pid=9))
    found = advise(SessionInfo(state=ConnectionState.UNLAUNCHED, disk=big))
    assert found == [Advice(Kind.CLEAN, frees=big.reclaimable_bytes), Advice(Kind.STALE_LOCK)]


def test_the_page_or_whatsapp_refusing_outranks_everything() -> None:
    info = replace(damaged_info(), state=ConnectionState.UNRECOGNISED, evidence=None)
    assert advise(info) == [Advice(Kind.UNRECOGNISED, "")]
    blocked = replace(damaged_info(), state=ConnectionState.BLOCKED, message="banned")
    assert advise(blocked) == [Advice(Kind.BLOCKED, "banned")]


def test_connected_and_healthy_has_nothing_to_do_and_a_failed_one_is_retried() -> None:
    assert kinds(connected_info()) == [Kind.HEALTHY]
    unsure = replace(connected_info(), health=replace(connected_info().health, is_healthy=False))
    assert kinds(unsure) == [Kind.CHECKING]
    failed = SessionInfo(state=ConnectionState.FAILED, message="gave up after 5 tries")
    assert advise(failed) == [Advice(Kind.GAVE_UP, "gave up after 5 tries")]


# -- the faces' words ---------------------------------------------------------------------------------
def test_the_dashboard_offers_clean_once_for_two_findings_it_cures() -> None:
    big = disk(is_valid=False, problems=(PROBLEM_TOO_LARGE,), size_bytes=250 * MB, lock=LockInfo("stale", pid=9))
    lines = tui_advise(SessionInfo(state=ConnectionState.UNLAUNCHED, disk=big), demo=False)
    assert [(a.key, a.text) for a in lines] == [("k", "Session over its size limit: clean the caches (frees 12.3 MB)")]


def test_the_dashboard_scans_on_the_simulator_and_names_the_holder() -> None:
    assert [a.key for a in tui_advise(qr_info(), demo=True)] == ["s"]
    assert [a.key for a in tui_advise(qr_info(), demo=False)] == [""]
    held = disk(is_valid=False, problems=(PROBLEM_LOCKED,), lock=LockInfo("live", pid=77, name="chromium"))
    lines = tui_advise(SessionInfo(state=ConnectionState.UNLAUNCHED, disk=held), demo=False)
    assert lines[-1].text == "pid 77 (chromium) holds the session: stop it"


def test_watui_info_words_the_same_advice_as_commands() -> None:
    assert cli_advice(empty_info().disk) == ["run 'watui init' and scan the QR code with your phone"]  # type: ignore[arg-type]
    damaged = damaged_info().disk
    assert damaged is not None
    assert cli_advice(damaged) == [
        "run 'watui clear' (it keeps a copy in quarantine), then 'watui init' and scan a new QR",
        "'watui clean' removes the stale lock",
    ]
    assert cli_advice(disk()) == ["nothing to do: 'watui init' reconnects without a QR"]


def test_watui_info_says_whether_clean_is_enough() -> None:
    within = disk(is_valid=False, problems=(PROBLEM_TOO_LARGE,), size_bytes=205 * MB)  # 12.3 MB reclaimable
    assert cli_advice(within) == ["run 'watui clean': it frees 12.3 MB"]
    beyond = replace(within, size_bytes=300 * MB)
    assert cli_advice(beyond) == ["run 'watui clean'; if still too large, raise max_session_size_mb or 'watui clear'"]
    no_login = disk(is_valid=False, problems=(PROBLEM_NO_LOGIN, PROBLEM_TOO_LARGE), size_bytes=205 * MB)
    assert cli_advice(no_login) == [
        "run 'watui init' and scan the QR code with your phone",
        "run 'watui clean': it frees 12.3 MB",
    ]
