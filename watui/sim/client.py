"""A simulator already running elsewhere (``watui sim --port N``), reached through its control API.

``watui --demo --demo-sim HOST:PORT`` (or ``[demo] sim``) points watui at such a simulator instead of
starting one in its own process, so the site outlives a watui killed in a test, as the real one does. This
client gives the faces what they use of an in-process :class:`~watui.sim.server.Simulator`: its
``base_url``, ``port`` and ``scan()``.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from watui.sim.errors import SimError
from watui.sim.server import SimControlError

CONNECT_TIMEOUT_S = 5.0


class SimUnreachable(SimError):
    """No simulator answers at the address given: one line saying how to start one."""


class SimClient:
    """The control API of a running simulator at ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    async def _call(self, method: str, path: str) -> dict[str, Any]:
        timeout = aiohttp.ClientTimeout(total=CONNECT_TIMEOUT_S)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as http,
                http.request(method, self.base_url + path, ssl=False) as resp,  # its throwaway certificate
            ):
                body: Any = await resp.json(content_type=None)
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise SimUnreachable(
                f"no simulator answers at {self.host}:{self.port} ({exc.__class__.__name__}); "
                f"start one with `watui sim --port {self.port}`"
            ) from None
        if not isinstance(body, dict):
            raise SimUnreachable(f"{self.base_url}{path} did not answer as a watui simulator")
        if status != 200:
            raise SimControlError(str(body.get("error", f"HTTP {status}")), status)
        return body

    async def state(self) -> dict[str, Any]:
        """``GET /__sim/state``; raises :class:`SimUnreachable` when nothing answers there."""
        body = await self._call("GET", "/__sim/state")
        if "state" not in body or "variant" not in body:
            raise SimUnreachable(f"{self.base_url} answers, but not as a watui simulator")
        return body

    async def scan(self) -> dict[str, Any]:
        return await self._call("POST", "/__sim/scan")
