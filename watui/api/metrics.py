"""Prometheus metrics for one session, read from the manager's latest snapshot at scrape time.

A dedicated ``CollectorRegistry`` per server (never the process-global one), so two servers or a test
suite never share or collide on metrics, and nothing is sampled between scrapes.

Messaging (:class:`MessageMetrics`, with MESSAGES declared): the counters of this server's run
(``watui_messages_sent_total``, ``_received_total``, ``_failed_total``) and the send latency histogram
(``watui_send_latency_seconds``: accepted → sent, from the ``acceptedAt``/``sentAt`` of the ``ack`` event
that proved the send) follow the session's ``message``/``ack`` events; the outbox and webhook gauges are the
session's ``traffic()``, read once per scrape (absent when it cannot be read).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from watui.core.errors import first_line
from watui.core.events import Event
from watui.core.messages.port import Traffic, counted_as
from watui.core.models import ConnectionState, SessionInfo, now_utc
from watui.core.ports import MESSAGES, EventSource, SessionPort

__all__ = ["CONTENT_TYPE_LATEST", "MessageMetrics", "SessionCollector", "build_registry", "render_metrics"]

log = logging.getLogger(__name__)
# Accepted -> sent: the pacing alone spaces sends seconds apart, a queue behind a long outage takes hours.
LATENCY_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
TRAFFIC_TIMEOUT_S = 5.0  # a scrape does not wait longer than this for the outbox's figures


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


class MessageMetrics:
    """The messaging metrics of one server: counters and latency from the session's events (:meth:`follow`,
    run while the server runs), outbox and webhook gauges from ``traffic()`` (:meth:`refresh`, per scrape)."""

    def __init__(self, session: SessionPort, registry: CollectorRegistry) -> None:
        self._session = session
        self.enabled = MESSAGES in session.capabilities
        self.sent = Counter("watui_messages_sent_total", "Messages sent (WhatsApp's server took them) in this run.",
                            registry=registry)  # fmt: skip
        self.received = Counter("watui_messages_received_total", "Incoming messages kept in this run.",
                                registry=registry)  # fmt: skip
        self.failed = Counter("watui_messages_failed_total", "Outgoing messages that failed in this run.",
                              registry=registry)  # fmt: skip
        self.latency = Histogram(
            "watui_send_latency_seconds",
            "Seconds from a message's acceptance into the outbox to its send, per message sent in this run.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.traffic: Traffic | None = None
        self._stream: EventSource | None = None
        self._task: asyncio.Task[None] | None = None
        self._refreshing: asyncio.Task[Traffic] | None = None
        registry.register(_TrafficCollector(self))

    def on_event(self, event: Event) -> None:
        counted = counted_as(event.type, event.data)
        if counted == "received":
            self.received.inc()
        elif counted == "failed":
            self.failed.inc()
        elif counted == "sent":
            self.sent.inc()
            accepted, sent = event.data.get("acceptedAt"), event.data.get("sentAt")
            if isinstance(accepted, int | float) and isinstance(sent, int | float) and sent >= accepted:
                self.latency.observe(float(sent) - float(accepted))

    def start(self) -> None:
        """Follow the session's events (subscribed now: what happens from here on is counted)."""
        if self.enabled and self._task is None:
            self._stream = stream = self._session.subscribe()
            self._task = asyncio.create_task(self._follow(stream), name="watui-message-metrics")

    async def _follow(self, stream: EventSource) -> None:
        async for event in stream:
            self.on_event(event)

    async def stop(self) -> None:
        if self._stream is not None:
            self._stream.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def refresh(self) -> None:
        """Read the session's traffic for this scrape (concurrent scrapes share one read); None when it
        cannot be read now (the outbox not open yet, a disk error, the owner gone): the gauges are absent."""
        if not self.enabled:
            return
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._session.traffic())
        try:
            self.traffic = await asyncio.wait_for(asyncio.shield(self._refreshing), TRAFFIC_TIMEOUT_S)
        except Exception as exc:
            log.debug("metrics: no messaging figures: %s", first_line(exc))
            self.traffic = None


class _TrafficCollector:
    """The outbox and webhook gauges of the traffic :meth:`MessageMetrics.refresh` read."""

    def __init__(self, metrics: MessageMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        traffic = self._metrics.traffic
        if traffic is None:
            return
        yield GaugeMetricFamily("watui_outbox_queued", "Messages waiting in the outbox to be sent.",
                                value=float(traffic.queued))  # fmt: skip
        yield GaugeMetricFamily("watui_outbox_sending", "Messages being sent (claimed, the send not yet confirmed).",
                                value=float(traffic.sending))  # fmt: skip
        yield GaugeMetricFamily(
            "watui_outbox_oldest_age_seconds",
            "Age of the oldest message waiting in the outbox (0: none waits).",
            value=_age(traffic, traffic.oldest_pending_at),
        )
        if traffic.webhook:
            yield GaugeMetricFamily("watui_webhook_backlog", "Messages and acks not yet delivered to the webhook.",
                                    value=float(traffic.webhook_backlog))  # fmt: skip
            yield GaugeMetricFamily(
                "watui_webhook_oldest_age_seconds",
                "Age of the oldest message or ack not yet delivered to the webhook (0: none waits).",
                value=_age(traffic, traffic.webhook_oldest_at),
            )


def _age(traffic: Traffic, since: float | None) -> float:
    return 0.0 if since is None else max(0.0, traffic.at - since)
