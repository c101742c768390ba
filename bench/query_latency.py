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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from urllib.parse import urlencode

from bench.context import Run
from bench.history import ADJECTIVES, NOUNS
from bench.load import LoadResult, percentile, timed_requests
from bench.report import Figure, Section

TITLE = "6. Query latency"


@dataclass
class Questions:
    """The three questions, each as a pair of requests (query API, write-model baseline) with the same parameters."""

    tokens: list[str]  # customers' tokens
    staff_token: str
    searches: list[str]
    windows: list[tuple[date, date]]
    last_day: date

    def orders(self, n: int):
        headers = {"Authorization": f"Token {self.tokens[n % len(self.tokens)]}"}
        return (
            ("GET", f"/api/queries/orders/?_={n}", None, headers),
            ("GET", "/bench/baseline/write/orders/", None, headers),
        )

    def products(self, n: int):
        query = urlencode({"search": self.searches[n]})
        return (
            ("GET", f"/api/queries/products/?{query}&_={n}", None, {}),
            ("GET", f"/bench/baseline/write/products/?{query}", None, {}),
        )

    def sales(self, n: int):
        after, before = self.windows[n]
        query = urlencode({"date_after": after.isoformat(), "date_before": before.isoformat(), "page_size": 100})
        headers = {"Authorization": f"Token {self.staff_token}"}
        return (
            ("GET", f"/api/queries/sales/daily/?{query}&_={n}", None, headers),
            ("GET", f"/bench/baseline/write/sales/daily/?{query}", None, headers),
        )

    def asked(self) -> list[tuple[str, Callable[[int], tuple]]]:
        return [
            ("orders of one customer", self.orders),
            ("product search", self.products),
            ("daily sales, 90 days", self.sales),
        ]


@dataclass
class Answers:
    """One question's latencies on each side, over `n` alternating pairs of requests."""

    name: str
    read: LoadResult
    write: LoadResult
    n: int


def run(run: Run) -> Section:
    questions = set_up(run)
    web, url = run.services.web_server(run.env, workers=run.args.web_workers)
    try:
        answers = [measure(run, url, name, make) for name, make in questions.asked()]
        hits = measure_cache_hits(url, questions.searches[0])
    finally:
        run.services.stop(web)
    return report(run, questions, answers, hits)


def set_up(run: Run) -> Questions:
    """The read models at the head, fresh statistics, tokens for a staff user and sampled customers, parameters."""
    from django.contrib.auth.models import User
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from commands.models import Customer

    run.read_models()
    with connections["read"].cursor() as cursor:
        cursor.execute("ANALYZE")
    generator, samples = random.Random(6), run.sizes.query_samples
    staff = User.objects.create(username="bench-analyst", is_staff=True, password="!")
    customers = list(Customer.objects.order_by("?").values_list("user_id", flat=True)[:samples])
    tokens = Token.objects.bulk_create(Token(user_id=user_id, key=secrets.token_hex(20)) for user_id in customers)
    last_day = run.history.clock.date() - timedelta(days=1)
    return Questions(
        tokens=[token.key for token in tokens],
        staff_token=Token.objects.create(user=staff, key=secrets.token_hex(20)).key,
        searches=[
            f"{generator.choice(ADJECTIVES)} {generator.choice(NOUNS)}" if n % 2 else generator.choice(NOUNS)
            for n in range(samples)
        ],
        windows=[(last_day - timedelta(days=89 + n), last_day - timedelta(days=n)) for n in range(samples)],
        last_day=last_day,
    )


def measure(run: Run, url: str, name: str, make: Callable[[int], tuple]) -> Answers:
    """After 3 warm-up pairs, pairs of requests one at a time: at least 20, then until samples or seconds run out."""
    samples = run.sizes.query_samples
    for warm in range(3):
        timed_requests(url, list(make(samples - 1 - warm)))
    read, write = LoadResult(), LoadResult()
    started, n = time.monotonic(), 0
    while n < samples and (n < 20 or time.monotonic() - started < run.sizes.query_seconds):
        read_request, write_request = make(n)
        read.merge(timed_requests(url, [read_request]))
        write.merge(timed_requests(url, [write_request]))
        n += 1
    return Answers(name, read, write, n)


def measure_cache_hits(url: str, search: str) -> LoadResult:
    """The same product search 50 times after a first request: served from the response cache."""
    hit_request = ("GET", f"/api/queries/products/?{urlencode({'search': search})}", None, {})
    timed_requests(url, [hit_request])
    return timed_requests(url, [hit_request] * 50)


def report(run: Run, questions: Questions, answers: list[Answers], hits: LoadResult) -> Section:
    section = Section(TITLE)
    table = [
        "| question | read model p50 / p99 ms | write model p50 / p99 ms | n | p50 ratio | p99 ratio |",
        "|---|---|---|---|---|---|",
    ]
    for answer in answers:
        for result in (answer.read, answer.write):
            if result.errors:
                section.details.append(f"- {answer.name}: {result.errors} errors, e.g. {result.failures[:2]}")
        section.figures += _figures(answer)
        table.append(_table_row(answer))
    section.details += [
        "- Ratios are write model / read model: how many times faster the read model answers.",
        f"- Data: {run.history.events_written:,} events; {len(questions.tokens)} customers asked for their orders; "
        "searches are one noun or an adjective and a noun; "
        f"windows of 90 days ending on or before {questions.last_day}.",
        f"- Product search served from the response cache (same URL again): p50 "
        f"{percentile(hits.latencies, 0.5) * 1000:.1f} ms, p99 {percentile(hits.latencies, 0.99) * 1000:.1f} ms.",
        "",
        *table,
    ]
    return section


def _milliseconds(result: LoadResult) -> tuple[float, float]:
    """p50 and p99, in ms."""
    return percentile(result.latencies, 0.5) * 1000, percentile(result.latencies, 0.99) * 1000


def _figures(answer: Answers) -> list[Figure]:
    (read_p50, read_p99), (write_p50, write_p99) = _milliseconds(answer.read), _milliseconds(answer.write)
    return [
        Figure("6", f"{answer.name}: p50", read_p50, "ms", "write model", write_p50, write_p50 / read_p50),
        Figure("6", f"{answer.name}: p99", read_p99, "ms", "write model", write_p99, write_p99 / read_p99),
    ]


def _table_row(answer: Answers) -> str:
    (read_p50, read_p99), (write_p50, write_p99) = _milliseconds(answer.read), _milliseconds(answer.write)
    return (
        f"| {answer.name} | {read_p50:.1f} / {read_p99:.1f} | {write_p50:.1f} / {write_p99:.1f} | {answer.n} "
        f"| {write_p50 / read_p50:.1f}x | {write_p99 / read_p99:.1f}x |"
    )
