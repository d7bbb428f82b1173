"""Who may call: loopback binding, the bearer token, the Host check, the cross-site check."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web

from watui.api.errors import ApiStartError, _Refused
from watui.api.paths import PAGE
from watui.api.state import _state

# The page shell is static HTML with no session data in it; everything it shows comes from the API,
# which needs the token. Serving it openly is what lets a browser (which cannot add headers to a
# navigation) open it at all. "/" only redirects to it.
PUBLIC_PATHS = frozenset({PAGE, "/"})


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_loopback(host: str, *, subdomains: bool = False) -> bool:
    """Whether ``host`` (a bind address, or with ``subdomains`` a Host header's name: browsers resolve
    ``*.localhost`` to loopback themselves) can only be reached from this machine."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost" or (subdomains and name.endswith(".localhost")):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str) -> None:
    """Refuse to listen beyond this machine without a token (raises ApiStartError)."""
    if not is_loopback(host) and not token:
        raise ApiStartError(
            f"refusing to serve the API on {host or 'all addresses'}: not a loopback address and no "
            "[api] token is set (set [api] token or WATUI_API__TOKEN, or bind to 127.0.0.1)"
        )


def _host_name(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header[1 : host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def _bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), token.encode("utf-8"))


@web.middleware
async def auth_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    token = _state(request).token
    if token:
        if request.path not in PUBLIC_PATHS and not _bearer_matches(request.headers.get("Authorization", ""), token):
            raise _Refused(
                401,
                "missing or wrong API token (send Authorization: Bearer <[api] token>)",
                {"WWW-Authenticate": 'Bearer realm="watui"'},
            )
        return await handler(request)
    # Without a token the API is only for this machine; a foreign Host name means DNS rebinding (a web
    # page whose name now points at 127.0.0.1) or a proxy that should set a token. (No Host at all is
    # HTTP/1.0 from a local tool, not a browser.)
    host = request.headers.get("Host")
    if host is not None and not is_loopback(_host_name(host), subdomains=True):
        raise _Refused(403, f"Host {host!r} refused: without [api] token only loopback names are served")
    return await handler(request)


def _cross_site_reason(request: web.Request) -> str | None:
    fetch_site = request.headers.get("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in ("same-origin", "none"):
        return f"Sec-Fetch-Site: {fetch_site}"
    origin = request.headers.get("Origin")
    if origin is None:
        return None  # not sent by a browser (curl, scripts): nothing cross-site about it
    netloc = urlsplit(origin).netloc.lower() if origin != "null" else ""
    # Scheme is not compared: behind a TLS proxy the browser says https while we see http.
    if not netloc or netloc != request.headers.get("Host", "").lower():
        return f"Origin: {origin}"
    return None


@web.middleware
async def same_origin_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    if request.method not in SAFE_METHODS:
        reason = _cross_site_reason(request)
        if reason is not None:
            raise _Refused(403, f"cross-site request refused ({reason})")
    return await handler(request)
