"""The API's paths: API, PAGE, OWNER_PATH; the one copy, for the server and its clients."""

from __future__ import annotations

API = "/api/whatsapp"
PAGE = "/whatsapp-diagnostics"
OWNER_PATH = "/api/owner"
