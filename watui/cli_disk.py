"""The offline disk commands: ``watui info``, ``watui clean``, ``watui clear``. No browser is started.

Each prints a readable summary, or JSON with ``--json``. ``info`` exits 0 when the session is valid and
1 when not; ``clean`` and ``clear`` take watui's owner lock first, so they refuse while another watui
runs the session.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from watui.config import Config, ConfigError
from watui.core.browser.chromium import find_browser
from watui.core.disk.locks import OwnerLock
from watui.core.disk.store import MIB, SessionStore
from watui.core.errors import BrowserNotFoundError
from watui.core.models import (
    PROBLEM_CORRUPT,
    PROBLEM_LOCKED,
    PROBLEM_LOGIN_MISSING,
    PROBLEM_MISSING,
    PROBLEM_NO_LOGIN,
    PROBLEM_TOO_LARGE,
    CleanupReport,
    ConnectionState,
    DiskReport,
    LockInfo,
    SessionInfo,
)

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _one_line_os_errors(
    run: Callable[[argparse.Namespace, Config], int],
) -> Callable[[argparse.Namespace, Config], int]:
    """A disk error (permissions, a full disk, a folder vanishing) is one line and exit 1, not a traceback."""

    @functools.wraps(run)
    def guarded(args: argparse.Namespace, config: Config) -> int:
        try:
            return run(args, config)
        except OSError as exc:
            # An error without a file name (a full disk on write) still names where: the session folder.
            where = f" {exc.filename or config.session_root}"
            if exc.filename2:
                where += f" -> {exc.filename2}"
            print(f"watui: {args.command}:{where}: {exc.strerror or exc}", file=sys.stderr)
            return EXIT_FAIL

    return guarded


@_one_line_os_errors
def run_info(args: argparse.Namespace, config: Config) -> int:
    store = SessionStore(config)
    owner = store.owner_pid()
    # A browser started by a running watui is that watui's: its lock is not a problem.
    own = frozenset({owner}) if owner and owner > 0 else frozenset()
    report = store.inspect(own)
    info = SessionInfo(state=ConnectionState.UNLAUNCHED, disk=report, message=_offline_message(report, owner))
    if args.json:
        # "attached": false: this is the offline view, not a running owner's live state.
        offline = {"attached": False, "owner": {"pid": owner} if owner else None, "snapshots": _snapshots_json(config)}
        _print_json({**info.to_json(), **offline, "browserToLaunch": browser_to_launch(config)})
    else:
        print(_info_text(report, owner, info))
        print(_row("browser", browser_text(config, info)))
        print(_row("snapshots", _snapshots_line(config)))
    return EXIT_OK if report.is_valid else EXIT_FAIL


def browser_to_launch(config: Config) -> dict[str, str | None]:
    """The Chromium watui would start for this config ([browser] executable, Playwright's, Debian's)."""
    try:
        return {"executable": str(find_browser(config.browser.executable, config.browser.headless)), "error": None}
    except BrowserNotFoundError as exc:
        return {"executable": None, "error": str(exc)}


def browser_text(config: Config, info: SessionInfo) -> str:
    """The browser in use when one runs, else the one a start would launch (or why there is none)."""
    if info.browser is not None and info.browser.executable:
        return f"{info.browser.executable} (pid {info.browser.pid}, running)"
    found = browser_to_launch(config)
    return f"{found['executable']} (started on demand)" if found["executable"] else f"none: {found['error']}"


def _note_cleared(config: Config) -> None:
    from watui.core import snapshots

    snapshots.note_cleared(config)  # cleared on purpose: no automatic restore until the next login


def _snapshots_line(config: Config) -> str:
    from watui.core import snapshots

    return snapshots.status_line(config)


def _snapshots_json(config: Config) -> dict[str, Any]:
    from watui.core import snapshots

    snaps = snapshots.list_snapshots(config)
    try:
        enabled = snapshots.load_keys(config) is not None
    except ConfigError:
        enabled = False
    newest = snaps[0].to_json() if snaps else None
    verified = [s for s in snaps if s.verified]
    return {
        "enabled": enabled,
        "lastAt": verified[0].created_at if verified else None,
        "dir": str(snapshots.snapshot_dir(config)),
        "count": len(snaps),
        "newest": newest,
        "status": snapshots.status_line(config),
    }


@_one_line_os_errors
def run_clean(args: argparse.Namespace, config: Config) -> int:
    store = SessionStore(config)
    owner = _take_owner(store)
    try:
        report = store.cleanup()
    finally:
        if owner is not None:
            owner.release()
    print_clean(report, args.json)
    return EXIT_OK


def print_clean(report: CleanupReport, as_json: bool) -> None:
    """What ``watui clean`` prints, whether it cleaned here or a running owner did."""
    if as_json:
        _print_json(report.to_json())
        return
    lines = [_row("freed", f"{_human(report.freed_bytes)}")]
    lines += [_row("removed" if i == 0 else "", rel) for i, rel in enumerate(report.removed)]
    lines += [_row("moved aside" if i == 0 else "", item) for i, item in enumerate(report.moved_aside)]
    lines.append(_row("result", report.message))
    print("\n".join(lines))


@_one_line_os_errors
def run_clear(args: argparse.Namespace, config: Config) -> int:
    store = SessionStore(config)
    profile = store.profile
    if profile.exists() and not args.yes:
        refused = refused_without_consent("clear", clear_question(store, args.purge))
        if refused is not None:
            return refused
    owner = _take_owner(store)
    try:
        report = store.clear(purge=args.purge)
        _note_cleared(config)
    finally:
        if owner is not None:
            owner.release()
    if args.json:
        _print_json(report.to_json())
    else:
        print(report.message)
    return EXIT_OK


# -- helpers ---------------------------------------------------------------------------------------
def _take_owner(store: SessionStore) -> OwnerLock | None:
    """The owner lock, so no other watui runs the session meanwhile; None when there is no session root."""
    if not store.root.exists():
        return None
    return store.acquire_owner()


def clear_question(store: SessionStore, purge: bool) -> str:
    if purge:
        return f"Delete {store.profile} for good? A new QR scan will be needed. [y/N] "
    return f"Move {store.profile} into {store.quarantine_dir}? A new QR scan will be needed. [y/N] "


def refused_without_consent(verb: str, question: str) -> int | None:
    """Ask ``question`` on the terminal: None to go on, else the exit status to stop with (2 when there is
    no terminal to ask on: the command needs --yes; 1 when the answer is no)."""
    if not sys.stdin.isatty():
        print(f"watui: {verb} needs confirmation and there is no terminal to ask on: rerun with --yes", file=sys.stderr)
        return EXIT_USAGE
    print(question, end="", file=sys.stderr, flush=True)
    if sys.stdin.readline().strip().lower() in ("y", "yes"):
        return None
    print("watui: nothing done", file=sys.stderr)
    return EXIT_FAIL


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _offline_message(report: DiskReport, owner: int | None) -> str:
    if owner:
        shown = owner if owner > 0 else "unknown"
        return f"offline view: a running watui (pid {shown}) owns this session"
    if report.lock.kind == "live" and PROBLEM_LOCKED in report.problems:
        return f"offline view: the profile is open in {_lock_text(report.lock)}"
    return "offline view: no browser started"


def _info_text(report: DiskReport, owner: int | None, info: SessionInfo) -> str:
    status = "✔ valid" if report.is_valid else "✖ not valid"
    rows = [
        _row("session", str(report.path)),
        _row("status", f"{status}: {report.validation_details}"),
    ]
    if report.exists:
        limit = report.max_bytes
        rows.append(
            _row("size", f"{_human(report.size_bytes)} on disk, {report.file_count:,} files (limit {_human(limit)})")
        )
        rows.append(_row("reclaimable", f"{_human(report.reclaimable_bytes)} (watui clean)"))
        rows.append(_row("lock", _lock_text(report.lock)))
    rows.append(_row("owner", f"watui (pid {owner})" if owner and owner > 0 else "no watui running it"))
    rows.append(_row("connection", f"{info.state.glyph} {info.state.value} ({info.message})"))
    for i, line in enumerate(advice(report)):
        rows.append(_row("advice" if i == 0 else "", line))
    return "\n".join(rows)


def advice(report: DiskReport) -> list[str]:
    """What a person should do next, most urgent first."""
    problems = report.problems
    out: list[str] = []
    if PROBLEM_MISSING in problems or PROBLEM_NO_LOGIN in problems:
        out.append("run 'watui init' and scan the QR code with your phone")
    if PROBLEM_CORRUPT in problems or PROBLEM_LOGIN_MISSING in problems:
        out.append("run 'watui clear' (it keeps a copy in quarantine), then 'watui init' and scan a new QR")
    if PROBLEM_TOO_LARGE in problems:
        if report.size_bytes - report.reclaimable_bytes <= report.max_bytes:
            out.append(f"run 'watui clean': it frees {_human(report.reclaimable_bytes)}")
        else:
            out.append("run 'watui clean'; if still too large, raise max_session_size_mb or 'watui clear'")
    if PROBLEM_LOCKED in problems:
        out.append(f"another program uses the session: stop {_lock_text(report.lock)} first")
    if report.lock.kind == "stale" and PROBLEM_LOCKED not in problems:
        out.append("'watui clean' removes the stale lock")
    if not out:
        out.append("nothing to do: 'watui init' reconnects without a QR")
    return out


def _lock_text(lock: LockInfo) -> str:
    if lock.kind == "none":
        return "none"
    if lock.kind == "stale" and lock.host and lock.pid:
        return f"stale (pid {lock.pid} on host '{lock.host}', a restarted container: single_host)"
    if lock.kind == "stale":
        return f"stale (pid {lock.pid}, no longer running)" if lock.pid else "stale"
    if lock.name is None and lock.host:
        return f"pid {lock.pid} on another host '{lock.host}'"
    return f"{lock.name} (pid {lock.pid})"


def _row(key: str, value: str) -> str:
    return f"{key + ':' if key else '':<13}{value}"


def _human(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < MIB:
        return f"{size / 1024:.1f} KB"
    if size < 1024 * MIB:
        return f"{size / MIB:.1f} MB"
    return f"{size / (1024 * MIB):.2f} GB"
