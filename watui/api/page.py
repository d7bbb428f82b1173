"""The diagnostics page (diagnostics.html, served with its CSP) and the root redirect."""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib import resources

from aiohttp import web

from watui.api.paths import PAGE


@dataclass(frozen=True)
class _Page:
    html: bytes
    csp: str


def _load_page() -> _Page:
    text = resources.files("watui.api").joinpath("diagnostics.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", text, flags=re.S)
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'" for s in scripts
    )
    # Only our own inline script runs; no framing (a cross-site page cannot trick clicks on the buttons).
    csp = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src 'self' blob: data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return _Page(text.encode(), csp)


_PAGE_KEY = web.AppKey("watui_api_page", _Page)


async def diagnostics_page(request: web.Request) -> web.Response:
    page = request.app[_PAGE_KEY]
    return web.Response(
        body=page.html,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": page.csp,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        },
    )


async def root_redirect(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(PAGE.lstrip("/"))
