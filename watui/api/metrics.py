"""Prometheus metrics for one session, read from the manager's latest snapshot at scrape time.

A dedicated ``CollectorRegistry`` per server (never the process-global one), so two servers or a test
suite never share or collide on metrics, and nothing is sampled between scrapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from watui.core.models import ConnectionState, SessionInfo, now_utc

__all__ = ["CONTENT_TYPE_LATEST", "SessionCollector", "build_registry", "render_metrics"]


class SessionCollector:
    """Turns the current ``SessionInfo`` into metric families (a prometheus-client custom collector)."""

    def __init__(self, snapshot: Callable[[], SessionInfo]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        info = self._snapshot()
        state = GaugeMetricFamily(
            "watui_state", "Connection state: 1 for the current state, 0 for the others.", labels=["state"]
        )
        for candidate in ConnectionState:
            state.add_metric([candidate.value], 1.0 if candidate is info.state else 0.0)
        yield state
        detection = GaugeMetricFamily(
            "watui_page_detection",
            "1 for the page channel that recognises WhatsApp Web now (modules, dom, pixels; none: no channel).",
            labels=["channel"],
        )
        for channel in ("modules", "dom", "pixels", "none"):
            detection.add_metric([channel], 1.0 if (info.detection or "none") == channel else 0.0)
        yield detection
        yield GaugeMetricFamily(
            "watui_healthy",
            "1 when the last health check found the session working.",
            value=1.0 if info.health.is_healthy else 0.0,
        )
        yield GaugeMetricFamily(
            "watui_reconnect_attempts",
            "Reconnect attempts since the session was last connected.",
            value=float(info.health.reconnect_attempts),
        )
        yield GaugeMetricFamily(
            "watui_session_bytes",
            "Size of the session folder on disk, in bytes.",
            value=float(info.disk.size_bytes if info.disk else 0),
        )
        yield GaugeMetricFamily(
            "watui_browser_rss_bytes",
            "Resident memory of the browser and its children, in bytes (0: none).",
            value=float(info.browser.rss_bytes if info.browser else 0),
        )
        yield CounterMetricFamily(
            "watui_qr_rotations",
            "Login QR codes shown since the manager started.",
            value=float(info.qr_rotations),
        )
        yield GaugeMetricFamily(
            "watui_seconds_since_connected",
            "Seconds since the session was last connected: 0 while connected, NaN if never connected.",
            value=seconds_since_connected(info),
        )


def seconds_since_connected(info: SessionInfo) -> float:
    if info.state.is_connected:
        return 0.0
    if info.last_connected_at is None:
        # NaN rather than 0 or -1: a "down for too long" alert must not read "never" as "just now".
        return math.nan
    return max(0.0, (now_utc() - info.last_connected_at).total_seconds())


def build_registry(snapshot: Callable[[], SessionInfo]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SessionCollector(snapshot))
    return registry


def render_metrics(registry: CollectorRegistry) -> bytes:
    """The text exposition format (``CONTENT_TYPE_LATEST``)."""
    return generate_latest(registry)
