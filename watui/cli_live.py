"""The headless live commands: ``watui init`` (connect or show a QR and wait) and ``watui watch``.

Both run the same core as the dashboard through ``session_runtime``; they only print.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from dataclasses import replace
from typing import TextIO

from watui.config import Config
from watui.core.models import ConnectionState, Event, InitResult, SessionInfo
from watui.core.session.events import EventStream
from watui.qr import qr_half_blocks
from watui.runtime import (
    STOP_SIGNALS,
    Runtime,
    headless_hints,
    reconnect_on_sigusr1,
    session_runtime,
    stop_on_signals,
)

EXIT_OK, EXIT_FAIL, EXIT_QR_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 3, 130


def print_qr(payload: str, stream: TextIO) -> None:
    """Draw the QR in half blocks. On a terminal: black on white whatever the theme, so a phone scans it."""
    colour = stream.isatty() and not os.environ.get("NO_COLOR")
    start, end = ("\x1b[30;107m", "\x1b[0m") if colour else ("", "")
    for line in qr_half_blocks(payload):
        stream.write(f"{start}{line}{end}\n")
    stream.flush()


# -- watui init -------------------------------------------------------------------------------------
def run_init(args: argparse.Namespace, config: Config) -> int:
    return asyncio.run(_init(args, config))


async def _init(args: argparse.Namespace, config: Config) -> int:
    out = sys.stdout
    human = sys.stderr if args.json else sys.stdout
    interrupted = _cancel_on_signals()
    result = InitResult(False, False, _INTERRUPTED)
    code = EXIT_INTERRUPTED
    info = SessionInfo()
    try:
        async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="init") as rt:
            try:
                if rt.simulator is not None:
                    print(f"watui: demo simulator at {rt.simulator.base_url} (scan: POST /__sim/scan)", file=human)
                events = rt.manager.subscribe()
                result = await rt.manager.smart_initialize()
                code = EXIT_OK if result.success else EXIT_FAIL
                if result.quarantined_to:
                    print(
                        f"watui: the session was damaged ({result.quarantine_reason}); moved it, as it was, to "
                        f"{result.quarantined_to}",
                        file=human,
                    )
                if result.needs_qr:
                    waited, code = await _wait_for_scan(rt, events, result, args.timeout, human)
                    result = replace(
                        waited, quarantined_to=result.quarantined_to, quarantine_reason=result.quarantine_reason
                    )
                events.close()
            finally:
                info = rt.manager.info
    except asyncio.CancelledError:
        if not interrupted.is_set():
            raise
        result, code = replace(result, success=False, message=_INTERRUPTED), EXIT_INTERRUPTED
    if args.json:
        out.write(json.dumps(_init_json(result, info)) + "\n")
    else:
        print(f"watui: {result.message}", file=out)
    return code


_INTERRUPTED = "interrupted (Ctrl-C, SIGTERM or SIGHUP); the browser was closed cleanly, the session kept"


def _cancel_on_signals() -> asyncio.Event:
    """SIGINT/SIGTERM/SIGHUP cancel the running command; the runtime then closes the browser cleanly."""
    task = asyncio.current_task()
    interrupted = asyncio.Event()

    def cancel() -> None:
        if not interrupted.is_set() and task is not None:
            interrupted.set()
            task.cancel()

    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, cancel)
    return interrupted


async def _wait_for_scan(
    rt: Runtime, events: EventStream, result: InitResult, timeout: float, human: TextIO
) -> tuple[InitResult, int]:
    manager = rt.manager
    shown: str | None = None

    def show(info: SessionInfo) -> None:
        nonlocal shown
        if info.qr and info.qr != shown:
            shown = info.qr
            human.write(f"\nScan this QR with WhatsApp on your phone (Linked devices) — waiting {timeout:g} s\n")
            print_qr(info.qr, human)

    show(manager.info)

    async def follow() -> None:
        async for event in events:
            show(event.info)
            if event.info.state in (ConnectionState.CONNECTED, ConnectionState.FAILED) or event.info.qr_gave_up:
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follow(), timeout)
    info = manager.info
    if info.state is ConnectionState.CONNECTED:
        return InitResult(True, False, "Connected to WhatsApp Web", info.state), EXIT_OK
    if info.state is ConnectionState.FAILED:
        return InitResult(False, False, info.message, info.state), EXIT_FAIL
    message = f"QR code not scanned within {timeout:g} s; run watui init again for a new one"
    if info.qr_gave_up:
        message = info.message
    return InitResult(False, True, message, info.state), EXIT_QR_TIMEOUT


def _init_json(result: InitResult, info: SessionInfo) -> dict[str, object]:
    out: dict[str, object] = dict(result.to_json())
    out["qr"] = info.qr if result.needs_qr else None
    out["account"] = info.to_json()["connection"]["account"]
    out["session"] = info.to_json()["session"]["path"]
    return out


# -- watui watch ------------------------------------------------------------------------------------
def run_watch(args: argparse.Namespace, config: Config) -> int:
    return asyncio.run(_watch(args, config))


async def _watch(args: argparse.Namespace, config: Config) -> int:
    """Run until SIGINT/SIGTERM/SIGHUP (exit 0) or until watui gives up, FAILED (exit 1: a supervisor such as
    systemd's Restart=on-failure takes over from there)."""
    stop = asyncio.Event()
    stop_on_signals(stop)
    code = EXIT_OK
    async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="watch") as rt:
        verbs = reconnect_on_sigusr1(rt.manager, _say, "watch")
        events = rt.manager.subscribe()
        if rt.simulator is not None and not args.jsonl:
            print(f"watui: demo simulator at {rt.simulator.base_url}", flush=True)
        failed = asyncio.Event()
        printer = asyncio.create_task(_print_events(events, args.jsonl, failed))
        starter = asyncio.create_task(rt.manager.smart_initialize())
        waiters = [asyncio.create_task(stop.wait()), asyncio.create_task(failed.wait())]
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for task in (starter, *waiters, *verbs):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        if failed.is_set() and not stop.is_set():
            code = EXIT_FAIL
        # Shutdown events (UNLAUNCHED) are still printed, then the stream ends.
    with contextlib.suppress(asyncio.CancelledError, TimeoutError):
        await asyncio.wait_for(printer, 5)
    return code


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _print_events(events: EventStream, jsonl: bool, failed: asyncio.Event) -> None:
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
