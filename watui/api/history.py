"""The HTTP face of the journal and the alerts: ``GET /api/whatsapp/history?since=24h`` (the JSON of
``watui history --json``) and, in ``/metrics``, uptime ratios and the alert rules firing now."""

from __future__ import annotations

import math
from collections.abc import Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from watui.api.paths import API
from watui.core.journal.alerts import RULES
from watui.core.journal.journal import HistoryError
from watui.core.journal.report import parse_since
from watui.core.ports import HistoryPort


class HistoryCollector:
    """Reads the uptime the journal's sampler last computed (never the disk at scrape time)."""

    def __init__(self, history: HistoryPort | None) -> None:
        self._history = history

    def collect(self) -> Iterator[Metric]:
        history = self._history
        uptime = GaugeMetricFamily(
            "watui_uptime_ratio",
            "Share of the time watui watched in which the session was CONNECTED, per window (from the journal).",
            labels=["window"],
        )
        if history is not None:
            for window, figures in history.uptime().items():
                ratio = figures.get("ratio")
                uptime.add_metric([window], math.nan if ratio is None else float(ratio))
        yield uptime
        firing = GaugeMetricFamily(
            "watui_alert_firing", "1 while an alert rule's condition holds, else 0.", labels=["alert"]
        )
        active = history.firing() if history is not None else None
        if active is not None:
            for rule in RULES:
                firing.add_metric([rule], 1.0 if rule in active else 0.0)
        yield firing


def add_history(app: web.Application, history: HistoryPort | None, registry: CollectorRegistry) -> None:
    """Add the history route and the uptime metrics to the API application (``history``: the owner's
    journal, None where there is none: the route answers 404)."""

    async def route(request: web.Request) -> web.Response:
        text = request.query.get("since", "24h")
        try:
            since_s = parse_since(text)
        except ValueError:
            raise web.HTTPBadRequest(
                reason=f"since must be a duration such as 30m, 24h or 7d (at most 3650d), got {text!r}"
            ) from None
        if history is None:
            raise web.HTTPNotFound(reason="no history here")
        try:
            report = await history.report(since_s)
        except HistoryError as exc:
            raise web.HTTPInternalServerError(reason=str(exc)) from None
        return web.json_response(report)

    app.router.add_get(f"{API}/history", route)
    registry.register(HistoryCollector(history))
