"""Where alerts go: the operator's channels, each delivery in its own daemon thread.

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
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from watui.config import AlertSettings, WebhookSettings
from watui.core.daemon import in_daemon_thread
from watui.core.journal.alerts import Alert

WEBHOOK_TIMEOUT_S = 10.0  # [alerts] webhook_timeout_s
WEBHOOK_ATTEMPTS = 5
USER_AGENT = "watui-alerts/1"


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
# ``apprise.Apprise().details()``; tests/unit/test_alerts.py checks it against the installed Apprise). Every
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
    """Run ``fn`` in a daemon thread: a receiver that never answers holds neither the loop nor exit. A
    channel's bug is reported as its delivery, never raised into the core."""
    return in_daemon_thread(
        fn, lambda exc: Delivery(name, False, f"{type(exc).__name__}: {exc}"), f"watui-alert {name}"
    )


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
