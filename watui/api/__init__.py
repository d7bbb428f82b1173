"""The HTTP face: the seed system's JSON API, live events, QR images, metrics and the diagnostics page.

``start_api(manager, host=..., port=..., token=...)`` serves one SessionManager (used by ``watui serve``
and by the dashboard's ``watui --serve``); the headless command is ``watui/cli/serve.py``. The same
app is served on the owner's control socket (``watui.api.control``); ``watui.remote`` is its client.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["ApiServer", "ApiStartError", "check_bind", "start_api"]
_HOMES = {
    "ApiServer": "watui.api.app",
    "ApiStartError": "watui.api.errors",
    "check_bind": "watui.api.security",
    "start_api": "watui.api.app",
}


def __getattr__(name: str) -> Any:
    # Lazy: a client of the control socket (``watui status`` in a shell prompt) should not pay for the
    # server's imports (segno, prometheus_client) it never uses.
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'watui.api' has no attribute {name!r}")
