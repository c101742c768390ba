"""1. Command throughput over HTTP: PlaceOrder with 3 lines against a plain DRF create of the same order.

Both are served by the same web server (scripts/serve), with the same workers and settings, in the same run,
and driven at saturation by wrk (bench/wrk.py: compiled, so the client takes next to none of the
server's CPU) replaying the same orders, in alternating rounds so that drift in the machine's load
(it is shared) falls on both alike. The baseline is a ModelViewSet create of an order and 3 lines
(bench/baseline_app): no events, no stock check, no version.
No Celery worker runs meanwhile: the wake-ups are enqueued into Redis as usual, and the
workers' own CPU would belong to another machine in production.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench import wrk
from bench.context import Run
from bench.profiling import spy_report, start_spy
from bench.report import Section

TITLE = "1. Command throughput over HTTP"
TARGET = 0.9
# Distinct orders in each contender's request file; wrk goes round them again.
ORDERS = 2_000
CONTENDERS = ("PlaceOrder", "baseline")


@dataclass
class OrderRequests:
    """The two contenders' requests: the same 3-line orders, as PlaceOrder and as a plain DRF create."""

    products: list[tuple[str, Decimal]]  # (id, price)
    customers: list[tuple[str, str]]  # (id, token)
    generator: random.Random

    def lines(self) -> list[tuple[str, int, Decimal]]:
        chosen = self.generator.sample(self.products, 3)
        return [(product_id, self.generator.randint(1, 3), price) for product_id, price in chosen]

    def place_order(self, n: int, lines: list[tuple[str, int, Decimal]]) -> wrk.Request:
        _customer, token = self.customers[n % len(self.customers)]
        body = {"lines": [{"product_id": p, "quantity": q} for p, q, _ in lines]}
        return wrk.Request("POST", "/api/commands/orders/place/", token, json.dumps(body))

    def plain_create(self, n: int, lines: list[tuple[str, int, Decimal]]) -> wrk.Request:
        customer_id, token = self.customers[n % len(self.customers)]
        body = {
            "customer": customer_id,
            "status": "placed",
            "total": str(sum((q * price for _, q, price in lines), Decimal(0))),
            "lines": [{"product": p, "quantity": q, "unit_price": str(price)} for p, q, price in lines],
        }
        return wrk.Request("POST", "/bench/baseline/orders/", token, json.dumps(body))

    def files(self, directory: Path, count: int = ORDERS) -> dict[str, Path]:
        """wrk's request files of both contenders, by contender: the same `count` orders, in the same order."""
        orders = [self.lines() for _ in range(count)]
        placed = (self.place_order(n, lines) for n, lines in enumerate(orders))
        created = (self.plain_create(n, lines) for n, lines in enumerate(orders))
        return {
            "PlaceOrder": wrk.write_requests(directory / "place-order.requests", placed),
            "baseline": wrk.write_requests(directory / "plain-create.requests", created),
        }


@dataclass
class Measured:
    rounds: wrk.Rounds
    placed: int
    plain: int
    profile: list[str]


def run(run: Run) -> Section:
    requests = set_up(run)
    web, url = run.services.web_server(run.env, workers=run.args.web_workers)
    try:
        measured = measure(run, requests.files(run.log_dir), url, web.process.pid)
    finally:
        run.services.stop(web)
    return report(run, requests, measured)


def set_up(run: Run) -> OrderRequests:
    shop = run.shop()
    return OrderRequests(
        products=[(str(product.id), product.price) for product in shop.products],
        customers=[(str(customer.id), token) for _user, customer, token in shop.customers],
        generator=random.Random(1),
    )


def measure(run: Run, files: dict[str, Path], url: str, server_pid: int) -> Measured:
    """Both contenders in alternating rounds after a warm-up, then PlaceOrder again under py-spy (not measured)."""
    from bench.baseline_app.models import PlainOrder
    from commands.models import Order

    connections, profile_seconds = run.sizes.http_connections, run.sizes.profile_seconds
    for requests in files.values():
        wrk.measure(url, requests, seconds=run.sizes.http_warm_up_seconds, connections=connections)
    orders_before, plain_before = Order.objects.count(), PlainOrder.objects.count()
    rounds = wrk.alternate(
        url, files, rounds=run.sizes.http_rounds, seconds=_round_seconds(run), connections=connections
    )
    placed, plain = Order.objects.count() - orders_before, PlainOrder.objects.count() - plain_before
    spy = start_spy(server_pid, profile_seconds, rate=100, subprocesses=True)
    wrk.measure(url, files["PlaceOrder"], seconds=profile_seconds, connections=connections)
    return Measured(rounds, placed, plain, spy_report(spy))


def _round_seconds(run: Run) -> int:
    return wrk.whole_seconds(run.sizes.http_seconds / run.sizes.http_rounds)


def report(run: Run, requests: OrderRequests, measured: Measured) -> Section:
    rounds = measured.rounds
    figures = [
        wrk.throughput_figure(
            "1", "PlaceOrder (3 lines) over HTTP", "commands/s", rounds, CONTENDERS, "DRF ModelViewSet create", TARGET
        ),
        *wrk.latency_figures("1", "PlaceOrder over HTTP, saturated", rounds, CONTENDERS, "DRF create"),
    ]
    return Section(TITLE, figures=figures, details=_details(run, requests, measured))


def _details(run: Run, requests: OrderRequests, measured: Measured) -> list[str]:
    rounds, seconds, sizes = measured.rounds, _round_seconds(run), run.sizes
    server = f"scripts/serve, {run.args.web_workers} uvicorn workers"
    details = [
        f"- Server: {server}, DEBUG off; client: wrk, 1 thread, {sizes.http_connections} keep-alive connections, "
        f"{sizes.http_rounds} alternating rounds of {seconds} s per contender after {sizes.http_warm_up_seconds} s "
        "of warm-up each; p50 and p99 are the medians of the rounds'.",
        f"- Data: {len(requests.customers)} customers (token auth), {len(requests.products)} products; "
        f"{ORDERS} orders, the same for both, each of 3 distinct random products, quantity 1-3.",
        "",
        "| contender | requests/s | ok | errors | p50 ms | p99 ms | rows written |",
        "|---|---|---|---|---|---|---|",
        f"{rounds.row('PlaceOrder', 'PlaceOrder')} {measured.placed} orders |",
        f"{rounds.row('baseline create', 'baseline')} {measured.plain} plain orders |",
        "",
        f"- Ratio: the median of the {run.sizes.http_rounds} rounds' ratios (each round: PlaceOrder, then the "
        f"baseline); rounds: {rounds.by_round(*CONTENDERS)} requests/s.",
    ]
    for name in CONTENDERS:
        if rounds.failures(name):
            details.append(f"- {name} failures (first): {rounds.failures(name)}")
    return [
        *details,
        "",
        f"Profile of the web workers during {run.sizes.profile_seconds} s more of PlaceOrder (py-spy, not measured):",
        "",
        *measured.profile,
    ]
