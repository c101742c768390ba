"""9. Reads over HTTP: product detail, product list and a customer's orders, against plain DRF views of the same rows.

On the generated history, with the read models at its head. The baselines (bench/baseline_app)
serve the same rows, copied into plain tables, through a plain RetrieveAPIView or ListAPIView and a
ModelSerializer, with the same token auth and page size. Both are served by the same web server and
loaded by wrk (bench/wrk.py) replaying the same requests, in alternating rounds: at saturation
(requests/s, p50, p99) and over one connection (p50: the latency of a read at low load). Every
request carries a customer's token; each product list request a parameter no other has, so that
the query API's response cache always misses, as the plain view has none. py-spy profiles the web
workers under each read.

Then a plain read's latency with 50 X-Min-Position waits pending (bench/pending_waits.py).
"""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench import pending_waits, wrk
from bench.context import Run
from bench.load import Connection
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section

if TYPE_CHECKING:  # the baseline app's modules import its models, which need it installed (bench.settings)
    from bench.baseline_app.copies import Table

TITLE = "9. Reads over HTTP"
TARGET = 0.8
LOW_LOAD_TARGET_MS = 2.0
CONTENDERS = ("query API", "plain DRF")


@dataclass(frozen=True)
class Read:
    """One read, as the query API and the plain view are asked it: request lists of the same length, pairwise alike."""

    name: str
    query: list[wrk.Request]
    plain: list[wrk.Request]

    def files(self, directory: Path) -> dict[str, Path]:
        """wrk's request files of both contenders, by contender."""
        stem = self.name.replace(" ", "-").replace("'", "")
        return {
            CONTENDERS[0]: wrk.write_requests(directory / f"{stem}.query.requests", self.query),
            CONTENDERS[1]: wrk.write_requests(directory / f"{stem}.plain.requests", self.plain),
        }


@dataclass(frozen=True)
class Readers:
    """Who reads what: customers (their tokens) and the products they look at."""

    tokens: list[str]
    products: list[str]

    def read(self, name: str, paths: list[tuple[str, str]]) -> Read:
        """`name` asked as each (query API path, plain path) pair, by the customers in turn."""
        token = [self.tokens[n % len(self.tokens)] for n in range(len(paths))]
        return Read(
            name,
            [wrk.Request("GET", query, token[n]) for n, (query, _) in enumerate(paths)],
            [wrk.Request("GET", plain, token[n]) for n, (_, plain) in enumerate(paths)],
        )

    def reads(self) -> list[Read]:
        return [
            self.read(
                "product detail",
                [(f"/api/queries/products/{p}/", f"/bench/baseline/read/products/{p}/") for p in self.products],
            ),
            self.read(
                "product list",
                [("/api/queries/products/?_={n}", "/bench/baseline/read/products/?_={n}")] * len(self.tokens),
            ),
            self.read(
                "a customer's orders", [("/api/queries/orders/", "/bench/baseline/read/orders/")] * len(self.tokens)
            ),
        ]


@dataclass
class Measured:
    read: Read
    saturated: wrk.Rounds
    one_connection: wrk.Rounds
    same_answers: str
    profile: list[str]


def run(run: Run) -> Section:
    readers, tables = set_up(run)
    web, url = run.services.web_server(run.env, workers=run.args.web_workers)
    try:
        measured = [measure(run, url, web.process.pid, read) for read in readers.reads()]
        waited = pending_waits.measure_waits(
            url,
            web.process.pid,
            readers.tokens,
            measured[0].read.files(run.log_dir)[CONTENDERS[0]],
            rounds=_low_load_rounds(run),
            seconds=_round_seconds(run),
        )
    finally:
        run.services.stop(web)
        pending_waits.catch_up()
    return report(run, readers, tables, measured, waited)


def set_up(run: Run) -> tuple[Readers, list[Table]]:
    """The read models at the head, copied into the plain tables; tokens of customers with orders; products."""
    from bench.baseline_app.copies import copy_read_models
    from queries.models import CustomerOrderHistory, ProductCatalog

    run.read_models()
    tables = copy_read_models(
        read_url=run.databases.url(run.databases.read), write_url=run.databases.url(run.databases.write)
    )
    generator = random.Random(9)
    customers = CustomerOrderHistory.objects.filter(order_count__gt=0, user_id__isnull=False)
    users = sorted(customers.values_list("user_id", flat=True))
    users = generator.sample(users, min(len(users), max(run.sizes.query_samples, pending_waits.WAITERS)))
    products = sorted(str(product) for product in ProductCatalog.objects.values_list("product_id", flat=True))
    generator.shuffle(products)
    return Readers(tokens=_tokens(users), products=products), tables


def _tokens(users: list[int]) -> list[str]:
    """A token for each of `users`, in their order: theirs if they have one (benchmark 6 made some), else a new one."""
    from rest_framework.authtoken.models import Token

    Token.objects.bulk_create([Token(user_id=user, key=secrets.token_hex(20)) for user in users], ignore_conflicts=True)
    keys = dict(Token.objects.filter(user_id__in=users).values_list("user_id", "key"))
    return [keys[user] for user in users]


def measure(run: Run, url: str, server_pid: int, read: Read) -> Measured:
    """Warm-up, alternating rounds at saturation and over one connection, then py-spy during more (not measured)."""
    files, sizes, seconds = read.files(run.log_dir), run.sizes, _round_seconds(run)
    same = same_answers(url, read)  # which also waits for the workers' first answers, slow while they import
    for requests in files.values():
        wrk.measure(url, requests, seconds=sizes.http_warm_up_seconds, connections=sizes.http_connections)
    saturated = wrk.alternate(url, files, rounds=sizes.http_rounds, seconds=seconds, connections=sizes.http_connections)
    one_connection = wrk.alternate(url, files, rounds=_low_load_rounds(run), seconds=seconds, connections=1)
    spy = start_spy(server_pid, sizes.profile_seconds, rate=100, subprocesses=True)
    wrk.measure(url, files[CONTENDERS[0]], seconds=sizes.profile_seconds, connections=sizes.http_connections)
    return Measured(read, saturated, one_connection, same, spy_report(spy))


def _round_seconds(run: Run) -> int:
    return wrk.whole_seconds(run.sizes.http_seconds / run.sizes.http_rounds)


def _low_load_rounds(run: Run) -> int:
    return max(1, run.sizes.http_rounds // 2)


def same_answers(url: str, read: Read) -> str:
    """Whether both contenders answer the read's first request alike (their lists' links aside): "same" or why not."""
    connection, bodies = Connection(url), []
    for request in (read.query[0], read.plain[0]):
        path = request.path.replace("{n}", "compared")
        status, body = connection.request("GET", path, None, {"Authorization": f"Token {request.token}"})
        if status != 200:
            return f"{path} answered {status}: {body[:200]!r}"
        bodies.append(_without_links(json.loads(body)))
    connection.close()
    difference = first_difference(*bodies)
    return f"different at {difference}" if difference else "same"


def _without_links(body: dict) -> dict:
    return {key: value for key, value in body.items() if key not in ("next", "previous")}


def first_difference(ours, theirs, where: str = "") -> str:
    """Where two JSON values first differ, and how ("results[0].total: '1.50' / '1.5'"); "" if they are equal."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        for key in sorted(ours.keys() | theirs.keys()):
            if key not in ours or key not in theirs:
                return f"{where}.{key}: only one has it".lstrip(".")
            if difference := first_difference(ours[key], theirs[key], f"{where}.{key}"):
                return difference
        return ""
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        for n, (mine, yours) in enumerate(zip(ours, theirs, strict=True)):
            if difference := first_difference(mine, yours, f"{where}[{n}]"):
                return difference
        return ""
    return "" if ours == theirs else f"{where.lstrip('.')}: {ours!r:.80} / {theirs!r:.80}"


def report(
    run: Run, readers: Readers, tables: list[Table], measured: list[Measured], waited: pending_waits.Waited
) -> Section:
    figures = [figure for each in measured for figure in _figures(each)]
    figures += pending_waits.figures(measured[0].read.name, waited)
    return Section(TITLE, figures=figures, details=_details(run, readers, tables, measured, waited))


def _figures(measured: Measured) -> list[Figure]:
    name, saturated, one = measured.read.name, measured.saturated, measured.one_connection
    query, plain = CONTENDERS
    p50 = one.median(query, wrk.P50)
    return [
        wrk.throughput_figure("9", f"{name}, saturated", "requests/s", saturated, CONTENDERS, "plain DRF", TARGET),
        *wrk.latency_figures("9", f"{name}, saturated", saturated, CONTENDERS, "plain DRF"),
        Figure(
            "9",
            f"{name}, one connection: p50",
            p50,
            "ms",
            "plain DRF",
            one.median(plain, wrk.P50),
            one.ratio(plain, query, wrk.P50),
            f"<= {LOW_LOAD_TARGET_MS:g} ms",
            p50 <= LOW_LOAD_TARGET_MS,
        ),
    ]


def _details(
    run: Run, readers: Readers, tables: list[Table], measured: list[Measured], waited: pending_waits.Waited
) -> list[str]:
    sizes = run.sizes
    details = [
        f"- Server: scripts/serve, {run.args.web_workers} uvicorn workers, DEBUG off. Client: wrk, 1 thread; "
        f"at saturation {sizes.http_connections} keep-alive connections, {sizes.http_rounds} alternating rounds "
        f"of {_round_seconds(run)} s per contender after {sizes.http_warm_up_seconds} s of warm-up each; over one "
        f"connection {_low_load_rounds(run)} rounds. Ratios are the medians of the rounds' ratios (requests/s: "
        "query API / plain; latency: plain / query API); p50 and p99 are the medians of the rounds'.",
        f"- Data: the generated history, {waited.position - 1:,} events in the log; the read models copied into "
        "plain tables, then both compacted (VACUUM FULL) and analyzed: "
        + ", ".join(map(str, tables))
        + f". {len(readers.tokens)} customers with orders, each request with one's token in turn; product detail "
        f"goes round {len(readers.products):,} products; lists are the first page (20).",
        "- Same answers (each read's first request, both contenders, their lists' links aside): "
        + "; ".join(f"{each.read.name}: {each.same_answers}" for each in measured)
        + ".",
        "",
        "| read, load, contender | requests/s | ok | errors | p50 ms | p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for each in measured:
        for load, rounds in (("saturated", each.saturated), ("one connection", each.one_connection)):
            details += [rounds.row(f"{each.read.name}, {load}, {contender}", contender) for contender in CONTENDERS]
    details += ["", *pending_waits.details(measured[0].read.name, waited)]
    for each in measured:
        details += [
            "",
            f"Profile of the web workers during {sizes.profile_seconds} s more of {each.read.name} from the query "
            f"API, saturated (py-spy, not measured). Rounds at saturation: {each.saturated.by_round(*CONTENDERS)} "
            "requests/s.",
            "",
            *each.profile,
        ]
    return details
