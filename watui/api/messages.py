"""The HTTP messages API: send a text, read one message, read what came and went after a cursor.

- ``POST /api/whatsapp/messages`` ``{"to", "text", "key"?}`` -> 202 and the accepted message (``id``,
  ``status: "queued"``): it is in the outbox on disk, and goes when the session is CONNECTED;
- ``GET /api/whatsapp/messages/{id}`` -> that message now (status, reason, sentAt, ackedAt), 404 unknown;
- ``GET /api/whatsapp/messages?since=CURSOR&limit=N&bodies=1`` -> ``{"messages": [...], "cursor"}``,
  incoming and outgoing after the cursor, newest last;
- ``GET /api/whatsapp/traffic`` -> whether messages flow, in figures (the outbox now, the last hour's sent,
  failed and received, the webhook's backlog).

Errors, JSON as every other: a bad body or field 400 naming it; a body over :data:`MAX_REQUEST` 413; no
account linked 409; a full outbox 429 with ``Retry-After``; an outbox or inbox file that cannot be used 503
naming it. The same token and origin rules as the rest of the API (its middlewares). The handlers call
only the session's :class:`~watui.core.messages.port.MessagingPort`.
"""

from __future__ import annotations

import json
import math
from typing import Any, cast

from aiohttp import web

from watui.api.errors import _Refused
from watui.api.paths import MESSAGES_PATH as MESSAGES
from watui.api.paths import TRAFFIC_PATH as TRAFFIC
from watui.api.state import _state
from watui.core.messages.errors import MessageError, NotLinked, OutboxFull, StoreError
from watui.core.messages.outbox import MAX_BODY
from watui.core.messages.port import DEFAULT_LIMIT, MessagingPort
from watui.core.ports import MESSAGES as MESSAGING

# A text of MAX_BODY characters, each up to 6 bytes as a JSON escape, and room for the other fields.
MAX_REQUEST = MAX_BODY * 6 + 4096
_FIELDS: dict[str, type] = {"to": str, "text": str, "key": str}


def add_messages(app: web.Application) -> None:
    """Register the messages routes on ``app`` (``build_app``'s one line)."""
    app.router.add_post(MESSAGES, send_message)
    app.router.add_get(MESSAGES, list_messages)
    app.router.add_get(MESSAGES + "/{id}", get_message)
    app.router.add_get(TRAFFIC, get_traffic)


def _port(request: web.Request) -> MessagingPort:
    manager = _state(request).manager
    if MESSAGING not in manager.capabilities:  # the declared ability, never a probe of the object
        raise _Refused(501, "this session does not send or receive messages (no messaging service)")
    return cast(MessagingPort, manager)  # the capability says: the session is a MessagingPort too


async def _body(request: web.Request) -> dict[str, Any]:
    """The JSON object of the request, at most MAX_REQUEST bytes (413 beyond), fields checked (400)."""
    length = request.content_length
    if length is not None and length > MAX_REQUEST:
        raise _Refused(413, f"request body too large: at most {MAX_REQUEST} bytes, got {length}")
    raw = bytearray()
    while chunk := await request.content.read(65536):  # not request.read(): its cap is the API's 64 KiB
        raw += chunk
        if len(raw) > MAX_REQUEST:
            raise _Refused(413, f"request body too large: at most {MAX_REQUEST} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise _Refused(400, 'request body must be a JSON object: {"to": "...", "text": "...", "key": "..."}') from None
    if not isinstance(body, dict):
        raise _Refused(400, 'request body must be a JSON object: {"to": "...", "text": "...", "key": "..."}')
    for name, value in body.items():
        if name not in _FIELDS:
            raise _Refused(400, f"unknown field {name!r} (accepted: to, text, key)")
        if value is not None and not isinstance(value, _FIELDS[name]):
            raise _Refused(400, f"field {name!r} must be a string, got {type(value).__name__}")
    for name in ("to", "text"):
        if not isinstance(body.get(name), str):
            raise _Refused(400, f"field {name!r} is required (a string)")
    return body


def _refusal(exc: Exception) -> _Refused:
    """The HTTP answer for a messaging error (each message names the field or the file)."""
    if isinstance(exc, OutboxFull):
        return _Refused(429, str(exc), {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))})
    if isinstance(exc, NotLinked):
        return _Refused(409, str(exc))
    if isinstance(exc, StoreError):
        return _Refused(503, str(exc))
    return _Refused(400, str(exc))


async def send_message(request: web.Request) -> web.Response:
    port = _port(request)
    body = await _body(request)
    try:
        message = await port.send_text(body["to"], body["text"], key=body.get("key"))
    except (MessageError, StoreError) as exc:
        raise _refusal(exc) from None
    return web.json_response(message.to_json(), status=202, headers={"Location": f"{MESSAGES}/{message.id}"})


async def get_message(request: web.Request) -> web.Response:
    port = _port(request)
    message_id = request.match_info["id"]
    try:
        message = await port.message(message_id)
    except (MessageError, StoreError) as exc:
        raise _refusal(exc) from None
    if message is None:
        raise _Refused(404, f"no message {message_id!r:.80} in the outbox or the inbox")
    return web.json_response(message.to_json())


async def list_messages(request: web.Request) -> web.Response:
    port = _port(request)
    query = request.query
    unknown = sorted(set(query) - {"since", "limit", "bodies"})
    if unknown:
        raise _Refused(400, f"unknown parameter {unknown[0]!r} (accepted: since, limit, bodies)")
    limit = DEFAULT_LIMIT
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            raise _Refused(400, f"limit: expected a whole number, got {query['limit']!r:.40}") from None
    bodies = query.get("bodies", "0")
    if bodies not in ("0", "1", "true", "false"):
        raise _Refused(400, f"bodies: expected 1 or 0, got {bodies!r:.40}")
    try:
        page = await port.messages(query.get("since"), limit, bodies in ("1", "true"))
    except (MessageError, StoreError) as exc:
        raise _refusal(exc) from None
    return web.json_response(page.to_json())


async def get_traffic(request: web.Request) -> web.Response:
    port = _port(request)
    try:
        traffic = await port.traffic()
    except (MessageError, StoreError) as exc:
        raise _refusal(exc) from None
    return web.json_response(traffic.to_json())
