"""5. Lag under load: from a command's commit to its order being visible in OrderSummary.

Real Celery workers, started as `make worker` starts them on this machine (the projections
queue on a worker of its own, notifications and cache on another), and beat run against the
run's private Redis and databases, on read models already at the head of the
1,000,000-event log. PlaceOrder commands go through the handlers in this process, paced
at a steady rate; each records the moment its transaction committed and the position of
its event. A poller reads the order_summary checkpoint every few milliseconds: the
checkpoint commits with the read-model rows, so the first poll that sees it at or past a
command's position is when that order became visible. Lag = that moment - the commit.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from dataclasses import dataclass

import psycopg

from bench.context import Run
from bench.load import percentile
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section
from tests.processes import Service

TITLE = "5. Lag under load"
TARGET_P99_MS = 100  # issue 13: commit -> OrderSummary, p99, at 100 commands/s with real workers and beat
POLL_SECONDS = 0.005
PACING_THREADS = 8
PROFILE_SECONDS = 6.0
DRAIN_SECONDS = 60
# (name, queues, processes), as `make worker` and docker-compose.yml's worker services run them on 2 cores.
WORKERS = [
    ("projections", "projections", 1),
    ("side-effects", "notifications,cache", 1),
    ("rebuilds", "rebuilds", 1),
]


@dataclass
class Sent:
    committed: float
    position: int


@dataclass
class Orders:
    """PlaceOrder commands of 3 random lines from random customers, dispatched in this process."""

    actors: list  # users of sampled customers
    products: list  # ids of products on sale

    def place_order(self, generator: random.Random) -> int:
        """Dispatch one; return its event's position."""
        from commands.commands import OrderLineRequest, PlaceOrder
        from commands.handlers import dispatch

        lines = tuple(OrderLineRequest(p, generator.randint(1, 3)) for p in generator.sample(self.products, 3))
        return dispatch(PlaceOrder(customer_id=None, lines=lines), generator.choice(self.actors)).position


@dataclass
class Measured:
    sent: list[Sent]
    late: list[float]  # how late each late command started, in s
    seconds: float  # from the first command's slot to the last command's commit
    observed: list[tuple[float, int]]  # (when, position) of each change of the order_summary checkpoint
    profiles: list[list[str]]  # one per worker


def run(run: Run) -> Section:
    orders = set_up(run)
    workers = [
        run.services.worker(run.env, queues=queues, concurrency=processes, name=name)
        for name, queues, processes in WORKERS
    ]
    beat = run.services.beat(run.env)
    try:
        measured = measure(run, orders, workers)
    finally:
        run.services.stop(beat)
        for worker in workers:
            run.services.stop(worker)
    return report(run, measured, workers)


def set_up(run: Run) -> Orders:
    """Read models at the head, every subscriber at the head too, an empty Redis; who orders what."""
    from django.contrib.auth.models import User

    from commands.eventlog import head_position
    from commands.models import Customer, Product
    from projections.models import Checkpoint

    run.read_models()
    # Subscribers (e-mail, cache) were never run over the generated history, which is not news
    # to anyone: start them at the head, as a deployment that had been running would be.
    head = head_position()
    Checkpoint.objects.using("read").exclude(name__in=_projection_names()).update(position=head)
    run.flush_redis()
    customers = list(Customer.objects.order_by("?")[:200].values_list("user_id", flat=True))
    return Orders(
        actors=list(User.objects.filter(pk__in=customers)),
        products=list(Product.objects.filter(discontinued=False).values_list("pk", flat=True)),
    )


def measure(run: Run, orders: Orders, workers: list[Service]) -> Measured:
    """The paced load while a poller watches the checkpoint, until the last order shows; then profiles."""
    from django.db import close_old_connections

    observed: list[tuple[float, int]] = []
    stop = threading.Event()
    poller = threading.Thread(target=_poll, args=(run.databases.url(run.databases.read), observed, stop), daemon=True)
    poller.start()
    try:
        sent, late, began, finished = _drive(orders.place_order, rate=run.sizes.lag_rate, seconds=run.sizes.lag_seconds)
        close_old_connections()
        last = max(item.position for item in sent)
        deadline = time.monotonic() + DRAIN_SECONDS
        while (not observed or observed[-1][1] < last) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Not measured: the same load again for a few seconds, while py-spy samples the workers.
        spies = [start_spy(worker.process.pid, PROFILE_SECONDS, rate=100, subprocesses=True) for worker in workers]
        _drive(orders.place_order, rate=run.sizes.lag_rate, seconds=PROFILE_SECONDS)
        profiles = [spy_report(spy) for spy in spies]
    finally:
        stop.set()
        poller.join(timeout=5)
    return Measured(sent, late, finished - began, observed, profiles)


def report(run: Run, measured: Measured, workers: list[Service]) -> Section:
    lags, unseen = _lags(measured)
    achieved = len(measured.sent) / measured.seconds
    p50, p99 = percentile(lags, 0.5) * 1000, percentile(lags, 0.99) * 1000
    worst = max(lags) * 1000 if lags else float("nan")
    figures = [
        Figure("5", f"commit -> OrderSummary lag at {achieved:.0f} commands/s: p50", p50, "ms"),
        Figure(
            "5", "commit -> OrderSummary lag: p99", p99, "ms", target=f"<= {TARGET_P99_MS} ms", met=p99 <= TARGET_P99_MS
        ),
        Figure("5", "commit -> OrderSummary lag: worst", worst, "ms"),
    ]
    late = measured.late
    details = [
        f"- {len(measured.sent):,} PlaceOrder commands (3 lines) in {measured.seconds:.1f} s: {achieved:.1f}/s "
        f"against {run.sizes.lag_rate:.0f}/s asked, from {PACING_THREADS} threads; {len(late)} started late "
        f"(worst {max(late, default=0) * 1000:.0f} ms).",
        "- Workers: "
        + "; ".join(
            f"{name} ({processes} process{'es' * (processes != 1)}) on {queues}" for name, queues, processes in WORKERS
        )
        + f"; beat every "
        f"{run.env.get('PROJECTION_SAFETY_NET_SECONDS', '5')} s; checkpoint polled every {POLL_SECONDS * 1000:.0f} ms "
        f"({len(measured.observed)} changes seen); {unseen} orders not visible {DRAIN_SECONDS} s "
        "after the last command.",
        f"- Lag percentiles: p90 {percentile(lags, 0.9) * 1000:.0f} ms, p95 {percentile(lags, 0.95) * 1000:.0f} ms.",
        "",
        f"Profiles of the workers' processes during {PROFILE_SECONDS:.0f} s more of the same load "
        "(py-spy, not measured):",
    ]
    for (name, queues, _), worker, profile in zip(WORKERS, workers, measured.profiles, strict=True):
        details += ["", f"Worker {name} ({queues}):", "", *_runs_by_follower(worker.log()), "", *profile]
    return Section(TITLE, figures=figures, details=details)


def _lags(measured: Measured) -> tuple[list[float], int]:
    """Each command's lag from its commit to the first poll that saw it, in s; and how many were never seen."""
    lags, unseen = [], 0
    for item in measured.sent:
        seen = _first_seen(measured.observed, item.position)
        if seen is None:
            unseen += 1
        else:
            lags.append(max(0.0, seen - item.committed))
    return lags, unseen


def _drive(place_order, *, rate: float, seconds: float) -> tuple[list[Sent], list[float], float, float]:
    """Run `place_order` `rate` times a second for `seconds` from a few threads; return what was sent."""
    from django.db import close_old_connections

    total = int(rate * seconds)
    sent: list[Sent] = []
    late: list[float] = []
    lock = threading.Lock()
    slots = iter(range(total))
    began = time.monotonic() + 0.2

    def pace(index: int) -> None:
        generator = random.Random(index)
        try:
            while True:
                with lock:
                    slot = next(slots, None)
                if slot is None:
                    return
                delay = began + slot / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    late.append(-delay)
                position = place_order(generator)
                committed = time.monotonic()
                with lock:
                    sent.append(Sent(committed, position))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=pace, args=(index,)) for index in range(PACING_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent, late, began, time.monotonic()


RUN_LOGGED = re.compile(r"succeeded in ([\d.]+)s: \{'name': '(\w+)', 'outcome': '[^']+', 'applied': (\d+)")


def _runs_by_follower(log: str) -> list[str]:
    """How often each follower ran on a worker, for how long, and how many events a run applied (its log)."""
    runs: dict[str, list[tuple[float, int]]] = {}
    for seconds, name, applied in RUN_LOGGED.findall(log):
        runs.setdefault(name, []).append((float(seconds), int(applied)))
    return [
        f"- {name}: {len(done)} runs, median {statistics.median(s for s, _ in done) * 1000:.0f} ms, "
        f"{sum(s for s, _ in done):.1f} s in all, {statistics.mean(a for _, a in done):.1f} events a run"
        for name, done in sorted(runs.items())
    ]


def _projection_names() -> list[str]:
    from projections.registry import replayable_projections

    return list(replayable_projections())


def _poll(url: str, observed: list[tuple[float, int]], stop: threading.Event) -> None:
    last = -1
    with psycopg.connect(url, autocommit=True) as connection:
        while not stop.is_set():
            row = connection.execute("SELECT position FROM projections_checkpoint WHERE name = 'order_summary'")
            position = row.fetchone()[0]
            if position != last:
                observed.append((time.monotonic(), position))
                last = position
            time.sleep(POLL_SECONDS)


def _first_seen(observed: list[tuple[float, int]], position: int) -> float | None:
    low, high = 0, len(observed)
    while low < high:  # the checkpoint only moves forward: binary search for the first at or past `position`
        middle = (low + high) // 2
        if observed[middle][1] >= position:
            high = middle
        else:
            low = middle + 1
    return observed[low][0] if low < len(observed) else None
