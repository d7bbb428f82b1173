"""Alerts: rules read from the manager's events, deduplicated, and delivered to the operator.

:class:`AlertRules` is pure (events and a clock in, :class:`Alert` s out): one ``firing`` when a problem
starts and one ``resolved`` when it ends; a rule that fired less than ``repeat_every_s`` ago stays
quiet (neither its firing nor its resolve is sent), so a flapping connection does not flood anyone.

Rules (each alert carries its name as ``alert``): ``disconnected`` (away from CONNECTED, after being
connected, longer than ``down_after_s``, unless a more precise rule below is already firing),
``qr_needed`` (logged out, or a login that expired), ``failed``, ``conflict``, ``unrecognised`` (the
core's ``unrecognised`` event: no page channel recognised WhatsApp Web; the evidence folder is named),
``too_large`` (the session on disk), ``memory`` (browser above ``memory_mb``), ``restarts`` (the connection dropped more
than ``max_restarts_per_hour`` times in the last hour).

:class:`Dispatcher` delivers an alert to every configured channel, each in its own daemon thread so a
hung receiver never holds the event loop, the default executor or watui's exit: webhooks (JSON POST,
``X-Watui-Signature: sha256=<HMAC-SHA256 of the body>``, ``X-Watui-Delivery: <the alert's id>``,
retried with backoff only while the receiver certainly does not have it, see :class:`WebhookChannel`), a
command (argv, JSON on stdin, ``WATUI_ALERT_*`` variables, a timeout) and Apprise URLs.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from watui.config import AlertSettings, Config, WebhookSettings
from watui.core.models import PROBLEM_NO_LOGIN, PROBLEM_TOO_LARGE, ConnectionState, Event, SessionInfo

S = ConnectionState
RULES = ("disconnected", "qr_needed", "failed", "conflict", "unrecognised", "too_large", "memory", "restarts")
# A precise rule firing makes "disconnected" redundant for the same stretch.
_PRECISE = ("qr_needed", "failed", "conflict")
WEBHOOK_TIMEOUT_S = 10.0  # [alerts] webhook_timeout_s
WEBHOOK_ATTEMPTS = 5
USER_AGENT = "watui-alerts/1"

Status = Literal["firing", "resolved"]


@dataclass(frozen=True)
class Alert:
    alert: str
    status: Status
    session: str
    state: str
    message: str
    time: float = field(default_factory=time.time)
    test: bool = False
    # One id per alert, the same in every attempt and every channel: a receiver drops a repeat by it.
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "alert": self.alert,
            "status": self.status,
            "session": self.session,
            "state": self.state,
            "message": self.message,
            "time": datetime.fromtimestamp(self.time, UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "host": socket.gethostname(),
        }
        if self.test:
            out["test"] = True
        return out

    @property
    def title(self) -> str:
        return f"watui {self.session}: {self.alert} {self.status}"


# -- rules --------------------------------------------------------------------------------------------


@dataclass
class _RuleState:
    active: bool = False  # the condition holds now
    notified: bool = False  # its firing was sent (so its resolve is sent too)
    last_sent: float | None = None


class AlertRules:
    """Turns events (and the passing of time, :meth:`tick`) into firing / resolved alerts."""

    def __init__(self, settings: AlertSettings, session: str, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.session = session
        self.clock = clock
        self._rules = {name: _RuleState() for name in RULES}
        self._state = S.UNLAUNCHED
        self._connected_before = False
        self._away_since: float | None = None
        self._drops: deque[float] = deque()

    def memory(self) -> dict[str, Any]:
        """What must outlive watui (kept in the journal, see watchers.py) so a restart repeats no alert:
        when each rule last sent one, which fired and owe their resolve, the drops of the last hour."""
        rules = {
            name: {"lastSent": rule.last_sent, "owesResolve": rule.notified}
            for name, rule in self._rules.items()
            if rule.last_sent is not None or rule.notified
        }
        return {"rules": rules, "drops": list(self._drops)}

    def restore(self, memory: dict[str, Any]) -> None:
        """Take back :meth:`memory` of a previous run: a rule that fired within ``repeat_every_s`` stays
        quiet, and one whose firing was sent without its resolve holds on, so its resolve is sent."""
        saved_rules = memory.get("rules")
        for name, saved in (saved_rules if isinstance(saved_rules, dict) else {}).items():
            rule = self._rules.get(name)
            if rule is None or not isinstance(saved, dict):
                continue
            last = saved.get("lastSent")
            if isinstance(last, int | float) and not isinstance(last, bool):
                rule.last_sent = float(last)
            if saved.get("owesResolve") is True:
                rule.active = rule.notified = True
        now = self.clock()
        drops = memory.get("drops")
        for t in drops if isinstance(drops, list) else []:
            if isinstance(t, int | float) and not isinstance(t, bool) and 0 <= now - t <= 3600:
                self._drops.append(float(t))

    def firing(self) -> list[str]:
        """Rules whose condition holds now (sent or kept quiet by repeat_every_s)."""
        return [name for name, rule in self._rules.items() if rule.active]

    def on_event(self, event: Event) -> list[Alert]:
        out: list[Alert] = []
        info = event.info
        if event.type == "state" and event.state is not None:
            out += self._on_state(event.state, info, event.message)
        elif event.type == "unrecognised" or (event.type == "error" and event.data.get("code") == "unrecognised"):
            why = event.message or "WhatsApp Web's page was not recognised"
            if event.data.get("evidence"):
                why += f" (evidence: {event.data['evidence']})"
            out += self._set("unrecognised", True, info, why)
        if event.type == "disk" and info.disk is not None:
            too_large = PROBLEM_TOO_LARGE in info.disk.problems
            out += self._set("too_large", too_large, info, info.disk.validation_details)
        if info.browser is not None and self.settings.memory_mb > 0:
            rss_mb = info.browser.rss_bytes / 1048576
            limit = self.settings.memory_mb
            # Resolve only below 90 % of the limit: memory hovering at the line is one alert, not many.
            if rss_mb > limit or (self._rules["memory"].active and rss_mb > 0.9 * limit):
                out += self._set("memory", True, info, f"browser uses {rss_mb:.0f} MB (limit {limit} MB)")
            else:
                out += self._set("memory", False, info, f"browser uses {rss_mb:.0f} MB")
        return out + self.tick(info)

    def tick(self, info: SessionInfo) -> list[Alert]:
        """Time-based rules: ``disconnected`` after down_after_s; ``restarts`` as the hour slides."""
        now = self.clock()
        out: list[Alert] = []
        away = self._away_since
        precise = any(self._rules[name].active for name in _PRECISE)
        if away is not None and now - away > self.settings.down_after_s and not precise:
            seconds = now - away
            out += self._set("disconnected", True, info, f"not connected for {seconds:.0f} s ({info.message})")
        while self._drops and now - self._drops[0] > 3600:
            self._drops.popleft()
        limit = self.settings.max_restarts_per_hour
        count = len(self._drops)
        out += self._set("restarts", count > limit, info, f"the connection dropped {count} times in the last hour")
        return out

    def _on_state(self, state: ConnectionState, info: SessionInfo, message: str) -> list[Alert]:
        previous, self._state = self._state, state
        out: list[Alert] = []
        now = self.clock()
        if state is S.CONNECTED:
            self._connected_before = True
            self._away_since = None
            for name in ("disconnected", "qr_needed", "failed", "conflict", "unrecognised"):
                out += self._set(name, False, info, "connected again")
            return out
        if previous is S.CONNECTED:
            self._drops.append(now)
        if self._connected_before and self._away_since is None:
            self._away_since = now
        if state in (S.UNPAIRED, S.UNPAIRED_IDLE) and self._had_login(info):
            why = (
                "logged out (or the login was lost and no snapshot brought it back): scan a new QR"
                if self._connected_before
                else "the login expired: scan a new QR"
            )
            out += self._set("qr_needed", True, info, why)
        elif state is S.FAILED:
            out += self._set("failed", True, info, message or info.message)
        elif state is S.CONFLICT:
            out += self._set("conflict", True, info, message or "WhatsApp is open in another window")
        return out

    def _had_login(self, info: SessionInfo) -> bool:
        """A QR for a session that had a login (not the first scan of a new one, which nobody misses)."""
        if self._connected_before:
            return True
        disk = info.disk
        return disk is not None and disk.exists and PROBLEM_NO_LOGIN not in disk.problems

    def _set(self, name: str, active: bool, info: SessionInfo, message: str) -> list[Alert]:
        rule = self._rules[name]
        now = self.clock()
        if active and not rule.active:
            rule.active = True
            quiet = rule.last_sent is not None and now - rule.last_sent < self.settings.repeat_every_s
            rule.notified = not quiet
            if rule.notified:
                rule.last_sent = now
                return [Alert(name, "firing", self.session, info.state.value, message, now)]
        elif not active and rule.active:
            rule.active = False
            if rule.notified:
                rule.notified = False
                return [Alert(name, "resolved", self.session, info.state.value, message, now)]
        return []


# -- delivery -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    channel: str  # "webhook https://…", "command /usr/bin/x", "apprise tgram://…"
    ok: bool
    detail: str
    # Not ok, and not known to have failed: the request was sent and no answer came (it may have arrived).
    unknown: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": self.channel, "ok": self.ok, "detail": self.detail}
        if self.unknown:
            out["unknown"] = True
        return out


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> Delivery: ...

    def stop(self) -> None:
        """At shutdown: end whatever the channel still runs (a command's process group); most run nothing."""
        return None


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class _Retry(Exception):
    """The receiver certainly does not have it: try again."""


class _Unknown(Exception):
    """The request went out and no answer came: the receiver may have it, so it is not sent again."""


class WebhookChannel(Channel):
    """A JSON POST per alert, retried only while the receiver certainly does not have it.

    Retried: the connection or the sending of the request failed (refused, unreachable, a timeout before
    the request was out: the receiver cannot hold a whole request), and 408, 429 and 5xx (the receiver
    answered that it did not take it; one that did anyway drops the repeat by its ``X-Watui-Delivery``
    id). Not retried: a 4xx (it will not get better), and any failure after the request was sent — no
    answer within the timeout, the connection dropped before the answer: the alert may have arrived, so
    it is reported as "unknown" and never resent.
    """

    def __init__(self, hook: WebhookSettings, timeout_s: float = WEBHOOK_TIMEOUT_S, wait_s: float = 0.5) -> None:
        self.hook = hook
        self.timeout_s = timeout_s
        self.wait_s = wait_s
        self.name = f"webhook {_redact(hook.url)}"

    def send(self, alert: Alert) -> Delivery:
        body = json.dumps(alert.to_json(), separators=(",", ":")).encode()
        retrying = Retrying(
            stop=stop_after_attempt(WEBHOOK_ATTEMPTS),
            wait=wait_exponential(multiplier=self.wait_s, max=30),
            retry=retry_if_exception_type(_Retry),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    status = self._post(body, alert.id)
        except _Retry as exc:
            return Delivery(self.name, False, f"{exc} ({WEBHOOK_ATTEMPTS} attempts)")
        except _Unknown as exc:
            return Delivery(self.name, False, f"{exc}: delivery unknown (sent once, not resent)", unknown=True)
        except (urllib.error.URLError, ValueError) as exc:
            return Delivery(self.name, False, str(getattr(exc, "reason", exc)))
        return Delivery(self.name, True, f"HTTP {status}")

    def _post(self, body: bytes, delivery_id: str) -> int:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-Watui-Delivery": delivery_id,
            "X-Watui-Timestamp": str(int(time.time())),
        }
        if self.hook.secret:
            headers["X-Watui-Signature"] = sign(self.hook.secret, body)
        request = urllib.request.Request(self.hook.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310 - http(s) only
                return int(response.status)
        except urllib.error.HTTPError as exc:
            if exc.code >= 500 or exc.code in (408, 429):
                raise _Retry(f"HTTP {exc.code}") from None
            raise urllib.error.URLError(f"HTTP {exc.code}") from None  # a 4xx will not get better
        except urllib.error.URLError as exc:
            # urllib wraps what fails while connecting and sending the request: it is not there.
            if not isinstance(exc.reason, OSError | TimeoutError):
                raise
            raise _Retry(str(exc.reason) or type(exc.reason).__name__) from None
        except (http.client.InvalidURL, ValueError):  # refused before any connection (its text holds the URL)
            raise urllib.error.URLError("not a URL it can send to: check [[alerts.webhook]] url") from None
        except TimeoutError:
            raise _Unknown(f"no answer within {self.timeout_s:g} s") from None
        except (OSError, http.client.HTTPException) as exc:  # reset or closed after the request was sent
            raise _Unknown(f"the connection dropped before an answer ({type(exc).__name__})") from None


class CommandChannel(Channel):
    """The operator's command, in a process group of its own: on timeout and at watui's shutdown
    (:meth:`stop`) the whole group is killed, so nothing it started (``sleep`` under a shell) lives on."""

    def __init__(self, argv: tuple[str, ...], timeout_s: float) -> None:
        self.argv = argv
        self.timeout_s = timeout_s
        self.name = f"command {argv[0]}"
        self._running: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def send(self, alert: Alert) -> Delivery:
        payload = alert.to_json()
        env = dict(os.environ)
        for key, value in payload.items():
            env[f"WATUI_ALERT_{key.upper()}"] = str(value).lower() if isinstance(value, bool) else str(value)
        with self._lock:
            if self._stopped:
                return Delivery(self.name, False, "not run: watui is stopping")
            try:
                proc = subprocess.Popen(  # noqa: S603 - an argv from the operator's config, no shell
                    list(self.argv),
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env=env,
                    start_new_session=True,  # its own process group, killed whole
                )
            except OSError as exc:
                return Delivery(self.name, False, f"cannot run: {exc.strerror or exc}")
            self._running.add(proc)
        try:
            _, stderr = proc.communicate(json.dumps(payload).encode(), timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return Delivery(self.name, False, f"did not finish within {self.timeout_s:g} s (killed)")
        finally:
            with self._lock:
                self._running.discard(proc)
            _close_pipes(proc)
        if self._stopped and proc.returncode < 0:
            return Delivery(self.name, False, "killed: watui stopped")
        if proc.returncode != 0:
            said = stderr.decode(errors="replace").strip().splitlines()
            return Delivery(self.name, False, f"exit {proc.returncode}" + (f": {said[-1][:200]}" if said else ""))
        return Delivery(self.name, True, "exit 0")

    def stop(self) -> None:
        """Kill every command still running (and all it started), and run no more: watui is exiting."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for proc in running:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL ``proc``'s process group (its pid: it leads a session of its own), then reap ``proc``."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


class AppriseChannel(Channel):
    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"apprise {_redact(url)}"

    def send(self, alert: Alert) -> Delivery:
        try:
            import apprise  # lazy: only when Apprise URLs are configured
        except ImportError:
            return Delivery(self.name, False, "the apprise package is not installed (pip install apprise)")
        notifier = apprise.Apprise()
        if not notifier.add(self.url):
            return Delivery(self.name, False, "not a URL Apprise understands")
        ok = notifier.notify(title=alert.title, body=alert.message or alert.title)
        return Delivery(self.name, bool(ok), "sent" if ok else "Apprise could not deliver it (see the log)")


# The schemes whose URL holds a server's name where a URL's host goes: watui's webhooks (http, https) and
# the Apprise services whose every URL template has ``{host}`` there (read from Apprise 2.3's table,
# ``apprise.Apprise().details()``; tests/test_alerts.py checks it against the installed Apprise). Every
# other scheme keeps a token, a key or an id there (``tgram://BOT_TOKEN/CHAT``, ``discord://ID/TOKEN``,
# ``ntfy://TOPIC``): a channel of one is named by its scheme alone, and so is a scheme Apprise adds later.
HOST_SCHEMES = frozenset(
    {
        "http", "https",
        "amqp", "amqps", "apprise", "apprises", "bark", "barks", "deltachat", "deltachats", "emby", "embys",
        "enigma2", "enigma2s", "evolution", "evolutions", "flowtriq", "flowtriqs", "form", "forms", "goalert",
        "goalerts", "gorush", "gorushs", "gotify", "gotifys", "hassio", "hassios", "humhub", "humhubs",
        "infobip", "irc", "ircs", "jellyfin", "jellyfins", "json", "jsons", "kodi", "kodis", "mailgun",
        "mailto", "mailtos", "mastodon", "mastodons", "misskey", "misskeys", "mmost", "mmosts", "ncloud",
        "nclouds", "nctalk", "nctalks", "onebot", "onebots", "opsimate", "opsimates", "parsep", "parseps",
        "pinglet", "pinglets", "pjet", "pjets", "rocket", "rockets", "rsyslog", "sendpulse", "signal",
        "signals", "smseagle", "smseagles", "smtp2go", "sparkpost", "synology", "synologys", "toot", "toots",
        "wechat", "workflow", "workflows", "xbmc", "xbmcs", "xmatters", "xml", "xmls"
    }
)  # fmt: skip


def _redact(url: str) -> str:
    """A channel's name for logs, screens, events and the journal: the scheme and the host (and port),
    never the userinfo, path, query or fragment; the scheme alone where the host holds a secret."""
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return "(not a URL)"
    hidden = f"{scheme}://…"
    if scheme not in HOST_SCHEMES:
        return hidden
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return hidden
    if not host:
        return hidden
    name = f"{scheme}://" + (f"[{host}]" if ":" in host else host) + (f":{port}" if port else "")
    dropped = "@" in parts.netloc or parts.path.strip("/") or parts.query or parts.fragment
    return name + "/…" if dropped else name


def channels_for(settings: AlertSettings) -> list[Channel]:
    out: list[Channel] = [WebhookChannel(hook, settings.webhook_timeout_s) for hook in settings.webhook]
    if settings.command:
        out.append(CommandChannel(settings.command, settings.command_timeout_s))
    out += [AppriseChannel(url) for url in settings.apprise]
    return out


def _in_daemon_thread(fn: Callable[[], Delivery], name: str) -> asyncio.Future[Delivery]:
    """Run ``fn`` in a daemon thread: a receiver that never answers holds neither the loop nor exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Delivery] = loop.create_future()

    def settle(result: Delivery) -> None:
        if not future.done():
            future.set_result(result)

    def run() -> None:
        try:
            result = fn()
        except Exception as exc:  # a channel's bug is reported, never raised into the core
            result = Delivery(name, False, f"{type(exc).__name__}: {exc}")
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=run, name=f"watui-alert {name}", daemon=True).start()
    return future


class Dispatcher:
    """Sends each alert to every channel at once; ``deliver`` waits for them, ``submit`` does not."""

    def __init__(self, channels: list[Channel]) -> None:
        self.channels = channels
        self._pending: set[asyncio.Future[list[Delivery]]] = set()
        self.on_delivered: Callable[[Alert, list[Delivery]], None] | None = None

    async def deliver(self, alert: Alert) -> list[Delivery]:
        futures = [_in_daemon_thread(lambda c=c: c.send(alert), c.name) for c in self.channels]  # type: ignore[misc]
        results = list(await asyncio.gather(*futures))
        if self.on_delivered is not None:
            self.on_delivered(alert, results)
        return results

    def submit(self, alert: Alert) -> None:
        if not self.channels:
            return
        task = asyncio.ensure_future(self.deliver(alert))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def drain(self, timeout: float) -> None:
        """Give deliveries in flight a little time at shutdown (their threads are daemons anyway), then
        stop the channels that run processes: no command outlives watui."""
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=timeout)
        for channel in self.channels:
            channel.stop()


def make_test_alert(config: Config) -> Alert:
    return Alert(
        "test",
        "firing",
        config.session.client_id,
        "TEST",
        "a test alert from `watui alerts test`: this channel works",
        test=True,
    )
