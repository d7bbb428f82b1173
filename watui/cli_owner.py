"""The CLI verbs that go through a running owner when one runs, and act directly otherwise.

``watui status``, ``reconnect``, ``takeover``, and the owner side of ``info``, ``clean``, ``clear`` and
``init``. Each looks for the session's owner on its control socket first (``watui/remote/``); with
none it does the same thing in this process, with the same exit statuses. If the session is taken
between the look and the act (an owner starting up), it waits for that owner's socket and asks it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from watui import cli_disk
from watui.api.paths import not_a_socket, socket_path, socketless_owner
from watui.config import Config
from watui.core.disk.store import SessionStore
from watui.core.errors import SessionBusyError
from watui.core.models import ConnectionState, InitResult, SessionInfo
from watui.remote.client import OwnerClient, find_owner
from watui.remote.session import info_from_json, init_result_from_json

EXIT_OK, EXIT_FAIL, EXIT_QR_TIMEOUT = 0, 1, 3
OWNER_STARTUP_WAIT_S = 5.0  # an owner that holds the lock but does not listen yet is starting

Remote = Callable[[OwnerClient], Awaitable[int]]


def owner_or_direct(config: Config, remote: Remote, direct: Callable[[], int]) -> int:
    """``remote(client)`` when an owner runs the session, else ``direct()``."""
    code = asyncio.run(_try_owner(config, remote, 0.0))
    if code is not None:
        return code
    try:
        return direct()
    except SessionBusyError as exc:
        pid = SessionStore(config).owner_pid()
        if pid is None:
            raise  # busy because of another program (a browser on the profile), not a watui
        # Taken meanwhile, or by an owner still starting: ask it once it listens.
        code = asyncio.run(_try_owner(config, remote, OWNER_STARTUP_WAIT_S))
        if code is None:
            raise SessionBusyError(f"{exc}; {socketless_owner(config, pid)}", exc.pid, exc.name) from None
        return code


async def _try_owner(config: Config, remote: Remote, wait_s: float) -> int | None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    while True:
        client = await find_owner(config)
        if client is not None:
            async with client:
                return await remote(client)
        if loop.time() >= deadline:
            return None
        await asyncio.sleep(0.2)


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _owner_json(client: OwnerClient) -> dict[str, Any]:
    return {"pid": client.owner.get("pid"), "face": client.owner.get("face")}


def _init_code(result: InitResult) -> int:
    return EXIT_OK if result.success else EXIT_QR_TIMEOUT if result.needs_qr else EXIT_FAIL


# -- watui status ----------------------------------------------------------------------------------
def status_line(info: SessionInfo, owner: str | None) -> str:
    """One line for a shell prompt or a script's log: glyph, state, account, who runs it."""
    parts = [f"{info.state.glyph} {info.state.value}"]
    if info.account is not None and (info.account.name or info.account.number):
        parts.append(" ".join(p for p in (info.account.name, info.account.number) if p))
    parts.append(owner or "no watui running it")
    return " · ".join(parts)


def run_status(args: argparse.Namespace, config: Config) -> int:
    async def remote(client: OwnerClient) -> int:
        data = await client.status()
        info = info_from_json(data)
        if args.json:
            _print_json({**data, "attached": True, "owner": _owner_json(client)})
        else:
            print(status_line(info, client.label))
        return EXIT_OK if info.state.is_connected else EXIT_FAIL

    def direct() -> int:
        store = SessionStore(config)
        owner = store.owner_pid()
        report = store.inspect(frozenset({owner}) if owner and owner > 0 else frozenset())
        info = SessionInfo(state=ConnectionState.UNLAUNCHED, disk=report, message="offline view: no browser started")
        running = _unreachable_owner(config, owner) if owner else None
        if args.json:
            seen = {"pid": owner, "socket": running["socket"], "problem": running["problem"]} if running else None
            _print_json({**info.to_json(), "attached": False, "owner": seen})
        else:
            print(status_line(info, running["line"] if running else None))
        return EXIT_FAIL

    return owner_or_direct(config, remote, direct)


def _unreachable_owner(config: Config, pid: int) -> dict[str, Any]:
    """A live owner this face could not reach: it serves no socket (say why), or its socket does not answer."""
    path = socket_path(config)
    if not_a_socket(path) is not None or not os.path.lexists(path):
        problem = socketless_owner(config, pid)
        return {"socket": False, "problem": problem, "line": problem}
    return {"socket": True, "problem": f"{path}: not answering", "line": f"watui (pid {pid}) not answering"}


# -- watui info -----------------------------------------------------------------------------------
def run_info(args: argparse.Namespace, config: Config) -> int:
    async def remote(client: OwnerClient) -> int:
        data = await client.status()
        info = info_from_json(data)
        if args.json:
            _print_json({**data, "attached": True, "owner": _owner_json(client)})
        else:
            if info.disk is not None:
                print(cli_disk._info_text(info.disk, client.owner.get("pid"), info))
            else:
                print(status_line(info, client.label))
            print(cli_disk._row("browser", cli_disk.browser_text(config, info)))
            if data.get("history"):
                print(cli_disk._row("history", history_text(data["history"])))
            print(cli_disk._row("attached", f"live view from {client.label}"))
        return EXIT_OK if info.disk is not None and info.disk.is_valid else EXIT_FAIL

    return owner_or_direct(config, remote, lambda: cli_disk.run_info(args, config))


def history_text(history: dict[str, Any]) -> str:
    """The journal's health as the owner reports it: written, or what fails and what waits."""
    if not history.get("error"):
        return f"{history.get('file')} (written)"
    waiting = f"; {history.get('pending', 0)} row(s) waiting" if history.get("pending") else ""
    lost = f"; {history.get('dropped')} row(s) lost" if history.get("dropped") else ""
    return f"{history['error']}{waiting}{lost}"


# -- watui clean / clear ---------------------------------------------------------------------------
def run_clean(args: argparse.Namespace, config: Config) -> int:
    async def remote(client: OwnerClient) -> int:
        from watui.remote.session import RemoteSession as RemoteManager

        manager = RemoteManager(client, await client.status())
        report = await manager.cleanup()  # the owner closes its browser, cleans, starts it again
        cli_disk.print_clean(report, args.json)
        return EXIT_OK

    return owner_or_direct(config, remote, lambda: cli_disk.run_clean(args, config))


def run_clear(args: argparse.Namespace, config: Config) -> int:
    async def remote(client: OwnerClient) -> int:
        from watui.remote.session import RemoteSession as RemoteManager

        manager = RemoteManager(client, await client.status())
        store = SessionStore(config)
        if store.profile.exists() and not args.yes:
            question = cli_disk.clear_question(store, args.purge)
            refused = await asyncio.to_thread(cli_disk.refused_without_consent, "clear", question)
            if refused is not None:
                return refused
        report = await manager.clear(purge=args.purge)
        if args.json:
            _print_json(report.to_json())
        else:
            print(f"{report.message} (done by {client.label}, which keeps running)")
        return EXIT_OK

    return owner_or_direct(config, remote, lambda: cli_disk.run_clear(args, config))


# -- watui reconnect / takeover --------------------------------------------------------------------
def _say(result: InitResult, via: str | None = None) -> int:
    print(f"watui: {result.message or result.state.value}" + (f" (by {via})" if via else ""))
    return _init_code(result)


def run_reconnect(args: argparse.Namespace, config: Config) -> int:
    async def remote(client: OwnerClient) -> int:
        return _say(init_result_from_json(await client.verb("reconnect")), client.label)

    async def local() -> int:
        from watui.runtime import session_runtime  # the core (Playwright) only when acting here

        async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="reconnect") as rt:
            return _say(await rt.manager.reconnect())

    return owner_or_direct(config, remote, lambda: asyncio.run(local()))


def run_takeover(args: argparse.Namespace, config: Config) -> int:
    """Answer WhatsApp's "open in another window" with "Use here"."""

    async def remote(client: OwnerClient) -> int:
        info = info_from_json(await client.status())
        if info.state is ConnectionState.CONFLICT:
            return _say(init_result_from_json(await client.verb("reconnect")), client.label)
        if info.state.is_connected:
            print(f"watui: already in use here ({client.label}); nothing to take over")
            return EXIT_OK
        print(f"watui: nothing to take over: {info.state.value} ({info.message})", file=sys.stderr)
        return EXIT_FAIL

    async def local() -> int:
        from watui.runtime import session_runtime

        async with session_runtime(config, demo=args.demo, demo_port=args.demo_port, face="takeover") as rt:
            result = await rt.manager.smart_initialize()
            if rt.manager.info.state is ConnectionState.CONFLICT:
                result = await rt.manager.reconnect()  # takes the conflict over
            return _say(result)

    return owner_or_direct(config, remote, lambda: asyncio.run(local()))


# -- watui init on an owned session ----------------------------------------------------------------
def run_init(args: argparse.Namespace, config: Config) -> int:
    from watui import cli_live

    if args.timeout <= 0:
        return cli_live.run_init(args, config)  # its one-line usage error

    async def remote(client: OwnerClient) -> int:
        return await _init_through(client, args)

    return owner_or_direct(config, remote, lambda: cli_live.run_init(args, config))


async def _init_through(client: OwnerClient, args: argparse.Namespace) -> int:
    """The owner's smart-initialize; with a QR, show the owner's QR and wait for the scan."""
    from watui import cli_live

    human = sys.stderr if args.json else sys.stdout
    print(f"watui: {client.label} owns this session; initializing through it", file=human)
    result = init_result_from_json(await client.verb("smart-initialize"))
    code = _init_code(result)
    info = info_from_json(await client.status())
    if result.needs_qr:
        result, code, info = await _wait_for_scan(client, args.timeout, human)
    if args.json:
        sys.stdout.write(json.dumps(cli_live._init_json(result, info)) + "\n")
    else:
        print(f"watui: {result.message}")
    return code


async def _wait_for_scan(client: OwnerClient, timeout: float, human: Any) -> tuple[InitResult, int, SessionInfo]:
    from watui import cli_live

    shown: str | None = None
    info = info_from_json(await client.status())

    def show(now: SessionInfo) -> None:
        nonlocal shown
        if now.qr and now.qr != shown:
            shown = now.qr
            human.write(f"\nScan this QR with WhatsApp on your phone (Linked devices) — waiting {timeout:g} s\n")
            cli_live.print_qr(now.qr, human)

    async def follow() -> None:
        nonlocal info
        show(info)
        async for data in client.events():
            info = info_from_json(data["info"] if data.get("type") == "snapshot" else await client.status())
            show(info)
            if info.state in (ConnectionState.CONNECTED, ConnectionState.FAILED):
                return

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(follow(), timeout)
    if info.state is ConnectionState.CONNECTED:
        return InitResult(True, False, "Connected to WhatsApp Web", info.state), EXIT_OK, info
    if info.state is ConnectionState.FAILED:
        return InitResult(False, False, info.message, info.state), EXIT_FAIL, info
    message = f"QR code not scanned within {timeout:g} s; run watui init again for a new one"
    return InitResult(False, True, message, info.state), EXIT_QR_TIMEOUT, info
