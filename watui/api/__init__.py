"""The HTTP face: the seed system's JSON API, live events, QR images, metrics and the diagnostics page.

``start_api(manager, host=..., port=..., token=...)`` serves one SessionManager (used by ``watui serve``
and by the dashboard's ``watui --serve``); ``watui.api.cli.run_serve`` is the headless command.
"""

from watui.api.server import ApiServer, ApiStartError, check_bind, start_api

__all__ = ["ApiServer", "ApiStartError", "check_bind", "start_api"]
