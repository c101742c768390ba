"""1. Command throughput over HTTP: PlaceOrder with 3 lines against a plain DRF create of the same order.

Both are served by the same web server (scripts/serve), with the same workers and settings, in the same run,
and driven at saturation by the same client, in alternating rounds so that drift in the
machine's load (it is shared) falls on both alike. The baseline is a ModelViewSet create
of an order and 3 lines (bench/baseline_app): no events, no stock check, no version.
No Celery worker runs meanwhile: the wake-ups are enqueued into Redis as usual, and the
workers' own CPU would belong to another machine in production.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from dataclasses import dataclass
from decimal import Decimal

from bench.context import Run
from bench.load import LoadResult, median, percentile, saturate
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section

TITLE = "1. Command throughput over HTTP"
TARGET = 0.6
WARM_UP_SECONDS = 2.0
PROFILE_SECONDS = 5.0


@dataclass
class OrderRequests:
    """The two contenders' requests: the same 3-line orders, as PlaceOrder and as a plain DRF create."""

    products: list[tuple[str, Decimal]]  # (id, price)
    customers: list[tuple[str, str]]  # (id, token)
    generators: list[random.Random]  # one per client thread

    def lines(self, thread: int) -> list[tuple[str, int, Decimal]]:
        chosen = self.generators[thread].sample(self.products, 3)
        return [(product_id, self.generators[thread].randint(1, 3), price) for product_id, price in chosen]

    def place_order(self, thread: int, n: int):
        _customer, token = self.customers[thread % len(self.customers)]
        body = {"lines": [{"product_id": p, "quantity": q} for p, q, _ in self.lines(thread)]}
        return "POST", "/api/commands/orders/place/", json.dumps(body).encode(), _headers(token)

    def plain_create(self, thread: int, n: int):
        customer_id, token = self.customers[thread % len(self.customers)]
        chosen = self.lines(thread)
        body = {
            "customer": customer_id,
            "status": "placed",
            "total": str(sum((q * price for _, q, price in chosen), Decimal(0))),
            "lines": [{"product": p, "quantity": q, "unit_price": str(price)} for p, q, price in chosen],
        }
        return "POST", "/bench/baseline/orders/", json.dumps(body).encode(), _headers(token)


@dataclass
class Measured:
    totals: dict[str, LoadResult]
    pairs: list[tuple[float, float]]  # (PlaceOrder, baseline) requests/s of each round
    placed: int
    plain: int
    profile: list[str]


def run(run: Run) -> Section:
    requests = set_up(run)
    web, url = run.services.web_server(run.env, workers=run.args.web_workers)
    try:
        measured = measure(run, requests, url, web.process.pid)
    finally:
        run.services.stop(web)
    return report(run, requests, measured)


def set_up(run: Run) -> OrderRequests:
    shop = run.shop()
    return OrderRequests(
        products=[(str(product.id), product.price) for product in shop.products],
        customers=[(str(customer.id), token) for _user, customer, token in shop.customers],
        generators=[random.Random(index) for index in range(run.sizes.http_threads)],
    )


def measure(run: Run, requests: OrderRequests, url: str, server_pid: int) -> Measured:
    """Both contenders in alternating rounds after a warm-up, then PlaceOrder again under py-spy (not measured)."""
    from bench.baseline_app.models import PlainOrder
    from commands.models import Order

    contenders = {"PlaceOrder": requests.place_order, "baseline": requests.plain_create}
    totals = {name: LoadResult() for name in contenders}
    for make in contenders.values():
        saturate(url, make, threads=run.sizes.http_threads, seconds=WARM_UP_SECONDS)
    orders_before, plain_before = Order.objects.count(), PlainOrder.objects.count()
    share = run.sizes.http_seconds / run.sizes.http_rounds
    pairs = []
    for _ in range(run.sizes.http_rounds):
        rates = []
        for name, make in contenders.items():
            result = saturate(url, make, threads=run.sizes.http_threads, seconds=share)
            totals[name].merge(result)
            rates.append(result.rate)
            time.sleep(0.2)
        pairs.append(tuple(rates))
    placed, plain = Order.objects.count() - orders_before, PlainOrder.objects.count() - plain_before
    spy = start_spy(server_pid, PROFILE_SECONDS, rate=100, subprocesses=True)
    saturate(url, requests.place_order, threads=run.sizes.http_threads, seconds=PROFILE_SECONDS)
    return Measured(totals, pairs, placed, plain, spy_report(spy))


def report(run: Run, requests: OrderRequests, measured: Measured) -> Section:
    command, baseline = measured.totals["PlaceOrder"], measured.totals["baseline"]
    # The median of the rounds' ratios: a burst of someone else's load spoils one round, not the figure.
    ratio = statistics.median(ours / theirs for ours, theirs in measured.pairs if theirs)
    figure = Figure(
        "1",
        "PlaceOrder (3 lines) over HTTP",
        command.rate,
        "commands/s",
        "DRF ModelViewSet create",
        baseline.rate,
        ratio,
        f">= {TARGET}",
        ratio >= TARGET,
    )
    return Section(TITLE, figures=[figure], details=_details(run, requests, measured))


def _details(run: Run, requests: OrderRequests, measured: Measured) -> list[str]:
    command, baseline, pairs = measured.totals["PlaceOrder"], measured.totals["baseline"], measured.pairs
    server = f"scripts/serve, {run.args.web_workers} uvicorn workers"
    details = [
        f"- Server: {server}, DEBUG off, CONN_MAX_AGE=60; client: {run.sizes.http_threads} threads "
        f"(http.client, keep-alive where the server allows it), {run.sizes.http_rounds} alternating rounds, "
        f"{run.sizes.http_seconds:.0f} s per contender after {WARM_UP_SECONDS:.0f} s of warm-up each.",
        f"- Data: {len(requests.customers)} customers (token auth), {len(requests.products)} products; "
        "each order has 3 distinct random products, quantity 1-3.",
        "",
        "| contender | requests/s | ok | errors | p50 ms | p99 ms | rows written |",
        "|---|---|---|---|---|---|---|",
        _row("PlaceOrder", command, f"{measured.placed} orders"),
        _row("baseline create", baseline, f"{measured.plain} plain orders"),
        "",
        f"- Ratio: the median of the {len(pairs)} rounds' ratios (each round: PlaceOrder, then the baseline); "
        f"rounds: {', '.join(f'{ours:.0f}/{theirs:.0f}' for ours, theirs in pairs)} requests/s; "
        f"ratio of the totals {command.rate / baseline.rate:.2f}.",
    ]
    for name, result in measured.totals.items():
        if result.failures:
            details.append(f"- {name} failures (first): {result.failures[:3]}")
    return [
        *details,
        "",
        f"Profile of the web workers during {PROFILE_SECONDS:.0f} s more of PlaceOrder (py-spy, not measured):",
        "",
        *measured.profile,
    ]


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}", "Content-Type": "application/json"}


def _row(name: str, result: LoadResult, written: str) -> str:
    return (
        f"| {name} | {result.rate:,.1f} | {result.ok} | {result.errors} | {median(result.latencies) * 1000:.1f} "
        f"| {percentile(result.latencies, 0.99) * 1000:.1f} | {written} |"
    )
