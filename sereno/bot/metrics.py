"""Prometheus metrics of one Sereno process (served at /metrics in webhook mode).

Counters and histograms are moved by the handlers, the jobs, the webhook and the
broadcaster as things happen; the gauges (queue depth, outbox backlog and the oldest
message's wait) are read from the database at each scrape, so every replica reports the
shared truth. The process's own figures (CPU, memory, open files) and the build are there
too. Nothing here carries a person's id or words.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from importlib import metadata

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from sereno.bot.broadcaster import BroadcastCounters

#: Buckets (seconds) for how long the desk takes: from seconds to a few hours.
DESK_BUCKETS = (15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400)


class Metrics:
    """The instruments, on a registry of their own (several apps may live in one process);
    `schema_revision` is the newest database schema revision the migrations know (None:
    none), shown in the build info."""

    def __init__(self, schema_revision: str | None = None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter("sereno_updates", "Telegram updates received, by kind", ["kind"], registry=r)
        self.reports = Counter("sereno_reports", "Reports submitted", registry=r)
        self.incidents = Counter("sereno_incidents_decided", "Incidents decided, by verdict", ["verdict"], registry=r)
        self.time_to_claim = Histogram(
            "sereno_time_to_first_claim_seconds",
            "From an incident's first report to its first claim",
            buckets=DESK_BUCKETS,
            registry=r,
        )
        self.time_to_verdict = Histogram(
            "sereno_time_to_verdict_seconds",
            "From an incident's first report to its final verdict",
            buckets=DESK_BUCKETS,
            registry=r,
        )
        self.queue_depth = Gauge("sereno_queue_depth", "Open incidents on the desk", registry=r)
        self.outbox_backlog = Gauge("sereno_outbox_backlog", "Outbox messages pending or being sent", registry=r)
        self.oldest_pending = Gauge(
            "sereno_outbox_oldest_pending_seconds",
            "How long the oldest outbox message not yet delivered has waited (0: none)",
            registry=r,
        )
        self.leader = Gauge("sereno_leader", "1 when this process runs the jobs and the broadcaster", registry=r)
        self.leadership_changes = Counter(
            "sereno_leadership_changes", "Times this process became or stopped being the leader", ["change"], registry=r
        )
        self.job_last_success = Gauge(
            "sereno_job_last_success_timestamp_seconds",
            "When each scheduled job last finished without an error (0: not yet)",
            ["job"],
            registry=r,
        )
        self.webhook_seconds = Histogram(
            "sereno_webhook_request_seconds", "Time to answer Telegram's webhook requests", registry=r
        )
        self.webhook_errors = Counter(
            "sereno_webhook_errors", "Webhook requests answered with an error, by status", ["status"], registry=r
        )
        Info("sereno_build", "The running version, and the database schema revision it migrates to", registry=r).info(
            build_info(schema_revision)
        )
        ProcessCollector(registry=r)

    def job_succeeded(self, job: str) -> None:
        """Record that `job` just finished without an error."""
        self.job_last_success.labels(job).set(time.time())

    def watch_broadcaster(self, counters: BroadcastCounters) -> None:
        """Expose the broadcaster's own counts (sent, failed, retried, 429 answers)."""
        self.registry.register(_BroadcastCollector(counters))

    async def render(self, refresh: Callable[[Metrics], Awaitable[None]]) -> bytes:
        """The text exposition, after `refresh` has set the gauges."""
        await refresh(self)
        return generate_latest(self.registry)


class _BroadcastCollector(Collector):
    def __init__(self, counters: BroadcastCounters) -> None:
        self._counters = counters

    def collect(self) -> list[CounterMetricFamily]:
        family = CounterMetricFamily(
            "sereno_outbox_messages", "Outbox messages handled by the broadcaster, by outcome", labels=["outcome"]
        )
        for outcome in ("sent", "failed", "retried", "throttled"):
            family.add_metric([outcome], getattr(self._counters, outcome))
        return [family]


def build_info(schema_revision: str | None) -> dict[str, str]:
    """The installed Sereno version and the newest schema revision its migrations know."""
    try:
        version = metadata.version("sereno")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        version = "unknown"
    return {"version": version, "revision": schema_revision or "none"}
