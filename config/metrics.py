"""Prometheus metrics: what the shop counts, and the /metrics endpoint that exposes them.

Counters and histograms are updated where things happen (commands.handlers
dispatch, projections.runner, the query middleware below). Per-follower
positions and lags are read from the databases when /metrics is scraped, so
every process reports the same truth. With PROMETHEUS_MULTIPROC_DIR set
(gunicorn and Celery prefork), the processes' samples are merged.

/metrics is not public: it answers staff users, or a scraper that sends
`Authorization: Bearer <METRICS_TOKEN>`.
"""

import hmac
import os
import time

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

COMMANDS = Counter("shop_commands_total", "Commands handled, by command and outcome.", ["command", "outcome"])
COMMAND_SECONDS = Histogram("shop_command_seconds", "Time to handle a command, commit included.", ["command"])
EVENTS_APPENDED = Counter("shop_events_appended_total", "Events appended to the log, by type.", ["type"])
BATCH_SECONDS = Histogram("shop_projection_batch_seconds", "Time to apply one batch, by follower.", ["follower"])
BATCH_FAILURES = Counter("shop_projection_failures_total", "Failed batch attempts, by follower.", ["follower"])
QUERY_SECONDS = Histogram(
    "shop_query_seconds", "Time to answer a query endpoint, by endpoint and status.", ["endpoint", "status"]
)


class FollowerCollector:
    """Each follower's position, lag and state, read at scrape time."""

    def collect(self):
        from projections.status import follower_statuses

        position = GaugeMetricFamily("shop_projection_position", "Last event applied.", labels=["follower"])
        head = GaugeMetricFamily("shop_event_log_head", "Position of the newest event in the log.")
        lag_events = GaugeMetricFamily("shop_projection_lag_events", "Events not yet applied.", labels=["follower"])
        lag_seconds = GaugeMetricFamily(
            "shop_projection_lag_seconds", "Age of the oldest event not yet applied.", labels=["follower"]
        )
        failed = GaugeMetricFamily("shop_projection_failed", "1 while the follower is failed.", labels=["follower"])
        statuses = follower_statuses()
        for status in statuses:
            position.add_metric([status.name], status.position)
            lag_events.add_metric([status.name], status.lag_events)
            lag_seconds.add_metric([status.name], status.lag_seconds)
            failed.add_metric([status.name], 1 if status.state == "failed" else 0)
        head.add_metric([], statuses[0].head if statuses else 0)
        yield from (position, head, lag_events, lag_seconds, failed)


def metrics_view(request):
    if not _may_scrape(request):
        return HttpResponse("Staff, or a bearer METRICS_TOKEN, only.\n", status=403, content_type="text/plain")
    followers = CollectorRegistry()
    followers.register(FollowerCollector())
    body = generate_latest(_process_registry()) + generate_latest(followers)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _process_registry() -> CollectorRegistry:
    """This process's samples, or every process's where they share PROMETHEUS_MULTIPROC_DIR."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged)
    return merged


def _may_scrape(request) -> bool:
    token = settings.METRICS_TOKEN
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if token and offered and hmac.compare_digest(offered, token):
        return True
    return request.user.is_authenticated and request.user.is_staff


class QueryMetricsMiddleware:
    """Time every query endpoint, labelled by its URL name (never the raw path, whose ids are unbounded)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        if match is not None and request.path.startswith("/api/queries/"):
            QUERY_SECONDS.labels(match.view_name, str(response.status_code)).observe(time.perf_counter() - started)
        return response
