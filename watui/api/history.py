"""The HTTP face of the journal and the alerts: ``GET /api/whatsapp/history?since=24h`` (the JSON of
``watui history --json``) and, in ``/metrics``, uptime ratios and the alert rules firing now."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from watui.api.paths import API
from watui.core.journal.alerts import RULES
from watui.core.journal.journal import HistoryError, history_path
from watui.core.journal.report import parse_since, read_report
from watui.core.journal.service import watchers_of


class HistoryCollector:
    """Reads the uptime the journal's sampler last computed (never the disk at scrape time)."""

    def __init__(self, manager: Any) -> None:
        self._manager = manager

    def collect(self) -> Iterator[Metric]:
        watchers = watchers_of(self._manager)
        uptime = GaugeMetricFamily(
            "watui_uptime_ratio",
            "Share of the time watui watched in which the session was CONNECTED, per window (from the journal).",
            labels=["window"],
        )
        if watchers is not None and watchers.history is not None:
            for window, figures in watchers.history.uptime.items():
                ratio = figures.get("ratio")
                uptime.add_metric([window], math.nan if ratio is None else float(ratio))
        yield uptime
        firing = GaugeMetricFamily(
            "watui_alert_firing", "1 while an alert rule's condition holds, else 0.", labels=["alert"]
        )
        if watchers is not None and watchers.rules is not None:
            active = set(watchers.rules.firing())
            for rule in RULES:
                firing.add_metric([rule], 1.0 if rule in active else 0.0)
        yield firing


def add_history(app: web.Application, manager: Any, registry: CollectorRegistry) -> None:
    """Add the history route and the uptime metrics to the API application."""

    async def history(request: web.Request) -> web.Response:
        text = request.query.get("since", "24h")
        try:
            since_s = parse_since(text)
        except ValueError:
            raise web.HTTPBadRequest(
                reason=f"since must be a duration such as 30m, 24h or 7d (at most 3650d), got {text!r}"
            ) from None
        watchers = watchers_of(manager)
        try:
            if watchers is not None and watchers.history is not None:
                report = await watchers.history.report(since_s)
            else:
                config = getattr(manager, "config", None)
                if config is None:
                    raise web.HTTPNotFound(reason="no history here")
                report = await asyncio.to_thread(
                    read_report,
                    history_path(config),
                    since_s=since_s,
                    down_after_s=config.alerts.down_after_s,
                    gap_s=float(config.history.sample_interval_s),
                )
        except HistoryError as exc:
            raise web.HTTPInternalServerError(reason=str(exc)) from None
        return web.json_response(report)

    app.router.add_get(f"{API}/history", history)
    registry.register(HistoryCollector(manager))
