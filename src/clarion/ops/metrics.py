"""Prometheus metrics: HTTP requests and latencies, queue depth (read at scrape time), job outcomes, message
events (``delivery.counters``)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from clarion.delivery.counters import MESSAGE_EVENTS
from clarion.queue.port import QueueStats
from clarion.usage.schemas import MODES, MonthUsage

_MAX_CACHED_CHILDREN = 1000
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per application, so tests and several apps in a process never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "clarion_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "clarion_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.job_outcomes = Counter(
            "clarion_job_outcomes",
            "Queue jobs handled, by task and outcome",
            ["task", "outcome"],
            registry=self.registry,
        )
        self.throttled_calls = Counter(
            "clarion_throttled_calls",
            "Calls of a throttling configuration, by final status (sent, failed, expired)",
            ["config", "status"],
            registry=self.registry,
        )
        self.throttle_wait = Gauge(
            "clarion_throttle_oldest_queued_seconds",
            "How long the oldest call taken last from the overflow queue had waited",
            ["config"],
            registry=self.registry,
            multiprocess_mode="max",
        )
        # Delivery's own counter (domains cannot import ops): registered here, in every app's registry.
        self.registry.register(MESSAGE_EVENTS)
        self.feedback_reports = Counter(
            "clarion_feedback_reports",
            "Mail received by the feedback listener, by outcome per message (bounce_hard, bounce_soft, "
            "bounce_policy, delayed, delivered, complaint, feedback_other, auto_reply, unparsed, forged, "
            "unknown_message, duplicate)",
            ["outcome"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.queue_snapshot = QueueDepthCollector()
        self.registry.register(self.queue_snapshot)
        self.usage_snapshot = UsageCollector()
        self.registry.register(self.usage_snapshot)

    def record_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count one answered request and observe its latency (label children are cached: hot path)."""
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(method, route, str(status)), self.latency.labels(method, route))
            if len(self._children) < _MAX_CACHED_CHILDREN:  # methods come from clients: stay bounded
                self._children[key] = children
        children[0].inc()
        children[1].observe(elapsed)

    def record_throttled_call(self, config_uid: str, status: str) -> None:
        """Count one call of a throttling configuration that reached a final status."""
        self.throttled_calls.labels(config_uid, status).inc()

    def record_throttle_wait(self, config_uid: str, seconds: float) -> None:
        """The age of the oldest call just taken from a configuration's overflow queue."""
        self.throttle_wait.labels(config_uid).set(seconds)

    def record_feedback(self, outcome: str) -> None:
        """Count one outcome of a mail received by the feedback listener."""
        self.feedback_reports.labels(outcome).inc()

    def record_job(self, task: str, outcome: str) -> None:
        """Count one job outcome (ok, retry, dead, unknown_task)."""
        self.job_outcomes.labels(task, outcome).inc()

    def exposition(self) -> bytes:
        """The text format; merges every process's values when running with several API workers."""
        if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
            merged = CollectorRegistry()
            MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
            merged.register(self.queue_snapshot)
            merged.register(self.usage_snapshot)
            return generate_latest(merged)
        return generate_latest(self.registry)


class QueueDepthCollector(Collector):
    """Reports the queue statistics the ``/metrics`` endpoint read just before rendering.

    Collectors are synchronous and the queue backends are async, so the endpoint reads the stats and
    stores them here rather than the collector reading them itself.
    """

    def __init__(self) -> None:
        self.stats: QueueStats | None = None

    def collect(self) -> Iterable[Metric]:
        """Yield ``clarion_queue_jobs{queue,state}``."""
        family = GaugeMetricFamily(
            "clarion_queue_jobs", "Jobs in the queue by state", labels=["queue", "state"]
        )
        if self.stats is not None:
            for state in ("ready", "delayed", "leased", "dead"):
                for queue, count in getattr(self.stats, state).items():
                    family.add_metric([queue, state], count)
        yield family


class UsageCollector(Collector):
    """Reports the month's message usage and quotas the ``/metrics`` endpoint read just before rendering.

    Read from the database at scrape time (like the queue depth), so every process reports the same totals;
    labels are the IMS org id and the mode only (two series per organization and gauge).
    """

    def __init__(self) -> None:
        self.usage: list[MonthUsage] | None = None

    def collect(self) -> Iterable[Metric]:
        """Yield ``clarion_messages_used``, ``clarion_messages_quota``, ``clarion_messages_over_quota``."""
        used = GaugeMetricFamily(
            "clarion_messages_used",
            "Messages accepted this month (UTC) per organization and mode",
            labels=["org", "mode"],
        )
        quota = GaugeMetricFamily(
            "clarion_messages_quota",
            "Monthly message quota per organization and mode (absent: unlimited)",
            labels=["org", "mode"],
        )
        over = GaugeMetricFamily(
            "clarion_messages_over_quota",
            "Messages accepted this month beyond the quota (soft quota mode)",
            labels=["org", "mode"],
        )
        for org in self.usage or []:
            for mode in MODES:
                count, limit = org.used[mode], org.quotas.of(mode)
                used.add_metric([org.ims_org_id, mode], count)
                if limit > 0:
                    quota.add_metric([org.ims_org_id, mode], limit)
                    over.add_metric([org.ims_org_id, mode], max(0, count - limit))
        yield used
        yield quota
        yield over
