"""Prometheus metrics that add up across gunicorn workers (prometheus_client multiprocess mode).

``deploy/gunicorn.conf.py`` points ``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any
worker imports this module, and marks dead workers' files; ``/metrics`` then merges every
worker's files. Without the variable (tests, one process) the default registry is served.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "casework_http_requests_total",
    "HTTP requests by route template and status",
    ["method", "route", "status"],
)
LATENCY = Histogram(
    "casework_http_request_duration_seconds",
    "HTTP request latency by route template and status",
    ["method", "route", "status"],
    buckets=BUCKETS,
)
IN_FLIGHT = Gauge(
    "casework_http_requests_in_flight", "HTTP requests being served", multiprocess_mode="livesum"
)
RPC_LATENCY = Histogram(
    "casework_rpc_duration_seconds",
    "RPC latency from the gateway by service, method and outcome",
    ["service", "method", "outcome"],
    buckets=BUCKETS,
)


class DeadLetterCollector:
    """``casework_dead_letters``: messages parked in the dead-letter queue, read at scrape time."""

    def __init__(self, amqp_uri: str) -> None:
        self.amqp_uri = amqp_uri

    def collect(self) -> Any:
        try:
            from casekit import deadletters

            depth_of = getattr(deadletters, "dead_letter_depth", None)
            if depth_of is None:
                return
            depth = depth_of(self.amqp_uri, timeout=2.0)
        except Exception:  # noqa: BLE001 - a scrape never fails because the broker is away
            log.debug("dead-letter depth unavailable", exc_info=True)
            return
        gauge = GaugeMetricFamily("casework_dead_letters", "Messages in the dead-letter queue")
        gauge.add_metric([], float(depth))
        yield gauge


def render(amqp_uri: str) -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        for collector in list(REGISTRY._collector_to_names):  # noqa: SLF001 - copy the defaults
            registry.register(collector)
    registry.register(DeadLetterCollector(amqp_uri))
    return generate_latest(registry), CONTENT_TYPE_LATEST
