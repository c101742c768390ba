"""6. Query latency: the query API on read models built from 1,000,000 events, against the write model.

Three questions, each asked over HTTP of the same gunicorn, one request at a time:
- a customer's orders (their own token; newest first, first page), /api/queries/orders/;
- product search, /api/queries/products/?search=<words>;
- daily sales over 90 days (staff), /api/queries/sales/daily/?date_after=…&date_before=…&page_size=100.
The baselines (bench/baseline_app) answer the same questions from the write model with
joins and aggregation at request time. Requests alternate between the two sides, with the
same parameters. Every query API request carries a unique extra parameter, so its response
cache (queries/caching.py) always misses: the figures are the database work, not Redis.
A cache hit of the same search is measured apart.
"""

from __future__ import annotations

import random
import secrets
import time
from datetime import timedelta
from urllib.parse import urlencode

from bench.context import Run
from bench.history import ADJECTIVES, NOUNS
from bench.load import LoadResult, percentile, timed_requests
from bench.report import Figure, Section

TITLE = "6. Query latency"


def run(run: Run) -> Section:
    from django.contrib.auth.models import User
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from commands.models import Customer

    section = Section(TITLE)
    run.read_models()
    history = run.history
    with connections["read"].cursor() as cursor:
        cursor.execute("ANALYZE")
    generator = random.Random(6)
    samples = run.sizes.query_samples

    staff = User.objects.create(username="bench-analyst", is_staff=True, password="!")
    staff_token = Token.objects.create(user=staff, key=secrets.token_hex(20)).key
    customers = list(Customer.objects.order_by("?").values_list("user_id", flat=True)[:samples])
    tokens = Token.objects.bulk_create(Token(user_id=user_id, key=secrets.token_hex(20)) for user_id in customers)

    last_day = history.clock.date() - timedelta(days=1)
    searches = [
        f"{generator.choice(ADJECTIVES)} {generator.choice(NOUNS)}" if n % 2 else generator.choice(NOUNS)
        for n in range(samples)
    ]
    windows = [(last_day - timedelta(days=89 + n), last_day - timedelta(days=n)) for n in range(samples)]

    def orders(n: int):
        headers = {"Authorization": f"Token {tokens[n % len(tokens)].key}"}
        return (
            ("GET", f"/api/queries/orders/?_={n}", None, headers),
            ("GET", "/bench/baseline/write/orders/", None, headers),
        )

    def products(n: int):
        query = urlencode({"search": searches[n]})
        return (
            ("GET", f"/api/queries/products/?{query}&_={n}", None, {}),
            ("GET", f"/bench/baseline/write/products/?{query}", None, {}),
        )

    def sales(n: int):
        after, before = windows[n]
        query = urlencode({"date_after": after.isoformat(), "date_before": before.isoformat(), "page_size": 100})
        headers = {"Authorization": f"Token {staff_token}"}
        return (
            ("GET", f"/api/queries/sales/daily/?{query}&_={n}", None, headers),
            ("GET", f"/bench/baseline/write/sales/daily/?{query}", None, headers),
        )

    web, url = run.services.web_server(run.env, workers=run.args.web_workers, threads=run.args.web_threads)
    table = [
        "| question | read model p50 / p99 ms | write model p50 / p99 ms | n | p50 ratio | p99 ratio |",
        "|---|---|---|---|---|---|",
    ]
    try:
        for name, make in (
            ("orders of one customer", orders),
            ("product search", products),
            ("daily sales, 90 days", sales),
        ):
            for warm in range(3):
                timed_requests(url, list(make(samples - 1 - warm)))
            read, write = LoadResult(), LoadResult()
            started, n = time.monotonic(), 0
            while n < samples and (n < 20 or time.monotonic() - started < run.sizes.query_seconds):
                read_request, write_request = make(n)
                read.merge(timed_requests(url, [read_request]))
                write.merge(timed_requests(url, [write_request]))
                n += 1
            for result in (read, write):
                if result.errors:
                    section.details.append(f"- {name}: {result.errors} errors, e.g. {result.failures[:2]}")
            read_p50, read_p99 = percentile(read.latencies, 0.5) * 1000, percentile(read.latencies, 0.99) * 1000
            write_p50, write_p99 = percentile(write.latencies, 0.5) * 1000, percentile(write.latencies, 0.99) * 1000
            section.figures += [
                Figure(
                    "6",
                    f"{name}: p50",
                    read_p50,
                    "ms",
                    "write model",
                    write_p50,
                    write_p50 / read_p50,
                ),
                Figure(
                    "6",
                    f"{name}: p99",
                    read_p99,
                    "ms",
                    "write model",
                    write_p99,
                    write_p99 / read_p99,
                ),
            ]
            table.append(
                f"| {name} | {read_p50:.1f} / {read_p99:.1f} | {write_p50:.1f} / {write_p99:.1f} | {n} "
                f"| {write_p50 / read_p50:.1f}x | {write_p99 / read_p99:.1f}x |"
            )
        hit_request = ("GET", f"/api/queries/products/?{urlencode({'search': searches[0]})}", None, {})
        timed_requests(url, [hit_request])
        hits = timed_requests(url, [hit_request] * 50)
    finally:
        run.services.stop(web)
    section.details += [
        "- Ratios are write model / read model: how many times faster the read model answers.",
        f"- Data: {history.events_written:,} events; {len(tokens)} customers asked for their orders; "
        f"searches are one noun or an adjective and a noun; windows of 90 days ending on or before {last_day}.",
        f"- Product search served from the response cache (same URL again): p50 "
        f"{percentile(hits.latencies, 0.5) * 1000:.1f} ms, p99 {percentile(hits.latencies, 0.99) * 1000:.1f} ms.",
        "",
        *table,
    ]
    return section
