"""Prometheus metrics every service exposes at `/metrics` (names are used by the k8s alerts)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

events_published = Counter(
    "wijkaanpak_events_published_total", "Outbox events published to Kafka", ["service", "topic"]
)
# measured from the outbox table on a timer by every relay replica, also while publishing fails
outbox_pending = Gauge("wijkaanpak_outbox_pending", "Outbox rows not yet published (parked ones aside)", ["service"])
outbox_oldest_seconds = Gauge(
    "wijkaanpak_outbox_oldest_unpublished_seconds", "Age of the oldest unpublished outbox row (0: none)", ["service"]
)
kafka_reachable = Gauge(
    "wijkaanpak_kafka_reachable", "1 while the service's producer gets the broker's metadata, else 0", ["service"]
)
outbox_parked = Gauge("wijkaanpak_outbox_parked_rows", "Outbox rows parked: Kafka refused them for good", ["service"])
events_consumed = Counter("wijkaanpak_events_consumed_total", "Events handled by a consumer", ["consumer", "result"])
dlq_records = Counter("wijkaanpak_dlq_records_total", "Records sent to a dead-letter topic", ["consumer", "topic"])
# committed offset to partition end, summed over the topic's assigned partitions, measured on a timer
consumer_lag = Gauge("wijkaanpak_consumer_lag", "Records behind the partition end", ["consumer", "topic"])
# events a consumer took but cannot apply yet (shared.waiting), measured on a timer
consumer_waiting = Gauge("wijkaanpak_consumer_waiting_events", "Events waiting to be applied", ["consumer"])
consumer_waiting_oldest_seconds = Gauge(
    "wijkaanpak_consumer_waiting_oldest_seconds", "How long the oldest waiting event waits (0: none)", ["consumer"]
)
consumer_wait_expired = Counter(
    "wijkaanpak_consumer_wait_expired_total", "Waiting events dead-lettered at their deadline", ["consumer", "topic"]
)
http_requests = Histogram(
    "wijkaanpak_http_request_seconds",
    "HTTP request duration",
    ["service", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
