"""Prometheus metrics: what the shop counts, and the /metrics endpoint that exposes them.

Counters and histograms are updated where things happen (commands.handlers
dispatch, projections.runner, the query middleware below). Collectors that the
apps register (per-follower positions and lags) read the databases when
/metrics is scraped, so every process reports the same truth. With PROMETHEUS_MULTIPROC_DIR set
(gunicorn and Celery prefork), the processes' samples are merged.

/metrics is not public: it answers staff users, or a scraper that sends
`Authorization: Bearer <METRICS_TOKEN>` (may_see_internals(), which /readyz's details share).
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
from prometheus_client.multiprocess import MultiProcessCollector

COMMANDS = Counter("shop_commands_total", "Commands handled, by command and outcome.", ["command", "outcome"])
COMMAND_SECONDS = Histogram("shop_command_seconds", "Time to handle a command, commit included.", ["command"])
EVENTS_APPENDED = Counter("shop_events_appended_total", "Events appended to the log, by type.", ["type"])
BATCH_SECONDS = Histogram("shop_projection_batch_seconds", "Time to apply one batch, by follower.", ["follower"])
ROWS_WRITTEN = Counter("shop_projection_rows_written_total", "Read-model rows upserted, by table.", ["table"])
BATCH_FAILURES = Counter("shop_projection_failures_total", "Failed batch attempts, by follower.", ["follower"])
QUERY_SECONDS = Histogram(
    "shop_query_seconds", "Time to answer a query endpoint, by endpoint and status.", ["endpoint", "status"]
)


# Collectors that read their figures from the databases at scrape time, registered by the apps.
_scrape_time_collectors: list = []


def register_collector(collector) -> None:
    """Add a prometheus collector whose samples are read when /metrics is scraped (once per collector)."""
    if collector not in _scrape_time_collectors:
        _scrape_time_collectors.append(collector)


def metrics_view(request):
    if not may_see_internals(request):
        return HttpResponse("Staff, or a bearer METRICS_TOKEN, only.\n", status=403, content_type="text/plain")
    scraped = CollectorRegistry()
    for collector in _scrape_time_collectors:
        scraped.register(collector)
    body = generate_latest(_process_registry()) + generate_latest(scraped)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)


def _process_registry() -> CollectorRegistry:
    """This process's samples, or every process's where they share PROMETHEUS_MULTIPROC_DIR."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    merged = CollectorRegistry()
    MultiProcessCollector(merged)
    return merged


def may_see_internals(request) -> bool:
    """Whether `request` comes from a signed-in staff session or sends the bearer METRICS_TOKEN."""
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
