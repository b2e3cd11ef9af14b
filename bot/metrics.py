"""Prometheus metrics for `/metrics`: recognitions by kind, vendor and status, their latency, and the
embedded engine's queue (a rush shows there before users are told it is busy).

One private registry rather than the global default, so tests and several apps in one process never
collide on metric names.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

RECOGNITIONS = Counter(
    "licence_bot_recognitions",
    "Recognitions handled, by document kind, answering vendor and outcome status.",
    ["kind", "vendor", "status"],
    registry=REGISTRY,
)
TOTAL_SECONDS = Histogram(
    "licence_bot_recognition_seconds",
    "Time from receiving a photo to having the reply, by kind.",
    ["kind"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)
VENDOR_SECONDS = Histogram(
    "licence_bot_vendor_seconds",
    "Time spent in the vendor chain for one recognition, by kind and answering vendor.",
    ["kind", "vendor"],
    buckets=_BUCKETS,
    registry=REGISTRY,
)


#: Set to read the embedded engine's queue by bot/vendors/local/engine_queue.py; 0 where it is not used.
ENGINE_QUEUE_PHOTOS = Gauge(
    "licence_bot_engine_queue_photos",
    "Photos handed to the embedded engine and not yet done, the one being read included.",
    registry=REGISTRY,
)
ENGINE_EXPECTED_WAIT = Gauge(
    "licence_bot_engine_expected_wait_seconds",
    "How long a photo sent now, by someone with none waiting, would wait for the embedded engine; past "
    "[vendors.local] max_wait it is refused as busy.",
    registry=REGISTRY,
)


def record_recognition(
    kind: str, vendor: str | None, status: str, total_ms: float | None, vendor_ms: float | None
) -> None:
    vendor_label = vendor or "none"
    RECOGNITIONS.labels(kind=kind, vendor=vendor_label, status=status).inc()
    if total_ms is not None:
        TOTAL_SECONDS.labels(kind=kind).observe(total_ms / 1000)
    if vendor_ms is not None:
        VENDOR_SECONDS.labels(kind=kind, vendor=vendor_label).observe(vendor_ms / 1000)


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
