"""One webhook POST for messages: what is sent (the body, the signed headers) and what the receiver answered.

The deliverer (``webhook.py``) sends each delivery through :func:`post`; :func:`test_delivery` sends one test
POST (``watui messages webhook-test``). Blocking: each POST runs in a daemon thread of its own
(:func:`post_in_daemon_thread`), bounded by the settings' ``timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from typing import Any

from watui.config import MessageWebhookSettings
from watui.core.daemon import in_daemon_thread
from watui.core.journal.channels import _redact, sign  # the alert webhooks' signature and URL redaction
from watui.core.messages.inbox import InboxRow
from watui.core.messages.outbox_rows import AckEvent

USER_AGENT = "watui-messages/1"
REASON_CHARS = 200
MESSAGE, ACK, TEST = "message", "ack", "test"

Post = Callable[[str, bytes, Mapping[str, str], float], "Answer"]


@dataclass(frozen=True)
class Answer:
    """What the receiver answered one POST. ``status`` None: no answer (``reason`` says why)."""

    status: int | None
    elapsed_s: float
    reason: str = ""  # one line on failure: "HTTP 401: bad signature", "connection refused", ...
    retry_after_s: float | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "elapsedS": round(self.elapsed_s, 3), "reason": self.reason}


# -- one POST -------------------------------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer: following it would turn the POST into a GET whose 2xx is nobody's receipt."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, headers: Mapping[str, str], timeout_s: float) -> Answer:
    """POST ``body`` to ``url`` once (blocking: run it in a thread) and say what came back. Never raises."""
    start = time.monotonic()

    def took() -> float:
        return time.monotonic() - start

    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            return Answer(int(response.status), took())
    except urllib.error.HTTPError as exc:
        return _http_error(exc, took())
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, TimeoutError):
            return Answer(None, took(), f"no answer within {timeout_s:g} s")
        if isinstance(reason, ConnectionRefusedError):
            return Answer(None, took(), "connection refused")
        if isinstance(reason, OSError):
            return Answer(None, took(), reason.strerror or type(reason).__name__)
        return Answer(None, took(), _line(str(reason)))
    except TimeoutError:
        return Answer(None, took(), f"no answer within {timeout_s:g} s")
    except (http.client.InvalidURL, ValueError):  # its text holds the URL, which may hold a secret
        return Answer(None, took(), "not a URL it can send to: check [messages.webhook] url")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, took(), f"the connection dropped before an answer ({type(exc).__name__})")


def _line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0].strip()[:REASON_CHARS] if lines else ""


def _http_error(exc: urllib.error.HTTPError, elapsed: float) -> Answer:
    said = ""
    with contextlib.suppress(Exception):
        said = _line(exc.read(REASON_CHARS).decode("utf-8", "replace"))
    reason = f"HTTP {exc.code}" + (f": {said}" if said else "")
    if 300 <= exc.code < 400:
        location = exc.headers.get("Location") if exc.headers is not None else None
        reason += f" (a redirect{' to ' + _redact(location) if location else ''}: not followed; set url to it)"
    return Answer(exc.code, elapsed, reason[:REASON_CHARS], _retry_after(exc.headers))


def _retry_after(headers: Message | None) -> float | None:
    """Retry-After in seconds (a number of seconds or an HTTP date), None when absent or unreadable."""
    text = headers.get("Retry-After") if headers is not None else None
    if not text:
        return None
    text = text.strip()
    if text.isdigit():
        return float(text)
    with contextlib.suppress(TypeError, ValueError, IndexError):
        return max(0.0, parsedate_to_datetime(text).timestamp() - time.time())
    return None


def post_in_daemon_thread(fn: Callable[[], Answer]) -> asyncio.Future[Answer]:
    """Run ``fn`` (a POST) in a daemon thread: a receiver that never answers holds neither the loop, the
    default executor nor watui's exit. A bug of ours is said as the answer, never raised into the loop."""
    return in_daemon_thread(
        fn, lambda exc: Answer(None, 0.0, f"{type(exc).__name__}: {_line(str(exc))}"), "watui-webhook"
    )


# -- what is sent ---------------------------------------------------------------------------------------


def delivery_id(*parts: str) -> str:
    """A stable id of one delivery, made from what it is about (never from a file's seq, which a fresh
    file starts again): the same in every attempt, after a restart, and after the inbox is re-made."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_payload(row: InboxRow, session: str, bodies: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {
        "event": MESSAGE,
        "delivery": delivery_id(MESSAGE, row.account, row.chat, row.id),
        "session": session,
        "account": row.account,
        "id": row.id,
        "chat": row.chat,
        "sender": row.sender,
        "from": row.sender or row.chat,
        "time": _iso(row.t),
        "t": row.t,
        "receivedAt": _iso(row.received_at),
        "type": row.kind,
        "size": len(row.body),
    }
    if bodies:
        out["body"] = row.body
    return out


def ack_payload(event: AckEvent, session: str) -> dict[str, Any]:
    return {
        "event": ACK,
        "delivery": delivery_id(ACK, event.account, event.id, event.state.value, repr(event.at)),
        "session": session,
        "account": event.account,
        "id": event.id,
        "chat": event.chat,
        "ack": event.state.value,
        "reason": event.reason,
        "time": _iso(event.at),
        "t": event.at,
    }


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def headers_for(secret: str, body: bytes, event: str, delivery: str, attempt: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Watui-Event": event,
        "X-Watui-Delivery": delivery,
        "X-Watui-Attempt": str(attempt),
        "X-Watui-Timestamp": str(int(time.time())),
        "X-Watui-Signature": sign(secret, body),
    }


def test_delivery(settings: MessageWebhookSettings, session: str = "watui", *, post_fn: Post = post) -> Answer:
    """Send one test delivery (``"event": "test"``, signed as every delivery is, one attempt, no retry) and
    say what the receiver answered. Blocking: from the event loop run it in a thread."""
    if not settings.url:
        return Answer(None, 0.0, "no webhook: [messages.webhook] url is not set")
    now = time.time()
    delivery = uuid.uuid4().hex
    payload = {
        "event": TEST,
        "delivery": delivery,
        "session": session,
        "test": True,
        "message": "a test delivery from watui: this receiver works",
        "time": _iso(now),
        "t": now,
    }
    body = encode(payload)
    return post_fn(settings.url, body, headers_for(settings.secret, body, TEST, delivery, 1), settings.timeout_s)


test_delivery.__test__ = False  # type: ignore[attr-defined]  # not a pytest test, whatever its name
