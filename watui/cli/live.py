"""The headless live commands: ``watui init`` (connect or show a QR and wait) and ``watui watch``.

``init`` runs on the session as ``cli/reach.py`` reaches it: the running owner's, or started here through
``session_runtime`` (the same core as the dashboard); ``watch`` always runs it here. They only print.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, TextIO

from watui.cli.base import Command, Exit, seconds
from watui.cli.output import print_qr
from watui.cli.reach import Reached, session_on
from watui.cli.session import init_code
from watui.config import Config
from watui.core.events import Event
from watui.core.models import ConnectionState, InitResult, SessionInfo
from watui.core.ports import EventSource, SessionPort

if TYPE_CHECKING:
    from watui.owner import Runtime


# -- watui init -------------------------------------------------------------------------------------
_INTERRUPTED = "interrupted (Ctrl-C, SIGTERM or SIGHUP); the browser was closed cleanly, the session kept"


@dataclass
class Progress:
    """How far ``init`` got: what an interrupted one reports."""

    result: InitResult = field(default_factory=lambda: InitResult(False, False, _INTERRUPTED))
    code: int = Exit.INTERRUPTED
    info: SessionInfo = field(default_factory=SessionInfo)


async def _init(args: argparse.Namespace, config: Config) -> int:
    human = sys.stderr if args.json else sys.stdout
    interrupted: asyncio.Event | None = None
    progress = Progress()

    @asynccontextmanager
    async def start() -> AsyncIterator[Runtime]:
        nonlocal interrupted
        from watui.cli.signals import cancel_on_signals
        from watui.owner import session_runtime  # the core (Playwright) only when acting here

        interrupted = cancel_on_signals()  # here a signal closes the browser cleanly, then says so
        async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="init") as rt:
            yield rt

    async def act(reached: Reached) -> int:
        try:
            await initialize(reached, args.timeout, human, progress)
        finally:
            progress.info = reached.session.info
        return progress.code

    try:
        await session_on(config, act, start=start)
    except asyncio.CancelledError:
        if interrupted is None or not interrupted.is_set():
            raise
        progress.result = replace(progress.result, success=False, message=_INTERRUPTED)
        progress.code = Exit.INTERRUPTED
    if args.json:
        sys.stdout.write(json.dumps(init_json(progress.result, progress.info)) + "\n")
    else:
        print(f"watui: {progress.result.message}")
    return progress.code


async def initialize(reached: Reached, timeout: float, human: TextIO, progress: Progress) -> None:
    """Smart-initialize the session; with a QR, show it and wait for the scan. ``progress`` says how far it got."""
    session = reached.session
    if reached.owner is not None:
        print(f"watui: {reached.label} owns this session; initializing through it", file=human)
    elif reached.runtime is not None and reached.runtime.simulator is not None:
        print(f"watui: demo simulator at {reached.runtime.simulator.base_url} (scan: POST /__sim/scan)", file=human)
    events = session.subscribe()
    try:
        progress.result = result = await session.smart_initialize()
        progress.code = init_code(result)
        await reached.refresh()
        if result.quarantined_to and reached.owner is None:
            print(
                f"watui: the session was damaged ({result.quarantine_reason}); moved it, as it was, to "
                f"{result.quarantined_to}",
                file=human,
            )
        if result.needs_qr:
            waited, progress.code = await wait_for_scan(session, events, timeout, human)
            progress.result = replace(
                waited, quarantined_to=result.quarantined_to, quarantine_reason=result.quarantine_reason
            )
    finally:
        events.close()


async def wait_for_scan(
    session: SessionPort, events: EventSource, timeout: float, human: TextIO
) -> tuple[InitResult, int]:
    """Show each new QR of ``session`` and wait until it connects, fails or gives up, or ``timeout`` passes."""
    shown: str | None = None

    def show(info: SessionInfo) -> None:
        nonlocal shown
        if info.qr and info.qr != shown:
            shown = info.qr
            human.write(f"\nScan this QR with WhatsApp on your phone (Linked devices) — waiting {timeout:g} s\n")
            print_qr(info.qr, human)

    show(session.info)

    async def follow() -> None:
        async for event in events:
            show(event.info)
            if event.info.state in (ConnectionState.CONNECTED, ConnectionState.FAILED) or event.info.qr_gave_up:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follow(), timeout)
    info = session.info
    if info.state is ConnectionState.CONNECTED:
        return InitResult(True, False, "Connected to WhatsApp Web", info.state), Exit.OK
    if info.state is ConnectionState.FAILED:
        return InitResult(False, False, info.message, info.state), Exit.FAIL
    message = f"QR code not scanned within {timeout:g} s; run watui init again for a new one"
    if info.qr_gave_up:
        message = info.message
    return InitResult(False, True, message, info.state), Exit.QR_TIMEOUT


def init_json(result: InitResult, info: SessionInfo) -> dict[str, object]:
    out: dict[str, object] = dict(result.to_json())
    out["qr"] = info.qr if result.needs_qr else None
    out["account"] = info.to_json()["connection"]["account"]
    out["session"] = info.to_json()["session"]["path"]
    return out


# -- watui watch ------------------------------------------------------------------------------------
async def _watch(args: argparse.Namespace, config: Config) -> int:
    """Run until SIGINT/SIGTERM/SIGHUP (exit 0) or until watui gives up, FAILED (exit 1: a supervisor such as
    systemd's Restart=on-failure takes over from there)."""
    from watui.cli.signals import reconnect_on_sigusr1, stop_on_signals
    from watui.owner import session_runtime

    stop = asyncio.Event()
    stop_on_signals(stop)
    code = Exit.OK
    async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="watch") as rt:
        verbs = reconnect_on_sigusr1(rt.session, _say, "watch")
        events = rt.session.subscribe()
        if rt.simulator is not None and not args.jsonl:
            print(f"watui: demo simulator at {rt.simulator.base_url}", flush=True)
        failed = asyncio.Event()
        printer = asyncio.create_task(_print_events(events, args.jsonl, failed))
        starter = asyncio.create_task(rt.session.smart_initialize())
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(failed.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in (starter, *waiters, *verbs):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if failed.is_set() and not stop.is_set():
            code = Exit.FAIL
        # Shutdown events (UNLAUNCHED) are still printed, then the stream ends.
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(printer, 5)
    return code


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _print_events(events: EventSource, jsonl: bool, failed: asyncio.Event) -> None:
    async for event in events:
        if event.type == "state" and event.state is ConnectionState.FAILED:
            failed.set()
        routine = event.type == "disk" or (event.type == "health" and event.data.get("sample"))
        if routine and not jsonl:
            continue
        sys.stdout.write(_event_line(event, jsonl))
        if event.type == "qr" and event.qr and not jsonl:
            print_qr(event.qr, sys.stdout)
        sys.stdout.flush()


def _event_line(event: Event, jsonl: bool) -> str:
    from watui.cli.signals import headless_hints

    event = event.shown(headless_hints("watch"))
    if jsonl:
        return json.dumps(event.to_json()) + "\n"
    stamp = event.time.astimezone().strftime("%H:%M:%S")
    what = {
        "state": f"{event.info.state.glyph} {event.state.value if event.state else ''}",
        "qr": "QR code" if event.qr else "QR gone",
        "alert": f"⚑ {event.data.get('alert')} {event.data.get('status')}",
        # messaging: ids, chats and sizes, never a text (watui/core/messages/service.py)
        "message": f"✉ received {event.data.get('id')} from {event.data.get('chat')} ({event.data.get('size')} chars)",
        "ack": f"✉ {event.data.get('status')} {event.data.get('id')} to {event.data.get('chat')}"
        + (f": {event.data['reason']}" if event.data.get("reason") else ""),
    }.get(event.type, event.type)
    message = f" — {event.message}" if event.message else ""
    return f"{stamp} {what}{message}\n"


# -- the commands ---------------------------------------------------------------------------------
def _init_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="stdout carries only the final result object")
    parser.add_argument(
        "--timeout", type=seconds, default=120.0, metavar="S", help="seconds to wait for a scan (default: 120)"
    )


INIT = Command(
    "init",
    "Smart-initialize: validate, clean, launch, connect or show the login QR and wait.",
    lambda args, config: asyncio.run(_init(args, config)),
    _init_options,
)


def _watch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jsonl", action="store_true", help="one JSON object per event per line")


WATCH = Command(
    "watch",
    "Keep the session connected, headless (for systemd, a bot, a log).",
    lambda args, config: asyncio.run(_watch(args, config)),
    _watch_options,
)
