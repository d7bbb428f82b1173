"""The WhatsApp Web simulator: serves the app page as https://web.whatsapp.com and its control API.

The server is the source of truth for every page it served: each page load gets an id, and the page's
WebSocket (``/ws?page=ID``) carries what the page must show (QR, loading chats, chat list, conflict,
logout). The control API (``/__sim/*``) and the in-process methods of the same names act on the newest
page, the way a phone acts on the newest linked browser.

One login is held by one tab at a time: a second tab of the same login shows "open in another window"
(CONFLICT) until its "Use here" takes the connection, which puts the first tab in conflict. Messaging is
the phone's part: contacts (the numbers on WhatsApp, a set the control API changes) receive what a page
sends, with acks that advance by themselves (sent, delivered, read) unless frozen; what a contact writes
waits for each linked login until a tab of it has received it (at its next connect, before ``hasSynced``).
Groups (``120363…@g.us``, made by the control API) are chats of the account with members: a send to one
reaches every member, a member writing in one is the message's ``author``; a medium keeps its text as caption.

It is the fake site: it imports nothing from watui's core. Its states are WhatsApp's own names. The page
comes in variants (``modules``, the default, is today's page as public clients read it; ``dom``,
``canvas``, ``unknown``), switchable live from the next page load. A browser whose user agent says
``HeadlessChrome`` gets only an "update your browser" page, as the real site answers it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import segno
from aiohttp import WSCloseCode, WSMsgType, web

from watui.sim.errors import SimError
from watui.sim.logins import LoginBook
from watui.sim.tls import Certificate, make_certificate_async


class State(StrEnum):
    """WhatsApp Web's own Socket states (what ``WAWebSocketModel.Socket.state`` says)."""

    OPENING = "OPENING"
    UNPAIRED = "UNPAIRED"
    UNPAIRED_IDLE = "UNPAIRED_IDLE"
    PAIRING = "PAIRING"
    CONNECTED = "CONNECTED"
    CONFLICT = "CONFLICT"
    TIMEOUT = "TIMEOUT"
    DEPRECATED_VERSION = "DEPRECATED_VERSION"
    PROXYBLOCK = "PROXYBLOCK"
    TOS_BLOCK = "TOS_BLOCK"
    SMB_TOS_BLOCK = "SMB_TOS_BLOCK"


S = State
VARIANTS = ("modules", "dom", "canvas", "unknown")
BLOCKS = (S.TOS_BLOCK, S.SMB_TOS_BLOCK, S.PROXYBLOCK, S.DEPRECATED_VERSION)
PLATFORM = "WEB"
PAIRING_SECONDS = 0.8
# After CONNECTED the real page syncs what arrived while it was away, then says hasSynced: a client that
# starts listening as the page loads must still see it turn.
SYNC_SECONDS = 1.5
ACK_STEP_MS = 1000  # sent -> delivered -> read, one step each this long, unless frozen
ACK_ERROR, ACK_PENDING, ACK_SERVER, ACK_DEVICE, ACK_READ, ACK_PLAYED = -1, 0, 1, 2, 3, 4
# A page we have not heard from for this long (no socket, no retry) was closed.
STALE_SECONDS = 20.0
# A page load whose WebSocket never came (a probe, or a tab closed at once) stops counting after this.
OPEN_GRACE_SECONDS = 10.0
MAX_SLOW_MS = 600_000
CLOSE_DROPPED = 4000
CLOSE_CONFLICT = 4001
CLOSE_STALLED = 4002  # the page shows the banner and does not retry: only a reload brings it back

DEMO_CHATS: tuple[dict[str, str], ...] = (
    {"name": "Family", "last": "Mum: Dinner at 8?", "time": "09:41", "unread": "2"},
    {"name": "Alice Martin", "last": "The deploy went fine", "time": "09:12", "unread": ""},
    {"name": "Ops on-call", "last": "Bob: disk at 71% on db-2", "time": "Yesterday", "unread": "5"},
    {"name": "Support desk", "last": "Ticket #4411 closed", "time": "Yesterday", "unread": ""},
    {"name": "Carol", "last": "Thanks, see you then", "time": "Tuesday", "unread": ""},
)


# The contacts' numbers (on WhatsApp by default) and their names.
DEMO_CONTACTS: dict[str, str] = {
    "15550002001": "Alice Martin",
    "15550002002": "Carol",
    "15550002003": "Mum",
    "15550002004": "Bob",
}


class SimStartError(SimError):
    """The simulator cannot start (its port is taken, or no certificate could be made)."""


class SimControlError(SimError):
    """A control request that cannot act now (e.g. scan while no QR is shown); ``status`` is its HTTP code."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.status = status


def _b64(n: int) -> str:
    return base64.b64encode(secrets.token_bytes(n)).decode()


def qr_matrix(payload: str) -> list[str]:
    """The QR modules of ``payload`` as rows of '0'/'1', for the page to draw on its canvas."""
    code = segno.make_qr(payload, error="l", boost_error=False)
    return ["".join("1" if m else "0" for m in row) for row in code.matrix]


MEDIA_TYPES = ("image", "video", "document")
# What the real site keeps as a media message's body: its thumbnail, base64 (never the caption).
THUMBNAIL = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////////////////////////////////////////////////////////2w=="
MAX_SUBJECT = 100  # WhatsApp's limit on a group's name


def _group_id(raw: object, what: str) -> str:
    """A group's chat id: ``120363…@g.us`` (today's) or ``<creator>-<time>@g.us`` (the older form)."""
    text = str(raw or "").strip()
    user, _, server = text.partition("@")
    parts = user.split("-")
    if not (server == "g.us" and len(parts) <= 2 and all(p.isascii() and p.isdigit() and 5 <= len(p) <= 25
                                                         for p in parts)):  # fmt: skip
        raise SimControlError(f"{what}: a group is 120363…@g.us or <digits>-<digits>@g.us, got {raw!r}", 400)
    return text


def _number(raw: object, what: str) -> str:
    """A phone number as WhatsApp writes it in a wid: digits with the country code (``15550002001``); a
    ``@c.us`` suffix and a leading + are accepted."""
    text = str(raw or "").strip().removeprefix("+").removesuffix("@c.us")
    if not (text.isascii() and text.isdigit() and 6 <= len(text) <= 15):
        raise SimControlError(f"{what}: a number is its digits with the country code (e.g. 15550002001), "
                              f"got {raw!r}", 400)  # fmt: skip
    return text


@dataclass
class _Sent:
    """A message a page sent, as the contact's side sees it."""

    id: str
    key: str
    to: str
    body: str
    ts: int
    ack: int
    frozen: bool = False
    task: asyncio.Task[None] | None = None
    # A group's members when it was sent (each one's phone got it). Their phones answer in step here, so the
    # message's ack (the minimum over the members, as WhatsApp shows it) moves as a contact's does.
    members: tuple[str, ...] = ()

    def summary(self) -> dict[str, Any]:
        summary = {"id": self.id, "key": self.key, "to": self.to, "body": self.body, "ack": self.ack, "t": self.ts,
                   "frozen": self.frozen}  # fmt: skip
        if self.to.endswith("@g.us"):
            summary["members"] = [f"{n}@c.us" for n in self.members]
        return summary


@dataclass
class _Group:
    """A group the account is in (it created it): its id, name and the other members' numbers."""

    id: str
    name: str
    members: tuple[str, ...]
    ts: int

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "members": [f"{n}@c.us" for n in self.members], "t": self.ts}


@dataclass
class _Incoming:
    """A message a contact wrote; ``waiting``: the logins none of whose tabs has received it yet."""

    id: str
    sender: str
    body: str
    ts: int
    waiting: set[str]
    linked: int = 0  # logins when it was written: with none, nobody has it (only the phone)
    group: str | None = None  # written in this group (``sender`` is its author), or to the account alone
    kind: str = "chat"  # "chat" (a text: ``body``) or a media type (``body`` is its caption)

    def __post_init__(self) -> None:
        self.linked = len(self.waiting)

    @property
    def chat(self) -> str:
        return self.group or f"{self.sender}@c.us"

    def wire(self) -> dict[str, Any]:
        wire = {"t": "msg", "id": self.id, "from": self.chat, "body": self.body, "ts": self.ts,
                "name": DEMO_CONTACTS.get(self.sender, ""), "type": self.kind}  # fmt: skip
        if self.group is not None:
            wire["author"] = f"{self.sender}@c.us"
        if self.kind != "chat":  # the page keeps the thumbnail as the body and the text as the caption
            wire.update(body=THUMBNAIL, caption=self.body, mimetype="image/jpeg" if self.kind == "image" else "")
        return wire

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "from": f"{self.sender}@c.us", "chat": self.chat, "type": self.kind,
                "body": self.body, "t": self.ts, "delivered": self.linked > 0 and not self.waiting,
                "waiting": len(self.waiting)}  # fmt: skip


def _read_static() -> dict[str, str]:
    """The page's files (index.html, app.js, app.css), read once at start."""
    folder = resources.files("watui.sim") / "static"
    return {item.name: item.read_text(encoding="utf-8") for item in folder.iterdir() if item.is_file()}


@dataclass
class _Page:
    """One page load as the server sees it."""

    id: str
    created: float
    last_seen: float
    state: State = S.OPENING
    ws: web.WebSocketResponse | None = None
    # The page's static and identity keys and adv secret: fixed per page, only the ref rotates.
    keys: dict[str, str] = field(
        default_factory=lambda: {
            "staticKey": _b64(32),
            "identityKey": _b64(32),
            "advSecretKey": _b64(32),
            "platform": PLATFORM,
        }
    )
    ref: str | None = None
    qr: str | None = None
    rotations: int = 0
    login: str | None = None
    timer: asyncio.Task[None] | None = None
    sync: asyncio.Task[None] | None = None  # the offline backlog, then hasSynced
    connected_once: bool = False

    def cancel_timer(self) -> None:
        for task in (self.timer, self.sync):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        self.timer = self.sync = None

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "state": self.state.value, "connected": self.ws is not None,
                "logged_in": self.login is not None}  # fmt: skip


class Simulator:
    """The simulator server. ``await start()`` binds; ``await close()`` stops it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        state_dir: Path | None = None,
        qr_rotate_ms: int = 20000,
        qr_rotations: int = 6,
        account_name: str = "Demo Operator",
        account_number: str = "15550001234",
        page: str = "modules",
        numbers: Iterable[str] | None = None,
        ack_step_ms: int = ACK_STEP_MS,
    ) -> None:
        self.host = host
        self.port = port
        self.state_dir = state_dir
        if qr_rotate_ms < 1 or qr_rotations < 0:
            raise ValueError(f"qr_rotate_ms must be >= 1 and qr_rotations >= 0, got {qr_rotate_ms}, {qr_rotations}")
        self.qr_rotate_ms = qr_rotate_ms
        self.qr_rotations = qr_rotations
        self.account_name = account_name
        self.account_number = account_number
        if page not in VARIANTS:
            raise ValueError(f"page must be one of {', '.join(VARIANTS)}, got {page!r}")
        self.variant = page
        if ack_step_ms < 1:
            raise ValueError(f"ack_step_ms must be >= 1, got {ack_step_ms}")
        self.ack_step_ms = ack_step_ms
        # The numbers on WhatsApp: anyone else is "not on WhatsApp" (QueryExists, sends, incoming).
        self.numbers: set[str] = (
            set(DEMO_CONTACTS) | {account_number} if numbers is None else {_number(n, "numbers") for n in numbers}
        )
        self.acks_frozen = False
        self._sent: dict[str, _Sent] = {}  # by message id, in order
        self._undeliverable: list[_Sent] = []
        self._incoming: list[_Incoming] = []
        self._groups: dict[str, _Group] = {}  # by chat id, in order of creation
        self.user_agent: str | None = None  # the newest page load's
        self.scans = 0
        self.down_flag = False
        self.slow_ms = 0
        self.certificate: Certificate | None = None
        self._logins = LoginBook(state_dir)
        self._pages: dict[str, _Page] = {}
        self._runner: web.AppRunner | None = None
        self._files: dict[str, str] = {}
        # Called with one line per page event (loaded, state change, gone), for `watui sim`'s log.
        self.on_event: Callable[[str], None] | None = None

    def _log(self, line: str) -> None:
        if self.on_event is not None:
            self.on_event(line)

    def _emit(self, page: _Page, what: str) -> None:
        self._log(f"page {page.id[:6]}: {what}")

    def _to(self, page: _Page, state: State) -> None:
        if page.state is not state:
            page.state = state
            self._emit(page, state.value)

    # -- lifecycle -----------------------------------------------------------------------------------
    @property
    def connect_host(self) -> str:
        """Where a client on this machine reaches the server (a wildcard bind is reached on loopback)."""
        return "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host

    @property
    def base_url(self) -> str:
        host = f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host
        return f"https://{host}:{self.port}"

    def browser_args(self) -> list[str]:
        """Chromium flags that make https://web.whatsapp.com this server and trust only its certificate."""
        host = f"[{self.connect_host}]" if ":" in self.connect_host else self.connect_host
        args = [f"--host-resolver-rules=MAP web.whatsapp.com {host}:{self.port}"]
        if self.certificate is not None:
            args.append(f"--ignore-certificate-errors-spki-list={self.certificate.spki_sha256}")
        return args

    async def start(self) -> None:
        self.certificate = await make_certificate_async()
        self._files = await asyncio.to_thread(_read_static)
        app = web.Application(middlewares=[self._json_errors])
        app.router.add_get("/", self._serve_page)
        app.router.add_get("/ws", self._serve_ws)
        app.router.add_get("/static/{name}", self._serve_static)
        app.router.add_get("/favicon.ico", self._serve_favicon)
        app.router.add_get("/__sim/state", self._http_state)
        app.router.add_route("*", "/__sim/slow", self._http_slow)
        app.router.add_get("/__sim/messages", self._http_messages)
        app.router.add_post("/__sim/incoming", self._http_incoming)
        app.router.add_post("/__sim/ack", self._http_ack)
        app.router.add_route("*", "/__sim/numbers", self._http_numbers)
        app.router.add_route("*", "/__sim/groups", self._http_groups)
        for name in ("scan", "logout", "conflict", "drop", "stall", "down", "up", "page", "block"):
            app.router.add_post(f"/__sim/{name}", self._http_action(name))
        app.router.add_route("*", "/__sim/{rest:.*}", self._http_unknown)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise SimStartError(f"simulator cannot listen on {self.host}:{self.port}: {exc.strerror}") from exc
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        # A page load held by /__sim/slow must not hold up a stop: handlers are cancelled when their client
        # goes, and cleanup waits at most a second for the rest (aiohttp waits 60 s by default).
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self.certificate.context).start()

    async def close(self) -> None:
        pages = list(self._pages.values())
        for page in pages:
            page.cancel_timer()
        for sent in self._sent.values():
            if sent.task is not None:
                sent.task.cancel()
        await asyncio.gather(*(self._close_ws(p, WSCloseCode.GOING_AWAY, p.state) for p in pages))
        self._pages.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- what the control API reads ------------------------------------------------------------------
    def _prune(self) -> None:
        now = time.monotonic()
        for page in list(self._pages.values()):
            # A page in conflict waits silently for "Use here" (a blocked one for ever); others retry.
            quiet = page.ws is None and page.state is not S.CONFLICT and page.state not in BLOCKS
            limit = (STALE_SECONDS if page.connected_once else OPEN_GRACE_SECONDS) + self.slow_ms / 1000
            if quiet and now - page.last_seen > limit:
                page.cancel_timer()
                del self._pages[page.id]
                self._emit(page, "gone (not heard from)")

    def _newest(self, *states: State) -> _Page | None:
        self._prune()
        pages = [p for p in self._pages.values() if not states or p.state in states]
        return max(pages, key=lambda p: p.created) if pages else None

    def state(self) -> dict[str, Any]:
        page = self._newest()
        return {
            "state": page.state.value if page else "NO_PAGE",
            "qr": page.qr if page and page.state is S.UNPAIRED else None,
            "qr_rotations": page.rotations if page else 0,
            "scans": self.scans,
            "connections": sum(1 for p in self._pages.values() if p.ws is not None),
            "logins": len(self._logins.active),
            "down": self.down_flag,
            "slow_ms": self.slow_ms,
            "account": {"name": self.account_name, "number": self.account_number},
            "pages": [p.summary() for p in sorted(self._pages.values(), key=lambda p: p.created)],
            "url": self.base_url,
            "variant": self.variant,
            "userAgent": self.user_agent,
            "messages": len(self._sent),
            "incoming": len(self._incoming),
            "groups": [g.summary() for g in self._groups.values()],
            "acks_frozen": self.acks_frozen,
        }

    # -- control verbs -------------------------------------------------------------------------------
    async def scan(self, qr: str | None = None) -> dict[str, Any]:
        """Scan the QR of the newest page showing one (or exactly ``qr``, if given)."""
        if qr is None:
            page = self._newest(S.UNPAIRED)
            if page is None:
                raise SimControlError("no QR code is shown: nothing to scan")
        else:
            self._prune()
            page = next((p for p in self._pages.values() if p.qr == qr and p.state is S.UNPAIRED), None)
            if page is None:
                raise SimControlError("that QR code is not shown any more (rotated, expired or scanned)")
        page.cancel_timer()
        page.qr = None
        self._to(page, S.PAIRING)
        self.scans += 1
        await self._send(page, {"t": "pairing"})
        page.timer = asyncio.create_task(self._finish_pairing(page))
        return {"ok": True, "page": page.id, "state": page.state.value, "scans": self.scans}

    async def logout(self) -> dict[str, Any]:
        """Log out the newest logged-in page (as from the phone); with none, every issued login."""
        self._prune()
        holders = [p for p in self._pages.values() if p.login is not None]
        page = max(holders, key=lambda p: p.created) if holders else None
        login_id = page.login if page is not None else None
        if page is None or login_id is None:
            active = self._logins.active
            if not active:
                raise SimControlError("nobody is logged in: nothing to log out")
            for every in active:
                self._logins.revoke(every)
                for incoming in self._incoming:
                    incoming.waiting.discard(every)
            await self._logins.save()
            return {"ok": True, "revoked": len(active), "pages": 0}
        tabs = await self._revoke(login_id)
        return {"ok": True, "revoked": 1, "pages": tabs, "page": page.id}

    async def _revoke(self, login_id: str) -> int:
        """Log one login out: its tabs are told and show a QR. Returns how many tabs held it."""
        self._logins.revoke(login_id)
        await self._logins.save()
        for incoming in self._incoming:
            incoming.waiting.discard(login_id)
        holders = [p for p in self._pages.values() if p.login == login_id]
        for holder in holders:
            holder.login = None
            if holder.ws is not None:
                holder.cancel_timer()
                await self._send(holder, {"t": "logged_out", "reason": "logout"})
                await self._show_qr(holder)
        return len(holders)

    async def conflict(self) -> dict[str, Any]:
        """The newest connected page is told WhatsApp is open in another window; its socket closes."""
        page = self._newest(S.CONNECTED)
        if page is None or page.ws is None:
            raise SimControlError("no connected page: nothing to put in conflict")
        self._to(page, S.CONFLICT)
        await self._send(page, {"t": "conflict"})
        await self._close_ws(page, CLOSE_CONFLICT, S.CONFLICT)
        return {"ok": True, "page": page.id, "state": page.state.value}

    async def drop(self) -> dict[str, Any]:
        """Close every page's WebSocket; the pages show the banner and retry by themselves."""
        dropped = await self._drop_all()
        if not dropped:
            raise SimControlError("no live connection to drop")
        return {"ok": True, "dropped": dropped}

    async def stall(self) -> dict[str, Any]:
        """Close every page's WebSocket so that the pages give up: they show the banner and never retry,
        as a WhatsApp Web tab that stopped trying. Only reloading the page (watui's recovery) recovers."""
        dropped = await self._drop_all(CLOSE_STALLED)
        if not dropped:
            raise SimControlError("no live connection to stall")
        return {"ok": True, "stalled": dropped}

    async def down(self) -> dict[str, Any]:
        """Refuse page loads and WebSocket upgrades (503) until ``up``; live sockets are closed."""
        self.down_flag = True
        dropped = await self._drop_all()
        return {"ok": True, "down": True, "dropped": dropped}

    async def up(self) -> dict[str, Any]:
        self.down_flag = False
        return {"ok": True, "down": False}

    async def page(self, variant: str) -> dict[str, Any]:
        """Serve page ``variant`` from the next page load on ("the site changed overnight")."""
        if variant not in VARIANTS:
            raise SimControlError(f"page: variant must be one of {', '.join(VARIANTS)}, got {variant!r}", 400)
        self.variant = variant
        return {"ok": True, "variant": variant}

    async def block(self, reason: str) -> dict[str, Any]:
        """Put the newest page in one of WhatsApp's blocking states; its connection closes for good."""
        names = ", ".join(b.value for b in BLOCKS)
        if reason not in {b.value for b in BLOCKS}:
            raise SimControlError(f"block: reason must be one of {names}, got {reason!r}", 400)
        page = self._newest()
        if page is None or page.ws is None:
            raise SimControlError("no connected page: nothing to block")
        page.cancel_timer()
        page.qr = None
        state = State(reason)
        self._to(page, state)
        await self._send(page, {"t": "blocked", "reason": reason})
        await self._close_ws(page, CLOSE_CONFLICT, state)
        return {"ok": True, "page": page.id, "state": reason}

    # -- messaging: the contacts' side -----------------------------------------------------------------
    def messages(self) -> dict[str, Any]:
        """What contacts received (id, to, body, ack), what could not be delivered, what contacts wrote."""
        return {
            "messages": [m.summary() for m in self._sent.values()],
            "undeliverable": [m.summary() for m in self._undeliverable],
            "incoming": [m.summary() for m in self._incoming],
            "acks_frozen": self.acks_frozen,
        }

    def groups(self) -> dict[str, Any]:
        return {"ok": True, "groups": [g.summary() for g in self._groups.values()]}

    async def create_group(self, name: object, members: object, group_id: object = None) -> dict[str, Any]:
        """The account creates group ``name`` with ``members`` (numbers on WhatsApp): its tabs see the chat."""
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_SUBJECT:
            raise SimControlError(f"groups: name must be a non-empty string of at most {MAX_SUBJECT} characters, "
                                  f"got {name!r}", 400)  # fmt: skip
        if not isinstance(members, list) or not members:
            raise SimControlError('groups: members must be a non-empty list of numbers, e.g. ["15550002001"]', 400)
        numbers = list(dict.fromkeys(_number(m, "groups: members") for m in members))
        strangers = [n for n in numbers if n not in self.numbers]
        if strangers:
            raise SimControlError(f"groups: {', '.join(strangers)} not on WhatsApp "
                                  "(add with POST /__sim/numbers?add=)", 409)  # fmt: skip
        if group_id is None:
            group_id = f"120363{secrets.randbelow(10**12):012d}@g.us"
        chat = _group_id(group_id, "groups: id")
        if chat in self._groups:
            raise SimControlError(f"groups: {chat} exists already", 409)
        group = _Group(id=chat, name=name.strip(), members=tuple(n for n in numbers if n != self.account_number),
                       ts=int(time.time()))  # fmt: skip
        self._groups[chat] = group
        for page in self._online():
            await self._send(page, {"t": "group", "group": self._group_wire(group)})
        return {"ok": True, **group.summary()}

    def _group_wire(self, group: _Group) -> dict[str, Any]:
        return {**group.summary(), "owner": f"{self.account_number}@c.us"}

    async def incoming(
        self, sender: str, text: object, group: object = None, kind: object = "chat", caption: object = None
    ) -> dict[str, Any]:
        """Contact ``sender`` writes ``text`` (to the account, or in ``group``, of which it is a member), or
        sends a medium ``kind`` with ``caption``: every linked login gets it, now or at its next connect."""
        number = _number(sender, "incoming: from")
        if number not in self.numbers:
            raise SimControlError(f"incoming: {number} is not on WhatsApp (add it with POST /__sim/numbers?add=)",
                                  409)  # fmt: skip
        chat: str | None = None
        if group is not None:
            chat = _group_id(group, "incoming: group")
            if chat not in self._groups:
                raise SimControlError(f"incoming: no group {chat} (see GET /__sim/groups)", 404)
            if number not in self._groups[chat].members:
                raise SimControlError(f"incoming: {number} is not a member of {chat}", 409)
        if kind == "chat":
            if not isinstance(text, str) or not text:
                raise SimControlError("incoming: give the message as text (a non-empty string)", 400)
            body = text
        elif kind in MEDIA_TYPES:
            if caption is not None and not isinstance(caption, str):
                raise SimControlError(f"incoming: caption must be a string, got {caption!r}", 400)
            body = caption or ""
        else:
            raise SimControlError(f"incoming: type must be chat or one of {', '.join(MEDIA_TYPES)}, got {kind!r}", 400)
        message = _Incoming(id=f"3A{secrets.token_hex(9).upper()}", sender=number, body=body, ts=int(time.time()),
                            waiting=set(self._logins.active), group=chat, kind=kind)  # fmt: skip
        self._incoming.append(message)
        live = self._receivers(message)
        for page in live:
            await self._send(page, message.wire())
        return {"ok": True, "id": message.id, "logins": len(message.waiting), "pages": len(live)}

    async def ack(self, msg_id: str | None, ack: int | None, freeze: bool | None) -> dict[str, Any]:
        """Move a message's ack (``ack``), or stop/resume its advance (``freeze``); without ``msg_id``,
        ``freeze`` holds every ack, of the messages sent so far and to come."""
        if msg_id is None:
            if freeze is None or ack is not None:
                raise SimControlError("ack: give ?id=MESSAGE&ack=N, ?id=MESSAGE&freeze=1|0, or ?freeze=1|0", 400)
            self.acks_frozen = freeze
            for each in self._sent.values():
                self._freeze(each, freeze)
            return {"ok": True, "acks_frozen": freeze}
        sent = self._sent.get(msg_id) or next((m for m in self._sent.values() if m.key == msg_id), None)
        if sent is None:
            raise SimControlError(f"ack: no sent message {msg_id!r} (see GET /__sim/messages)", 404)
        if ack is not None:
            if not sent.ack <= ack <= ACK_PLAYED:
                raise SimControlError(f"ack: an ack only advances, from {sent.ack} to at most {ACK_PLAYED}; got {ack}",
                                      409)  # fmt: skip
            await self._set_ack(sent, ack)
        if freeze is not None:
            self._freeze(sent, freeze)
        return {"ok": True, **sent.summary()}

    async def set_numbers(self, add: Iterable[str] = (), remove: Iterable[str] = ()) -> dict[str, Any]:
        """Change which numbers are on WhatsApp."""
        adding = {_number(n, "numbers: add") for n in add}
        removing = {_number(n, "numbers: remove") for n in remove}
        self.numbers = (self.numbers | adding) - removing
        return {"ok": True, "numbers": sorted(self.numbers)}

    def _freeze(self, sent: _Sent, frozen: bool) -> None:
        sent.frozen = frozen
        if frozen and sent.task is not None:
            sent.task.cancel()
            sent.task = None
        elif not frozen:
            self._advance_later(sent)

    def _advance_later(self, sent: _Sent) -> None:
        if sent.frozen or sent.ack < ACK_SERVER or sent.ack >= ACK_READ or sent.task is not None:
            return
        sent.task = asyncio.create_task(self._advance(sent))

    async def _advance(self, sent: _Sent) -> None:
        """sent -> delivered -> read, a step every ack_step_ms (the contact's phone, then its eyes)."""
        try:
            while not sent.frozen and sent.ack < ACK_READ:
                await asyncio.sleep(self.ack_step_ms / 1000)
                await self._set_ack(sent, sent.ack + 1)
        finally:
            if sent.task is asyncio.current_task():
                sent.task = None

    async def _set_ack(self, sent: _Sent, ack: int) -> None:
        if ack == sent.ack:
            return
        sent.ack = ack
        self._log(f"message {sent.id}: ack {ack}")
        for page in self._online():
            await self._send(page, {"t": "ack", "id": sent.id, "key": sent.key, "ack": ack})

    def _online(self) -> list[_Page]:
        return [p for p in self._pages.values() if p.login is not None and p.ws is not None and p.state is S.CONNECTED]

    def _receivers(self, message: _Incoming) -> list[_Page]:
        return [p for p in self._online() if p.login in message.waiting]

    async def slow(self, ms: int) -> dict[str, Any]:
        """Delay every page (HTML) load by ``ms`` milliseconds; 0 resets."""
        if not 0 <= ms <= MAX_SLOW_MS:
            raise SimControlError(f"slow: ms must be 0-{MAX_SLOW_MS}, got {ms}", 400)
        self.slow_ms = ms
        return {"ok": True, "slow_ms": ms}

    # -- page flows ----------------------------------------------------------------------------------
    async def _drop_all(self, code: int = CLOSE_DROPPED) -> int:
        live = [p for p in self._pages.values() if p.ws is not None]
        for page in live:
            page.cancel_timer()
            page.qr = None
        await asyncio.gather(*(self._close_ws(p, code, S.TIMEOUT) for p in live))
        return len(live)

    async def _close_ws(self, page: _Page, code: int, then: State) -> None:
        """Close the page's socket from the server side: the page stays known, in state ``then``."""
        ws, page.ws = page.ws, None
        self._to(page, then)
        page.last_seen = time.monotonic()
        if ws is not None and not ws.closed:
            with contextlib.suppress(Exception):
                await ws.close(code=code, message=then.value.encode())

    async def _send(self, page: _Page, message: dict[str, Any]) -> None:
        ws = page.ws
        if ws is None or ws.closed:
            return
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps(message))

    async def _show_qr(self, page: _Page) -> None:
        page.cancel_timer()
        page.rotations = 0
        self._to(page, S.UNPAIRED)
        await self._send_new_ref(page)
        page.timer = asyncio.create_task(self._rotate(page))

    async def _send_new_ref(self, page: _Page) -> None:
        # The payload as public clients build it from the page's modules: ref,staticKey,identityKey,adv,platform.
        k = page.keys
        page.ref = f"2@{_b64(66)}"
        page.qr = ",".join((page.ref, k["staticKey"], k["identityKey"], k["advSecretKey"], k["platform"]))
        await self._send(page, {"t": "qr", "payload": page.qr, "ref": page.ref, "keys": k,
                                "matrix": qr_matrix(page.qr)})  # fmt: skip

    async def _rotate(self, page: _Page) -> None:
        """A new ref every qr_rotate_ms; after qr_rotations rotations the QR expires."""
        while True:
            await asyncio.sleep(self.qr_rotate_ms / 1000)
            if page.rotations >= self.qr_rotations:
                self._to(page, S.UNPAIRED_IDLE)
                page.qr = None
                page.timer = None
                await self._send(page, {"t": "qr_expired"})
                return
            page.rotations += 1
            await self._send_new_ref(page)

    async def _finish_pairing(self, page: _Page) -> None:
        await asyncio.sleep(PAIRING_SECONDS)
        page.timer = None
        if page.ws is None or page.state is not S.PAIRING:
            return  # the page went away while "loading chats": the phone never linked it
        login_id, token = self._logins.issue()
        await self._logins.save()
        page.login = login_id
        await self._connect(page, token)

    async def _connect(self, page: _Page, token: str) -> None:
        self._to(page, S.CONNECTED)
        await self._send(page, {
            "t": "connected", "token": token, "wid": f"{self.account_number}:1@c.us",
            "account": {"name": self.account_name, "number": f"+{self.account_number}"},
            "chats": list(DEMO_CHATS), "groups": [self._group_wire(g) for g in self._groups.values()],
        })  # fmt: skip
        if page.sync is not None:
            page.sync.cancel()
        page.sync = asyncio.create_task(self._sync(page))

    async def _sync(self, page: _Page) -> None:
        """What a linked device gets on connecting: what was written to it meanwhile and the acks of what it
        sent, then ``hasSynced``."""
        await asyncio.sleep(SYNC_SECONDS)
        if page.ws is None or page.state is not S.CONNECTED or page.login is None:
            return
        for message in [m for m in self._incoming if page.login in m.waiting]:
            await self._send(page, message.wire())
        for sent in self._sent.values():
            await self._send(page, {"t": "ack", "id": sent.id, "key": sent.key, "ack": sent.ack})
        await self._send(page, {"t": "synced"})
        page.sync = None

    async def _conflict_page(self, page: _Page) -> None:
        page.cancel_timer()
        self._to(page, S.CONFLICT)
        await self._send(page, {"t": "conflict"})
        await self._close_ws(page, CLOSE_CONFLICT, S.CONFLICT)

    async def _page_sent(self, page: _Page, message: dict[str, Any]) -> None:
        """A page sends a message: to a number on WhatsApp it is the server's (ack 1), then the contact's;
        a resend of an id already sent changes nothing (the contact gets it once)."""
        msg_id, key, to = message.get("id"), message.get("key"), message.get("to")
        if page.login is None or page.state is not S.CONNECTED:
            return
        if not (isinstance(msg_id, str) and msg_id and isinstance(key, str) and isinstance(to, str)):
            return
        sent = self._sent.get(msg_id) or next((m for m in self._undeliverable if m.id == msg_id), None)
        if sent is None:
            body = message.get("body")
            ts = message.get("ts")
            sent = _Sent(id=msg_id, key=key, to=to, body=body if isinstance(body, str) else "",
                         ts=ts if isinstance(ts, int) else int(time.time()), ack=ACK_SERVER,
                         frozen=self.acks_frozen)  # fmt: skip
            user = to.split("@")[0]
            group = self._groups.get(to)
            if (to.endswith("@c.us") and user in self.numbers) or group is not None:
                sent.members = group.members if group is not None else ()
                self._sent[msg_id] = sent
                self._log(f"message {msg_id} to {to}: sent")
                self._advance_later(sent)
            else:
                sent.ack = ACK_ERROR
                self._undeliverable.append(sent)
                self._log(f"message {msg_id} to {to}: {'no such group' if to.endswith('@g.us') else 'not on WhatsApp'}")
        await self._send(page, {"t": "ack", "id": sent.id, "key": sent.key, "ack": sent.ack})

    async def _hello(self, page: _Page, message: dict[str, Any]) -> None:
        token = message.get("token")
        login_id = self._logins.check(token)
        if login_id is not None:
            assert isinstance(token, str)
            page.login = login_id
            holders = [p for p in self._online() if p.login == login_id and p is not page]
            if holders and not message.get("takeover"):
                await self._conflict_page(page)  # another tab holds this login: "open in another window"
                return
            for holder in holders:  # "Use here": this tab takes the connection from the other
                await self._conflict_page(holder)
            await self._connect(page, token)
            return
        page.login = None
        if token:
            await self._send(page, {"t": "logged_out", "reason": "invalid"})
        await self._show_qr(page)

    async def _on_message(self, page: _Page, message: dict[str, Any]) -> None:
        kind = message.get("t")
        if kind == "hello":
            await self._hello(page, message)
        elif kind == "reload_qr" and page.state is S.UNPAIRED_IDLE:
            await self._show_qr(page)
        elif kind == "send":
            await self._page_sent(page, message)
        elif kind == "receipt" and page.login is not None:
            for incoming in self._incoming:
                if incoming.id == message.get("id"):
                    incoming.waiting.discard(page.login)
        elif kind == "exists?":
            user = str(message.get("user", ""))
            await self._send(page, {"t": "exists", "req": message.get("req"), "user": user,
                                    "exists": user in self.numbers})  # fmt: skip
        elif kind == "logout" and page.login is not None:
            self._log(f"page {page.id[:6]}: logged out from the page")
            await self._revoke(page.login)

    # -- HTTP: the page ------------------------------------------------------------------------------
    def _unavailable(self) -> web.Response:
        return web.Response(status=503, text="503 Service Unavailable (simulator is down)\n")

    async def _serve_page(self, request: web.Request) -> web.StreamResponse:
        if self.down_flag:
            return self._unavailable()
        user_agent = request.headers.get("User-Agent", "")
        navigation = request.headers.get("Sec-Fetch-Mode") == "navigate"
        if navigation:
            self.user_agent = user_agent
        if "HeadlessChrome" in user_agent:
            self._log("page load refused: HeadlessChrome user agent")
            return web.Response(text=UPDATE_BROWSER_HTML, content_type="text/html",
                                headers={"Cache-Control": "no-store"})  # fmt: skip
        now = time.monotonic()
        page = _Page(id=secrets.token_hex(8), created=now, last_seen=now)
        # Only a browser's navigation is a page; a probe (curl, a health check) must not hide the real one.
        if request.headers.get("Sec-Fetch-Mode") == "navigate":
            self._pages[page.id] = page
        self._emit(page, f"page load{f' (slowed by {self.slow_ms} ms)' if self.slow_ms else ''}")
        if self.slow_ms:
            await asyncio.sleep(self.slow_ms / 1000)
        page.last_seen = time.monotonic()
        if self.variant == "unknown":
            html = UNKNOWN_HTML
        else:
            startup = "" if self.variant == "modules" else 'id="startup" '
            html = (self._files["index.html"].replace("{{PAGE_ID}}", page.id).replace("{{VARIANT}}", self.variant)
                    .replace("{{STARTUP_ID}}", startup))  # fmt: skip
        return web.Response(text=html, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _serve_static(self, request: web.Request) -> web.StreamResponse:
        if self.down_flag:
            return self._unavailable()
        name = request.match_info["name"]
        types = {".js": "text/javascript", ".css": "text/css"}
        suffix = Path(name).suffix
        if suffix not in types or name not in self._files:
            raise web.HTTPNotFound()
        return web.Response(text=self._files[name], content_type=types[suffix],
                            headers={"Cache-Control": "no-cache"})  # fmt: skip

    async def _serve_favicon(self, request: web.Request) -> web.StreamResponse:
        return web.Response(status=204)

    async def _serve_ws(self, request: web.Request) -> web.StreamResponse:
        page_id = request.query.get("page", "")
        known = self._pages.get(page_id)
        if known is not None:
            known.last_seen = time.monotonic()  # a retry proves the page is alive, even when refused
        if self.down_flag:
            return self._unavailable()
        ws = web.WebSocketResponse(timeout=2.0)
        await ws.prepare(request)
        now = time.monotonic()
        page = known or _Page(id=page_id or secrets.token_hex(8), created=now, last_seen=now)
        self._pages[page.id] = page
        if page.ws is not None:
            await self._close_ws(page, CLOSE_DROPPED, page.state)
        page.ws = ws
        page.connected_once = True
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    message = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(message, dict):
                    await self._on_message(page, message)
        finally:
            if page.ws is ws:  # closed by the page itself: it was unloaded or its browser went away
                page.cancel_timer()
                page.ws = None
                self._pages.pop(page.id, None)
                self._emit(page, "closed by the browser")
        return ws

    # -- HTTP: the control API -----------------------------------------------------------------------
    @web.middleware
    async def _json_errors(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if not request.path.startswith("/__sim/"):
            return await handler(request)
        try:
            return await handler(request)
        except SimControlError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
        except web.HTTPException as exc:
            return web.json_response({"ok": False, "error": f"{request.method} {request.path}: {exc.reason}"},
                                     status=exc.status)  # fmt: skip

    async def _http_state(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.state())

    def _http_action(self, name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                if name == "scan":
                    result = await self.scan(request.query.get("qr") or None)
                elif name == "page":
                    result = await self.page(request.query.get("variant", ""))
                elif name == "block":
                    result = await self.block(request.query.get("reason", ""))
                else:
                    verb: Callable[[], Awaitable[dict[str, Any]]] = getattr(self, name)
                    result = await verb()
            except SimControlError as exc:
                self._log(f"control: {name} refused: {exc}")
                raise
            self._log(f"control: {name}")
            return web.json_response(result)

        return handle

    async def _http_slow(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "POST"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        raw = request.query.get("ms")
        if raw is None:
            raise SimControlError("slow: give the delay as ?ms=N (0 resets)", 400)
        try:
            ms = int(raw)
        except ValueError:
            raise SimControlError(f"slow: ms must be a whole number of milliseconds, got {raw!r}", 400) from None
        result = await self.slow(ms)
        self._log(f"control: slow {ms} ms")
        return web.json_response(result)

    async def _http_messages(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.messages())

    async def _http_incoming(self, request: web.Request) -> web.StreamResponse:
        """A contact writes: ``{"from": "15550002001", "text": "hello"}`` (JSON body, or ?from=&text=)."""
        fields: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            try:
                body = await request.json()
            except ValueError:
                raise SimControlError('incoming: the body must be JSON, {"from": NUMBER, "text": TEXT}', 400) from None
            if not isinstance(body, dict):
                raise SimControlError('incoming: the body must be a JSON object, {"from": NUMBER, "text": TEXT}', 400)
            fields.update(body)
        result = await self.incoming(str(fields.get("from", "")), fields.get("text", ""), fields.get("group"),
                                     fields.get("type", "chat"), fields.get("caption"))  # fmt: skip
        self._log(
            f"control: incoming from {fields.get('from')}{' in ' + str(fields['group']) if 'group' in fields else ''}"
        )
        return web.json_response(result)

    async def _http_ack(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        ack: int | None = None
        if "ack" in query:
            try:
                ack = int(query["ack"])
            except ValueError:
                raise SimControlError(f"ack: ack must be a whole number 1-4, got {query['ack']!r}", 400) from None
        freeze: bool | None = None
        if "freeze" in query:
            if query["freeze"] not in ("0", "1"):
                raise SimControlError(f"ack: freeze must be 1 or 0, got {query['freeze']!r}", 400)
            freeze = query["freeze"] == "1"
        result = await self.ack(query.get("id") or None, ack, freeze)
        self._log(f"control: ack {dict(query)}")
        return web.json_response(result)

    async def _http_numbers(self, request: web.Request) -> web.StreamResponse:
        if request.method == "GET":
            return web.json_response({"ok": True, "numbers": sorted(self.numbers)})
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        result = await self.set_numbers(request.query.getall("add", []), request.query.getall("remove", []))
        self._log(f"control: numbers {dict(request.query)}")
        return web.json_response(result)

    async def _http_groups(self, request: web.Request) -> web.StreamResponse:
        """``GET``: the groups; ``POST`` ``{"name": NAME, "members": [NUMBER, ...]}`` (optional ``id``) creates one."""
        if request.method == "GET":
            return web.json_response(self.groups())
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        try:
            body = await request.json()
        except ValueError:
            raise SimControlError(
                'groups: the body must be JSON, {"name": NAME, "members": [NUMBER, ...]}', 400
            ) from None
        if not isinstance(body, dict):
            raise SimControlError(
                'groups: the body must be a JSON object, {"name": NAME, "members": [NUMBER, ...]}', 400
            )
        result = await self.create_group(body.get("name"), body.get("members"), body.get("id"))
        self._log(f"control: group {result['id']} created")
        return web.json_response(result)

    async def _http_unknown(self, request: web.Request) -> web.StreamResponse:
        known = ("state", "scan", "logout", "conflict", "drop", "stall", "down", "up", "slow", "page", "block",
                 "messages", "incoming", "ack", "numbers", "groups")  # fmt: skip
        name = request.match_info["rest"]
        if name == "messages":
            raise SimControlError(f"{request.method} /__sim/messages: use GET", 405)
        if name in known:
            raise SimControlError(
                f"{request.method} /__sim/{name}: use POST (GET only for state, slow, messages, numbers and groups)",
                405,
            )
        raise SimControlError(f"/__sim/{name}: no such control; try one of {', '.join(known)}", 404)


# What the real site answers a browser that says it is HeadlessChrome.
UPDATE_BROWSER_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>WhatsApp</title></head>
<body style="font-family: sans-serif; text-align: center; padding-top: 80px">
<h1>WhatsApp works with Google Chrome 85 and newer</h1>
<p>To use WhatsApp, update Chrome or use Mozilla Firefox, Safari, Microsoft Edge or Opera.</p>
<p><a href="https://www.google.com/chrome">Update Google Chrome</a></p>
</body></html>
"""

# A page that loads and that nothing recognises: no Debug, no require, no known selector, no canvas.
UNKNOWN_HTML = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>WhatsApp</title></head>
<body><div class="x9f619 x78zum5 xdt5ytf"><div class="x1n2onr6 x1iyjqo2">
<div class="xk50ysn x1a02dak">WhatsApp</div><div class="x1c4vz4f">Something new is coming</div>
</div></div></body></html>
"""
