"""Prometheus metrics, correct across gunicorn workers.

Under gunicorn every worker is a process with its own counters; with
``PROMETHEUS_MULTIPROC_DIR`` set (our gunicorn config sets it to
``var/metrics``, emptied at start) each worker writes its values to files
there and a scrape of any worker aggregates them all. Without it (tests, the
Flask dev server) the metrics live in a registry of this app.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Scoring takes about a millisecond in-process; the buckets resolve that end
# and still show a slow dependency.
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, multiprocess_dir: Path | None) -> None:
        self._multiprocess_dir = multiprocess_dir
        # In multi-process mode values go to the shared files whatever the
        # registry; a private registry keeps tests' apps apart.
        self._registry = CollectorRegistry() if multiprocess_dir is None else None
        registry = self._registry
        self.checks = Counter(
            "moderation_checks_total",
            "Comments checked, by verdict and source",
            ["verdict", "source"],
            registry=registry,
        )
        self.latency = Histogram(
            "moderation_request_seconds",
            "Time to answer an API request, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.responses = Counter(
            "moderation_responses_total",
            "HTTP responses by endpoint and status code",
            ["endpoint", "status"],
            registry=registry,
        )
        self.model = Gauge(
            "moderation_model_info",
            "1 for the model version a worker serves",
            ["version"],
            registry=registry,
            multiprocess_mode="livemostrecent",
        )
        self.akismet_calls = Counter(
            "moderation_akismet_calls_total",
            "Akismet fallback outcomes: spam, ham, discard, or why there was no answer",
            ["answer"],
            registry=registry,
        )
        self.akismet_latency = Histogram(
            "moderation_akismet_seconds",
            "Time Akismet took to answer",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.akismet_circuit = Gauge(
            "moderation_akismet_circuit",
            "Akismet circuit breaker as last seen: 0 closed, 1 half-open, 2 open",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.claims = Counter(
            "moderation_review_claims_total", "Queue items claimed", registry=registry
        )
        self.decisions = Counter(
            "moderation_review_decisions_total",
            "Moderator decisions, by label",
            ["label"],
            registry=registry,
        )
        self.undos = Counter("moderation_review_undos_total", "Decisions undone", registry=registry)
        self.time_in_queue = Histogram(
            "moderation_review_wait_seconds",
            "Time from queueing to a moderator's decision",
            buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
            registry=registry,
        )
        self.queue_depth = Gauge(
            "moderation_review_pending",
            "Comments waiting for a moderator, by site (as of the last scrape)",
            ["site"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.spooled = Counter(
            "moderation_spooled_total",
            "Checked comments written to the disk spool while Redis was down",
            registry=registry,
        )
        self.spool_size = Gauge(
            "moderation_spool_records",
            "Checked comments in the spool, waiting for Redis (as of the last scrape)",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.webhooks = Counter(
            "moderation_webhook_deliveries_total",
            "Webhook attempts: delivered, failed (to be retried), given_up",
            ["outcome"],
            registry=registry,
        )
        self._model_version: str | None = None

    def serving(self, version: str | None) -> None:
        if version == self._model_version:
            return
        if self._model_version is not None:
            self.model.labels(self._model_version).set(0)
        if version is not None:
            self.model.labels(version).set(1)
        self._model_version = version

    def exposition(self) -> bytes:
        if self._registry is not None:
            return generate_latest(self._registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(self._multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(registry)
