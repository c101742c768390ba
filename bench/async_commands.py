"""7. Asynchronous commands (Prefer: respond-async): accepted/s over HTTP, executed/s by one worker, accept -> done.

PlaceOrder with 3 lines, as benchmark 1 sends it, with `Prefer: respond-async`:
first at saturation with no commands worker running (the 202s measure what
accepting costs: validation and the inbox row); then one worker process on the
`commands` queue, as `make worker` runs it, drains that backlog (executed/s);
then commands paced at `lag_rate` (100/s) while the worker runs, each timed from
its acceptance to its outcome (the inbox row's accepted_at and finished_at).
"""

from __future__ import annotations

import json
import random
import threading
import time

from bench.context import Run
from bench.load import Connection, LoadResult, median, percentile, saturate
from bench.report import Figure, Section

TITLE = "7. Asynchronous commands"
WARM_UP_SECONDS = 2.0
DRAIN_TIMEOUT_SECONDS = 600.0
PACED_SENDERS = 8  # threads sending at the paced rate: enough that one slow answer does not hold up the pace


def run(run: Run) -> Section:
    section = Section(TITLE)
    shop = run.shop()
    products = [str(product.id) for product in shop.products]
    tokens = [token for _user, _customer, token in shop.customers]
    generators = [random.Random(index) for index in range(max(run.sizes.http_threads, PACED_SENDERS))]

    def place_order(thread: int, n: int):
        chosen = generators[thread].sample(products, 3)
        body = {"lines": [{"product_id": p, "quantity": generators[thread].randint(1, 3)} for p in chosen]}
        headers = {
            "Authorization": f"Token {tokens[thread % len(tokens)]}",
            "Content-Type": "application/json",
            "Prefer": "respond-async",
        }
        return "POST", "/api/commands/orders/place/", json.dumps(body).encode(), headers

    web, url = run.services.web_server(run.env, workers=run.args.web_workers)
    commands_worker = None
    try:
        saturate(url, place_order, threads=run.sizes.http_threads, seconds=WARM_UP_SECONDS)
        accepted = saturate(url, place_order, threads=run.sizes.http_threads, seconds=run.sizes.http_seconds)
        backlog = _count("accepted")
        commands_worker = run.services.worker(run.env, queues="commands", concurrency=1, name="commands")
        executed_rate, drained_seconds = _drain(backlog)
        since = _last_sequence()
        paced = _paced(url, place_order, rate=run.sizes.lag_rate, seconds=run.sizes.lag_seconds)
        latencies, unfinished = _accept_to_done(since)
    finally:
        if commands_worker is not None:
            run.services.stop(commands_worker)
        run.services.stop(web)

    section.figures += [
        Figure("7", "Async PlaceOrder accepted over HTTP (202)", accepted.rate, "commands/s"),
        Figure("7", "Async PlaceOrder executed by one worker process", executed_rate, "commands/s"),
        Figure("7", f"Accept -> succeeded at {run.sizes.lag_rate:.0f}/s, p50", median(latencies) * 1000, "ms"),
        Figure(
            "7", f"Accept -> succeeded at {run.sizes.lag_rate:.0f}/s, p99", percentile(latencies, 0.99) * 1000, "ms"
        ),
    ]
    server = f"scripts/serve, {run.args.web_workers} uvicorn workers"
    section.details += [
        f"- Server: {server}; client: {run.sizes.http_threads} threads at saturation for "
        f"{run.sizes.http_seconds:.0f} s after {WARM_UP_SECONDS:.0f} s of warm-up, no commands worker running: "
        f"{accepted.ok} accepted (p50 {median(accepted.latencies) * 1000:.1f} ms, "
        f"p99 {percentile(accepted.latencies, 0.99) * 1000:.1f} ms), {accepted.errors} errors.",
        f"- Then one worker process on the `commands` queue (-c 1) ran the backlog of {backlog} commands in "
        f"{drained_seconds:.1f} s, from its start-up ('ready.') to the last outcome.",
        f"- Then {paced.ok} commands paced at {run.sizes.lag_rate:.0f}/s for {run.sizes.lag_seconds:.0f} s "
        f"({paced.errors} errors); accept -> outcome from the inbox rows' accepted_at and finished_at: "
        f"p50 {median(latencies) * 1000:.0f} ms, p90 {percentile(latencies, 0.9) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms; {unfinished} not finished "
        f"{DRAIN_TIMEOUT_SECONDS:.0f} s after the last one.",
        f"- Outcomes: {_outcomes()}.",
    ]
    for name, result in (("accepted", accepted), ("paced", paced)):
        if result.failures:
            section.details.append(f"- {name} failures (first): {result.failures[:3]}")
    return section


def _count(state: str) -> int:
    from commands.models import InboxCommand

    return InboxCommand.objects.filter(state=state).count()


def _last_sequence() -> int:
    from commands.models import InboxCommand

    return InboxCommand.objects.order_by("-sequence").values_list("sequence", flat=True).first() or 0


def _drain(backlog: int) -> tuple[float, float]:
    """Wait until the worker has run every accepted command; return commands/s and the seconds it took."""
    began = time.monotonic()
    while _count("accepted") and time.monotonic() - began < DRAIN_TIMEOUT_SECONDS:
        time.sleep(0.2)
    seconds = time.monotonic() - began
    return (backlog - _count("accepted")) / seconds, seconds


def _paced(url: str, make, *, rate: float, seconds: float) -> LoadResult:
    """Send `rate` requests a second for `seconds`, each at its own moment, from PACED_SENDERS threads."""
    total = int(rate * seconds)
    results = [LoadResult() for _ in range(PACED_SENDERS)]
    began = time.monotonic() + 0.5

    def send(index: int) -> None:
        connection, result = Connection(url), results[index]
        for n in range(index, total, PACED_SENDERS):
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent = time.monotonic()
            status, data = connection.request(*make(index, n))
            result.statuses[status] += 1
            if status == 202:
                result.latencies.append(time.monotonic() - sent)
            elif len(result.failures) < 5:
                result.failures.append(f"{status} {data[:300]!r}")
        connection.close()

    senders = [threading.Thread(target=send, args=(index,), daemon=True) for index in range(PACED_SENDERS)]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    merged = LoadResult()
    for result in results:
        merged.merge(result)
    merged.seconds = time.monotonic() - began
    return merged


def _accept_to_done(since: int) -> tuple[list[float], int]:
    """Seconds from acceptance to outcome of the commands accepted after `since`; and how many never finished."""
    from commands.models import InboxCommand

    paced = InboxCommand.objects.filter(sequence__gt=since)
    deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
    while paced.filter(state="accepted").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    finished = paced.exclude(finished_at=None).values_list("accepted_at", "finished_at")
    return [(done - accepted).total_seconds() for accepted, done in finished], paced.filter(state="accepted").count()


def _outcomes() -> str:
    from django.db.models import Count

    from commands.models import InboxCommand

    counts = InboxCommand.objects.values_list("state").annotate(n=Count("pk")).order_by("state")
    return ", ".join(f"{n} {state}" for state, n in counts)
