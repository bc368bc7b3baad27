"""Prometheus collectors, owned by one app (its own CollectorRegistry)."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vts.domain import FINAL_STATUSES

STANDARD_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
)


class Metrics:
    """Every metric vts exports; `registry` is what GET /metrics renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.jobs_created = Counter(
            "vts_jobs_created", "Jobs accepted by POST /translate.", registry=r
        )
        self.jobs_finished = Counter(
            "vts_jobs_finished",
            "Jobs that reached a final state.",
            ["status"],
            registry=r,
        )
        # Exported at 0 from the start: a counter that appears at 1 hides its first
        # increase from rate() and increase(), and alerts (VtsJobsStuck) read them.
        for status in sorted(FINAL_STATUSES):
            self.jobs_finished.labels(status.value)
        self.job_attempts_failed = Counter(
            "vts_job_attempts_failed",
            "Processing attempts that raised, by whether they will be retried.",
            ["retryable"],
            registry=r,
        )
        self.leases_lost = Counter(
            "vts_job_leases_lost",
            "Leases that ran out before their job's outcome (the worker was killed, "
            "crashed or stalled), by what became of the job: reclaimed (no attempt "
            "used) or dead_lettered (VTS_MAX_LEASE_LOSSES reached).",
            ["outcome"],
            registry=r,
        )
        for outcome in ("reclaimed", "dead_lettered"):
            self.leases_lost.labels(outcome)  # exported at 0 before the first loss
        self.auth_failures = Counter(
            "vts_auth_failures",
            "Requests refused by authentication (missing, invalid, expired, revoked "
            "key) or authorization (forbidden: the key lacks the scope).",
            ["reason"],
            registry=r,
        )
        for reason in ("missing", "invalid", "expired", "revoked", "forbidden"):
            self.auth_failures.labels(reason)
        # Per tenant: tenants are created by admins, so the label set stays bounded.
        self.tenant_jobs_created = Counter(
            "vts_tenant_jobs_created",
            "Jobs created, by tenant.",
            ["tenant"],
            registry=r,
        )
        self.tenant_jobs_finished = Counter(
            "vts_tenant_jobs_finished",
            "Jobs that reached a final state, by tenant and status.",
            ["tenant", "status"],
            registry=r,
        )
        self.tenant_rejections = Counter(
            "vts_tenant_rejections",
            "Requests refused with 429, by tenant and reason: quota (max_active_jobs "
            "reached) or rate (requests_per_second exceeded).",
            ["tenant", "reason"],
            registry=r,
        )
        self.job_duration = Histogram(
            "vts_job_duration_seconds",
            "Time from a job's creation to its final state.",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.jobs_by_state = Gauge(
            "vts_jobs",
            "Jobs in the store by state (read at scrape time).",
            ["status"],
            registry=r,
        )
        self.dlq_size = Gauge(
            "vts_dlq_size",
            "Entries in the dead-letter queue (read at scrape time).",
            registry=r,
        )
        self.websocket_connections = Gauge(
            "vts_websocket_connections",
            "Open WebSocket connections.",
            ["endpoint"],
            registry=r,
        )
        self.event_streams = Gauge(
            "vts_event_streams",
            "Open Server-Sent Events streams (GET /events).",
            registry=r,
        )
        self.event_streams_slow = Counter(
            "vts_event_streams_slow",
            "GET /events streams closed because the client stopped reading.",
            registry=r,
        )
        self.http_requests = Counter(
            "vts_http_requests",
            "HTTP requests by route and status code; 499: the client closed the "
            "connection before the answer was sent.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_latency = Histogram(
            "vts_http_request_duration_seconds",
            "HTTP request handling time by route.",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_connections = Gauge(
            "vts_http_connections",
            "Open client connections, WebSockets included (VTS_MAX_CONNECTIONS).",
            registry=r,
        )
        self.http_connections_dropped = Counter(
            "vts_http_connections_dropped",
            "Connections vts closed itself, by reason: over_limit (answered 503), "
            "evicted (idle or unfinished headers, to admit a new one), "
            "request_timeout (headers not in within VTS_REQUEST_TIMEOUT).",
            ["reason"],
            registry=r,
        )
        self.cache_hits = Counter(
            "vts_cache_hits", "Job reads served by the cache.", registry=r
        )
        self.cache_misses = Counter(
            "vts_cache_misses", "Job reads that went to the store.", registry=r
        )
        self.broker_errors = Counter(
            "vts_broker_errors",
            "Broker operations that failed (the store stays the truth).",
            ["operation"],
            registry=r,
        )
        self.events_published = Counter(
            "vts_events",
            "Job events fanned out by this process, by origin.",
            ["origin"],
            registry=r,
        )
        self.jobs_purged = Counter(
            "vts_jobs_purged",
            "Final jobs deleted because they outlived VTS_RETENTION.",
            registry=r,
        )
        self.store_writable = Gauge(
            "vts_store_writable",
            "1 while the job store answers and can write; 0 while it cannot write "
            "(a full disk, read-only) or is unreachable (checked at scrape time).",
            registry=r,
        )
        self.loop_crashes = Counter(
            "vts_background_loop_crashes",
            "Unexpected exceptions that restarted a background loop (should stay 0).",
            ["loop"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "vts_webhook_deliveries",
            "Webhook delivery attempts, by outcome: succeeded (2xx), retried (will be "
            "tried again) or failed (410, schedule used up, endpoint disabled).",
            ["outcome"],
            registry=r,
        )
        for outcome in ("succeeded", "retried", "failed"):
            self.webhook_deliveries.labels(outcome)
        self.webhook_latency = Histogram(
            "vts_webhook_delivery_latency_seconds",
            "From a job change to the 2xx of its webhook, retries included.",
            buckets=(*LATENCY_BUCKETS, 5, 10, 30, 60, 300, 1800, 7200, 86400),
            registry=r,
        )
        self.webhook_outbox_depth = Gauge(
            "vts_webhook_outbox_depth",
            "Webhook deliveries pending (due or waiting for a retry).",
            registry=r,
        )
        self.webhook_events_dispatched = Counter(
            "vts_webhook_dispatched_events",
            "Job events the webhook dispatcher read from the log and turned into "
            "deliveries (none for an event no endpoint wants).",
            registry=r,
        )
        self.webhook_undispatched = Gauge(
            "vts_webhook_undispatched_events",
            "Job events logged that the webhook dispatcher has not read yet (0 while no "
            "endpoint exists): how far it is behind the log.",
            registry=r,
        )
        self.webhook_endpoints_disabled = Gauge(
            "vts_webhook_endpoints_disabled",
            "Webhook endpoints disabled (410 Gone, or failing too long).",
            registry=r,
        )

        # (method, route, status) -> the two children one request updates; labels()
        # takes a lock and checks its arguments, which costs more than the update.
        self._request_children: dict[tuple[str, str, str], tuple[Any, Any]] = {}
        # The two WebSocket endpoints' children, made once (and exported at 0).
        self._websocket_children = {
            endpoint: self.websocket_connections.labels(endpoint)
            for endpoint in ("job", "jobs")
        }

    def observe_request(
        self, method: str, route: str, status: int, seconds: float
    ) -> None:
        """Count one HTTP request and its duration. Methods outside HTTP's standard
        set count as OTHER, so a client cannot mint label values (series) at will."""
        if method not in STANDARD_METHODS:
            method = "OTHER"
        key = (method, route, str(status))
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.http_requests.labels(*key),
                self.http_latency.labels(method, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def websockets_open(self, endpoint: str) -> Any:
        """The vts_websocket_connections child of `endpoint` (job or jobs)."""
        return self._websocket_children[endpoint]

    def count_crash(self, loop: str) -> None:
        self.loop_crashes.labels(loop).inc()
