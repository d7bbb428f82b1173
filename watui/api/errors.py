"""ApiStartError, and every HTTP error as JSON: the middleware, and what aiohttp's parser refuses first."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, LineTooLong
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from watui.core.errors import (
    ActionUnavailable,
    BrowserNotFoundError,
    SessionBusyError,
    UnsafePathError,
    WatuiError,
)

log = logging.getLogger("watui.api")


class ApiStartError(WatuiError):
    """The API cannot start as configured (unsafe bind address, port taken): one line, exit 2."""

    exit_code = 2


def json_error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # "success" is the seed system's field, kept for its users' scripts; "ok" is what every error says.
    return web.json_response({"ok": False, "success": False, "error": message}, status=status, headers=headers)


class _Refused(Exception):
    """Raised by the handlers and middlewares to answer a JSON error."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


_WATUI_ERROR_STATUS: tuple[tuple[type[WatuiError], int], ...] = (
    (ActionUnavailable, 409),
    (SessionBusyError, 409),
    (UnsafePathError, 400),
    (BrowserNotFoundError, 503),
)


def _status_for(exc: WatuiError) -> int:
    for kind, status in _WATUI_ERROR_STATUS:
        if isinstance(exc, kind):
            return status
    return 409


def _http_error_message(exc: web.HTTPException) -> str:
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return f"method {exc.method} not allowed on this path (use {allowed})"
    if isinstance(exc, web.HTTPNotFound):
        return "no such endpoint"
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "request body too large"
    return exc.reason


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except _Refused as exc:
        return json_error(exc.status, exc.message, exc.headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return json_error(exc.status, _http_error_message(exc), headers)
    except WatuiError as exc:
        return json_error(_status_for(exc), str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        # The operator gets the traceback in the log; the client one line without internals.
        log.exception("error serving %s %s", request.method, request.path)
        return json_error(500, f"internal error ({type(exc).__name__}); see the watui log")


# -- requests refused before any handler runs -----------------------------------------------------------
#
# aiohttp answers a request its parser refuses (a request line over 8190 bytes, a method such as BREW, a
# malformed header, TLS on the HTTP port) from ``RequestHandler.handle_error``, in plain text, logging a
# traceback, before any middleware runs (aio-libs/aiohttp#3287 has no hook for it). The API's connections
# use a handler whose ``handle_error`` answers JSON like every other error and logs one line.


def _parser_error_message(exc: BaseException | None) -> str:
    if isinstance(exc, LineTooLong):
        return "request line or header too long (the limit is 8190 bytes)"
    if isinstance(exc, BadHttpMethod):
        return "HTTP method not understood (the API uses GET and POST)"
    return "bad request: not a well-formed HTTP/1.1 message"


class _JsonErrorHandler(RequestHandler):
    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # a response is half sent: only closing is left (as aiohttp does)
            return super().handle_error(request, status, exc, message)
        if isinstance(exc, BadHttpMessage):
            text = _parser_error_message(exc)
            log.info("refused a request from %s: %s (%s)", request.remote, text, type(exc).__name__)
        else:
            self.log_exception("error serving a request from %s", request.remote, exc_info=exc)
            text = f"internal error ({type(exc).__name__}); see the watui log" if exc else HTTPStatus(status).phrase
        response = json_error(status, text)
        response.force_close()
        return response


class _JsonErrorServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorHandler(self, loop=self._loop, **self._kwargs)


class _ApiRunner(web.AppRunner):
    """An AppRunner whose connections answer parser errors in JSON (see ``_JsonErrorHandler``)."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorServer  # same object, same state: only its protocol factory differs
        return server
