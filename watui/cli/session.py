"""The session commands: ``watui info``, ``status``, ``clean``, ``clear``, ``reconnect``, ``takeover``.

Each has one body, run on the session as ``cli/reach.py`` reaches it: through the watui running it when one
answers, else here — on the disk alone for info, status, clean and clear (no browser is started), or started
here for reconnect and takeover. ``info`` exits 0 when the session is valid, ``status`` when it is connected;
``clean`` and ``clear`` take watui's owner lock first when they act here.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from watui.cli import reach
from watui.cli.base import Command, Exit
from watui.cli.output import ask_consent, one_line_os_errors, print_json, row
from watui.cli.reach import Reached, on_session
from watui.config import Config, ConfigError
from watui.core.advice import Advice, Kind, advise
from watui.core.errors import BrowserNotFoundError
from watui.core.models import (
    CleanupReport,
    ConnectionState,
    DiskReport,
    InitResult,
    SessionInfo,
)
from watui.present import lock_text, size

if TYPE_CHECKING:
    from watui.core.session.offline import OfflineSession

if TYPE_CHECKING:
    from watui.core.disk.store import SessionStore


# -- watui info -----------------------------------------------------------------------------------
async def info(reached: Reached, args: argparse.Namespace) -> int:
    config, session, owner = reached.config, reached.session, reached.owner
    now = session.info
    pid = owner.owner.get("pid") if owner is not None else _offline(reached).owner_pid
    if args.json:
        if owner is not None:
            print_json({**(reached.status or {}), "attached": True, "owner": reached.owner_json()})
        else:
            # "attached": false: this is the offline view, not a running owner's live state.
            offline = {"attached": False, "owner": {"pid": pid} if pid else None, "snapshots": _snapshots_json(config)}
            print_json({**now.to_json(), **offline, "browserToLaunch": browser_to_launch(config)})
    else:
        lines = [info_text(now.disk, pid, now) if now.disk is not None else status_line(now, reached.label)]
        lines.append(row("browser", browser_text(config, now)))
        if owner is None:
            lines.append(row("snapshots", _snapshots_line(config)))
        if reached.status and reached.status.get("history"):
            lines.append(row("history", history_text(reached.status["history"])))
        if owner is not None:
            lines.append(row("attached", f"live view from {reached.label}"))
        print("\n".join(lines))
    return Exit.OK if now.disk is not None and now.disk.is_valid else Exit.FAIL


def _offline(reached: Reached) -> OfflineSession:
    from watui.core.session.offline import OfflineSession

    assert isinstance(reached.session, OfflineSession)  # no owner and nothing started: the disk alone
    return reached.session


def browser_to_launch(config: Config) -> dict[str, str | None]:
    """The Chromium watui would start for this config ([browser] executable, Playwright's, Debian's)."""
    from watui.core.browser.chromium import find_browser

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


def info_text(report: DiskReport, owner: int | None, info: SessionInfo) -> str:
    status = "✔ valid" if report.is_valid else "✖ not valid"
    rows = [
        row("session", str(report.path)),
        row("status", f"{status}: {report.validation_details}"),
    ]
    if report.exists:
        limit = report.max_bytes
        files = f"{report.file_count:,} files"
        rows.append(row("size", f"{size(report.size_bytes)} on disk, {files} (limit {size(limit)})"))
        rows.append(row("reclaimable", f"{size(report.reclaimable_bytes)} (watui clean)"))
        rows.append(row("lock", lock_text(report.lock)))
    rows.append(row("owner", f"watui (pid {owner})" if owner and owner > 0 else "no watui running it"))
    rows.append(row("connection", f"{info.state.glyph} {info.state.value} ({info.message})"))
    for i, line in enumerate(advice(report)):
        rows.append(row("advice" if i == 0 else "", line))
    return "\n".join(rows)


def advice(report: DiskReport) -> list[str]:
    """What to do with the session folder, as commands, most urgent first: the core's advice for the folder
    with no browser on it (``watui info`` says the same of a folder a watui runs)."""
    out: list[str] = []
    for item in advise(SessionInfo(state=ConnectionState.UNLAUNCHED, disk=report)):
        line = _command_for(item, report)
        if line is not None and line not in out:
            out.append(line)
    return out or ["nothing to do: 'watui init' reconnects without a QR"]


def _command_for(item: Advice, report: DiskReport) -> str | None:
    """One piece of the core's advice as the command that acts on it (None: nothing to run)."""
    if item.kind in (Kind.INITIALIZE, Kind.SCAN):
        return "run 'watui init' and scan the QR code with your phone"
    if item.kind is Kind.CLEAR:
        return "run 'watui clear' (it keeps a copy in quarantine), then 'watui init' and scan a new QR"
    if item.kind is Kind.CLEAN:
        if report.size_bytes - report.reclaimable_bytes <= report.max_bytes:
            return f"run 'watui clean': it frees {size(item.frees)}"
        return "run 'watui clean'; if still too large, raise max_session_size_mb or 'watui clear'"
    if item.kind is Kind.STOP_HOLDER:
        return f"another program uses the session: stop {lock_text(report.lock)} first"
    if item.kind is Kind.STALE_LOCK:
        return "'watui clean' removes the stale lock"
    return None  # a valid folder: the default line says what init does


def history_text(history: dict[str, Any]) -> str:
    """The journal's health as the owner reports it: written, or what fails and what waits."""
    if not history.get("error"):
        return f"{history.get('file')} (written)"
    waiting = f"; {history.get('pending', 0)} row(s) waiting" if history.get("pending") else ""
    lost = f"; {history.get('dropped')} row(s) lost" if history.get("dropped") else ""
    return f"{history['error']}{waiting}{lost}"


# -- watui status ---------------------------------------------------------------------------------
def status_line(info: SessionInfo, owner: str | None) -> str:
    """One line for a shell prompt or a script's log: glyph, state, account, who runs it."""
    parts = [f"{info.state.glyph} {info.state.value}"]
    if info.account is not None and (info.account.name or info.account.number):
        parts.append(" ".join(p for p in (info.account.name, info.account.number) if p))
    parts.append(owner or "no watui running it")
    return " · ".join(parts)


async def status(reached: Reached, args: argparse.Namespace) -> int:
    now = reached.session.info
    if reached.owner is not None:
        data = {**(reached.status or {}), "attached": True, "owner": reached.owner_json()}
        who = reached.label
    else:
        pid = _offline(reached).owner_pid
        running = reach.unreachable_owner(reached.config, pid) if pid else None
        now = replace(now, message="offline view: no browser started")
        seen = {"pid": pid, "socket": running["socket"], "problem": running["problem"]} if running else None
        data = {**now.to_json(), "attached": False, "owner": seen}
        who = running["line"] if running else None
    if args.json:
        print_json(data)
    else:
        print(status_line(now, who))
    return Exit.OK if now.state.is_connected else Exit.FAIL


# -- watui clean / clear --------------------------------------------------------------------------
async def clean(reached: Reached, args: argparse.Namespace) -> int:
    report = await reached.session.cleanup()  # an owner closes its browser, cleans, starts it again
    print_clean(report, args.json)
    return Exit.OK


def print_clean(report: CleanupReport, as_json: bool) -> None:
    if as_json:
        print_json(report.to_json())
        return
    lines = [row("freed", f"{size(report.freed_bytes)}")]
    lines += [row("removed" if i == 0 else "", rel) for i, rel in enumerate(report.removed)]
    lines += [row("moved aside" if i == 0 else "", item) for i, item in enumerate(report.moved_aside)]
    lines.append(row("result", report.message))
    print("\n".join(lines))


async def clear(reached: Reached, args: argparse.Namespace) -> int:
    store = reach.disk_store(reached.config)
    if store.profile.exists() and not args.yes:
        refused = await asyncio.to_thread(ask_consent, "clear", clear_question(store, args.purge))
        if refused is not None:
            return refused
    report = await reached.session.clear(purge=args.purge)
    if args.json:
        print_json(report.to_json())
    elif reached.owner is not None:
        print(f"{report.message} (done by {reached.label}, which keeps running)")
    else:
        print(report.message)
    return Exit.OK


def clear_question(store: SessionStore, purge: bool) -> str:
    if purge:
        return f"Delete {store.profile} for good? A new QR scan will be needed. [y/N] "
    return f"Move {store.profile} into {store.quarantine_dir}? A new QR scan will be needed. [y/N] "


# -- watui reconnect / takeover -------------------------------------------------------------------
def init_code(result: InitResult) -> int:
    return Exit.OK if result.success else Exit.QR_TIMEOUT if result.needs_qr else Exit.FAIL


def _say(result: InitResult, via: str | None = None) -> int:
    print(f"watui: {result.message or result.state.value}" + (f" (by {via})" if via else ""))
    return init_code(result)


async def reconnect(reached: Reached, args: argparse.Namespace) -> int:
    return _say(await reached.session.reconnect(), reached.label)


async def takeover(reached: Reached, args: argparse.Namespace) -> int:
    """Answer WhatsApp's "open in another window" with "Use here"."""
    session = reached.session
    # Started here: start it first, to see whether WhatsApp says the session is open elsewhere.
    started = await session.smart_initialize() if reached.owner is None else None
    if session.info.state is ConnectionState.CONFLICT:
        return _say(await session.reconnect(), reached.label)  # reconnecting takes the conflict over
    if started is not None:
        return _say(started)
    if session.info.state.is_connected:
        print(f"watui: already in use here ({reached.label}); nothing to take over")
        return Exit.OK
    print(f"watui: nothing to take over: {session.info.state.value} ({session.info.message})", file=sys.stderr)
    return Exit.FAIL


# -- the commands ---------------------------------------------------------------------------------
def _clear_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--purge", action="store_true", help="delete the session instead of quarantining it")


INFO = Command(
    "info",
    "Show the session: the running watui's live state, or the disk alone (no browser started).",
    one_line_os_errors(on_session(info)),
    json="print the status JSON",
)
CLEAN = Command(
    "clean",
    "Remove caches, temp files and stale locks; never the login.",
    one_line_os_errors(on_session(clean)),
    json="print what was freed as JSON",
)
CLEAR = Command(
    "clear",
    "Move the session into <session_path>/.quarantine/ (a new QR is needed after).",
    one_line_os_errors(on_session(clear)),
    _clear_options,
    json="print the result as JSON",
)
STATUS = Command(
    "status",
    "One line (or the status JSON) from the watui running the session; exit 0 if connected.",
    on_session(status),
    json="print the status JSON",
)
RECONNECT = Command(
    "reconnect",
    "Reconnect the session (through the watui running it, if one runs).",
    on_session(reconnect, face="reconnect"),
)
TAKEOVER = Command(
    "takeover",
    'Answer "open in another window" with "Use here" (through the running watui).',
    on_session(takeover, face="takeover"),
)
