"""``watui send`` and ``watui messages``: the session's messaging, through the running owner.

Both go through the watui that owns the session (its control socket, found as every command finds it) with
the public client :mod:`watui.client`: one copy of the calls, of ``wait`` (an ack waited for on the owner's
events, read by id) and of the feed that follows the messages by cursor through restarts of the owner. Neither
starts a browser of its own: with no owner they say how to start one. ``watui messages webhook-test`` POSTs one
signed test delivery with ``[messages.webhook]`` and says what the receiver answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from watui.cli import reach
from watui.cli.base import Command, Exit, UsageError, seconds
from watui.config import Config
from watui.present import clock_time

if TYPE_CHECKING:
    from watui.client import Client
    from watui.core.messages.port import Message
    from watui.remote.errors import Refused

ACKS = ("sent", "delivered", "read")
DEFAULT_WAIT_S = 60.0
DEFAULT_LIST = 100  # without --since: the newest this many
WEBHOOK_TEST = "webhook-test"


# -- reaching the owner ---------------------------------------------------------------------------------
def _flags(args: argparse.Namespace) -> str:
    """The global options that name this session, to repeat in a hint (`watui --demo watch`)."""
    flags = " --demo" if args.demo else ""
    if args.demo_sim:
        flags += f" --demo-sim {args.demo_sim}"
    return flags + (f" --config {args.config}" if args.config else "")  # as given: a found one needs none


def no_owner_line(args: argparse.Namespace, config: Config) -> str:
    """Why nothing answers and how to start an owner (never started here: one message needs no browser)."""
    pid = reach.disk_store(config).owner_pid()
    if pid is not None:  # a watui holds the session but serves no socket: say why, as `watui status` does
        return f"watui {args.command}: {reach.unreachable_owner(config, pid)['problem']}"
    flags = _flags(args)
    return (
        f"watui {args.command}: no watui runs the session {config.profile_dir}; start one with "
        f"'watui{flags} watch' (or 'watui{flags} serve', or the systemd unit of docs/server.md): "
        f"{args.command} starts no browser of its own"
    )


def through_owner(
    act: Callable[[Client, argparse.Namespace], Awaitable[int]],
) -> Callable[[argparse.Namespace, Config], int]:
    """A command's ``run``: ``act`` on the public client of the session's running owner (waiting a few
    seconds for one starting up), else one line saying how to start one and exit 1. Ctrl-C, SIGTERM and
    SIGHUP end it with 130."""

    def run(args: argparse.Namespace, config: Config) -> int:
        return asyncio.run(_through_owner(act, args, config))

    return run


async def _through_owner(
    act: Callable[[Client, argparse.Namespace], Awaitable[int]], args: argparse.Namespace, config: Config
) -> int:
    from watui.cli.signals import cancel_on_signals
    from watui.client import Client, OwnerNotRunning

    interrupted = cancel_on_signals()
    try:
        if reach.disk_store(config).owner_pid() is not None:  # an owner starting up listens within seconds
            found = await reach.find_owner_within(config, reach.OWNER_STARTUP_WAIT_S)
            if found is not None:
                await found.close()
        async with contextlib.AsyncExitStack() as stack:
            try:
                wa = await stack.enter_async_context(Client.connect(config))
            except OwnerNotRunning:
                print(no_owner_line(args, config), file=sys.stderr)
                return Exit.FAIL
            return await act(wa, args)
    except asyncio.CancelledError:
        if interrupted.is_set():
            return Exit.INTERRUPTED
        raise


def _refused(command: str, exc: Refused) -> int:
    """The owner said no: one line. A bad field (400) or a text too long (413) is the user's (2); no account
    linked (409), a full outbox (429, with when to retry) or an outbox that cannot be used (503): 1."""
    line = f"watui {command}: {exc.reason}"
    if exc.status == 429 and exc.retry_after is not None:
        line += f"; try again in {exc.retry_after:g} s"
    print(line, file=sys.stderr)
    return Exit.USAGE if exc.status in (400, 413) else Exit.FAIL


# -- watui send -----------------------------------------------------------------------------------------
def read_text(given: str) -> str:
    """The text: as given, or stdin for ``-`` (without the newline echo and heredocs end it with)."""
    if given != "-":
        text = given
    else:
        try:
            text = sys.stdin.buffer.read().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"watui send: stdin: not UTF-8 text (byte {exc.start})") from None
        text = text.removesuffix("\n").removesuffix("\r")
    if not text.strip():
        raise UsageError("watui send: the text is empty")
    return text


def send(args: argparse.Namespace, config: Config) -> int:
    if args.timeout is not None and args.wait is None:
        raise UsageError("watui send: --timeout needs --wait (sent, delivered or read)")
    text = read_text(args.text)
    return through_owner(lambda wa, a: _send(wa, a, text))(args, config)


async def _send(wa: Client, args: argparse.Namespace, text: str) -> int:
    from watui.client import MessageFailed, Refused, WaitTimeout

    try:
        sent = await wa.send_text(args.to, text, key=args.key)
    except Refused as exc:
        return _refused("send", exc)
    if args.wait is None:
        _print_sent(sent, args)
        return Exit.OK
    if not args.json:
        print(sent.id, flush=True)  # at once: a script has the id whatever the wait gives
    timeout = DEFAULT_WAIT_S if args.timeout is None else args.timeout
    try:
        reached = await wa.wait(sent.id, args.wait, timeout=timeout)
    except MessageFailed as exc:
        _print_sent(exc.message, args, id_printed=True)
        print(f"watui send: {exc}", file=sys.stderr)
        return Exit.FAIL
    except asyncio.CancelledError:  # Ctrl-C, SIGTERM: the wait stops, the message does not
        print(f"watui send: stopped waiting; message {sent.id} is on disk and still goes", file=sys.stderr)
        raise
    except WaitTimeout as exc:
        _print_sent(exc.message or sent, args, id_printed=True)
        still = "" if exc.message is not None else " (it is on disk: it goes once the session is connected)"
        print(f"watui send: {exc}{still}", file=sys.stderr)
        return Exit.NOT_YET
    _print_sent(reached, args, id_printed=True)
    return Exit.OK


def _print_sent(message: Message, args: argparse.Namespace, *, id_printed: bool = False) -> None:
    if args.json:
        print(json.dumps(message.to_json(), ensure_ascii=False), flush=True)
    elif not id_printed:
        print(message.id, flush=True)


def _send_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("to", help="a phone number with its country code (+1 555 010 1234) or a chat id (…@c.us)")
    parser.add_argument("text", help="the text, or - to read it from stdin")
    parser.add_argument(
        "--key", metavar="K", default=None, help="an idempotency key: the same key again is the same message"
    )
    parser.add_argument(
        "--wait",
        choices=ACKS,
        default=None,
        help="wait until the message is sent (WhatsApp's server has it), delivered or read; "
        "exit 3 if not within --timeout (it is still queued and still goes), 1 if it failed",
    )
    parser.add_argument(
        "--timeout",
        metavar="S",
        type=seconds,
        default=None,
        help=f"with --wait: how many seconds to wait (default: {DEFAULT_WAIT_S:g})",
    )


# -- watui messages -------------------------------------------------------------------------------------
def messages(args: argparse.Namespace, config: Config) -> int:
    if args.action == WEBHOOK_TEST:
        return webhook_test(args, config)
    cursor, since_s = parse_since_option(args.since)
    if args.limit is not None and args.limit < 1:
        raise UsageError(f"watui messages: --limit must be 1 or more, got {args.limit}")
    limit = args.limit if args.limit is not None or args.since is not None else DEFAULT_LIST
    return through_owner(lambda wa, a: _messages(wa, a, cursor, since_s, limit))(args, config)


def parse_since_option(text: str | None) -> tuple[str, float | None]:
    """``--since``: a cursor (``12-5``, resumed exactly), ``now`` (only what comes next) or a duration
    (``30m``, ``24h``, ``7d``: what entered watui within it). The cursor to read from and the duration."""
    from watui.core.journal.report import parse_since
    from watui.core.messages.errors import MessageError
    from watui.core.messages.port import Cursor

    if text is None:
        return "", None
    if text == "now":
        return "now", None
    if "-" in text:
        try:
            Cursor.parse(text)
        except MessageError:
            pass
        else:
            return text, None
    try:
        return "", parse_since(text)
    except ValueError:
        raise UsageError(
            f"watui messages: --since must be a duration such as 30m, 24h or 7d, a cursor of an earlier "
            f"line (like '12-5') or 'now', got {text!r:.60}"
        ) from None


async def _messages(wa: Client, args: argparse.Namespace, cursor: str, since_s: float | None, limit: int | None) -> int:
    from watui.core.messages.port import MAX_LIMIT

    try:
        if cursor != "now":  # what is there: the newest ``limit`` of it, newest last
            after = time.time() - since_s if since_s is not None else None
            shown: deque[tuple[Message, str]] = deque(maxlen=limit)
            while True:
                page = await wa.page(cursor, MAX_LIMIT, bodies=args.bodies)
                if not page.messages:
                    break
                for index, message in enumerate(page.messages):
                    if after is None or message.time >= after:
                        shown.append((message, page.cursor_after(index) or page.cursor))
                cursor = page.cursor
            for message, at in shown:
                _print_message(message, at, args)
        if not args.follow:
            return Exit.OK
        feed = wa.messages(since=cursor, bodies=args.bodies)
        async for message in feed:  # each new one as it comes, through restarts of the owner, until a signal
            _print_message(message, feed.cursor, args)
    except BrokenPipeError:  # the reader went away (`| head`): no traceback, no more output
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return Exit.FAIL
    return Exit.OK


def _print_message(message: Message, cursor: str, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps({**message.to_json(), "cursor": cursor}, ensure_ascii=False), flush=True)
    else:
        print(message_line(message, bodies=args.bodies), flush=True)


def message_line(message: Message, *, bodies: bool = False, now: datetime | None = None) -> str:
    """``14:03:12  → 15550002001@c.us  delivered  22 chars`` (local time; ← an incoming one)."""
    now = now or datetime.now().astimezone()
    when = clock_time(datetime.fromtimestamp(message.time, UTC), now) if message.time else "—"
    arrow = "→" if message.direction == "out" else "←"
    chat = message.chat + (f" ({message.sender})" if message.sender else "")
    status = message.status + (f" ({message.reason})" if message.reason else "")
    line = f"{when:>12}  {arrow} {chat}  {status}  {message.size} char{'s' if message.size != 1 else ''}"
    if bodies and message.body is not None:
        line += "  " + message.body.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")
    return line


# -- watui messages webhook-test ------------------------------------------------------------------------
def webhook_test(args: argparse.Namespace, config: Config) -> int:
    """One signed test delivery to ``[messages.webhook] url``: 0 when the receiver answered 2xx, 1 otherwise,
    2 when no url is set (nothing was sent: the config's matter)."""
    from watui.core.journal.channels import _redact
    from watui.core.messages.webhook_post import test_delivery

    hook = config.messages.webhook
    if not hook.url:
        print(
            f"watui messages webhook-test: no webhook: set [messages.webhook] url (and secret) in "
            f"{config.source or 'config.toml'}",
            file=sys.stderr,
        )
        return Exit.USAGE
    answer = test_delivery(hook, config.session.client_id)
    where = _redact(hook.url)
    if args.json:
        print(json.dumps({**answer.to_json(), "url": where}), flush=True)
    elif answer.ok:
        print(f"✓ {where} answered HTTP {answer.status} in {answer.elapsed_s * 1000:.0f} ms")
    else:
        print(f"✗ {where}: {answer.reason} (after {answer.elapsed_s * 1000:.0f} ms)")
    return Exit.OK if answer.ok else Exit.FAIL


def _messages_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "action",
        nargs="?",
        choices=[WEBHOOK_TEST],
        default=None,
        help="webhook-test: send one test delivery to [messages.webhook] url and say what the receiver answered",
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        default=None,
        help="a duration (30m, 24h, 7d), a cursor of an earlier --json line (exactly what came after it), "
        "or now (only what comes next); default: all that is kept",
    )
    parser.add_argument(
        "--follow", "-f", action="store_true", help="then print each new message as it comes, until Ctrl-C"
    )
    parser.add_argument("--bodies", action="store_true", help="show the texts (hidden by default)")
    parser.add_argument(
        "--limit",
        metavar="N",
        type=int,
        default=None,
        help=f"at most the N newest (default: all those of --since; without --since the newest {DEFAULT_LIST}); "
        "with --follow, of those there at the start",
    )


# -- the commands ---------------------------------------------------------------------------------------
SEND = Command(
    "send",
    "Send a text through the running watui: print its id, or wait for its ack (--wait).",
    send,
    _send_options,
    json="print the message as JSON (its status, ack times) instead of its id",
)
MESSAGES = Command(
    "messages",
    "The outbox and inbox, newest last (--follow: then each new one); `watui messages webhook-test` tests the webhook.",
    messages,
    _messages_options,
    json="one JSON object per line, each with its cursor (for --since)",
)

__all__ = ["MESSAGES", "SEND", "message_line", "no_owner_line", "parse_since_option", "read_text"]
