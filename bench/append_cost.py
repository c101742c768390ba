"""2. Append cost: events appended per second through the handlers, in-process, against raw INSERTs.

The baseline is the floor any event log pays: one single-row INSERT of an event-sized
row (a real OrderPlaced with 3 lines, and its metadata) per transaction, through a bare
psycopg connection, into a copy of the event table with the same indexes. Against it:
`eventlog.append` alone in a transaction (the log's own cost: the advisory lock with the
version read, ORM insert, the on-commit wake-ups, off the thread as in the web processes, and
once more with them in the thread), and the RestockProduct and PlaceOrder handlers
through `dispatch` (a command, its write-model change and its event). One thread each,
back to back, in alternating rounds.
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg

from bench.context import Run
from bench.report import Figure, Section

TITLE = "2. Append cost"
ROUNDS = 4
RAW_TABLE = "bench_raw_event"
WRITERS = 4
RAW_INSERT = (
    f"INSERT INTO {RAW_TABLE} (stream_id, version, type, schema_version, data, metadata, recorded_at) "
    "VALUES (%s, 1, 'OrderPlaced', 1, %s, %s, now())"
)


@dataclass
class EventRow:
    """The event every contender appends: a real OrderPlaced with 3 lines, and its metadata, as JSON."""

    event: object
    data: str
    metadata: str

    @property
    def size(self) -> int:
        return len(self.data) + len(self.metadata)


Contenders = dict[str, Callable[[], int]]  # name -> one operation, returning the events it appended


def run(run: Run) -> Section:
    from django.test import override_settings

    from bench.eventsourcing_peer import PeerSaver

    row = sample_event(run)
    raw = _create_raw_event_table(run)
    peer = PeerSaver(run.databases.url(run.databases.write), row.event.to_data())
    try:
        # As in the web processes (scripts/serve): a commit nudges the waker thread, which wakes the followers.
        with override_settings(WAKE_UPS_IN_BACKGROUND=True):
            rounds = measure(run, {**contenders(run, row, raw), "eventsourcing save": peer})
            together = measure_together(run, row)
    finally:
        peer.close()
        _drop_raw_event_table(raw)
    return report(run, row, rounds, together)


def sample_event(run: Run) -> EventRow:
    from commands.events import OrderedItem, OrderPlaced

    shop = run.shop()
    _user, customer, _token = shop.customers[0]
    sample = OrderPlaced(
        order_id=uuid.uuid4(),
        customer_id=customer.id,
        customer_name=customer.name,
        customer_email=customer.email,
        lines=tuple(OrderedItem(p.id, p.sku, p.name, 2, p.price) for p in shop.products[:3]),
        total=sum((2 * p.price for p in shop.products[:3]), Decimal(0)),
    )
    metadata = {"command": "PlaceOrder", "command_id": str(uuid.uuid4()), "correlation_id": "x", "actor": {"id": 1}}
    return EventRow(sample, json.dumps(sample.to_data()), json.dumps(metadata))


def _create_raw_event_table(run: Run) -> psycopg.Connection:
    """A bare connection, and a copy of the event table with the same indexes for the raw INSERTs."""
    raw = psycopg.connect(run.databases.url(run.databases.write))
    raw.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
    raw.execute(f"CREATE TABLE {RAW_TABLE} (LIKE commands_storedevent INCLUDING ALL)")
    raw.commit()
    return raw


def _drop_raw_event_table(raw: psycopg.Connection) -> None:
    raw.execute(f"DROP TABLE {RAW_TABLE}")
    raw.commit()
    raw.close()


def contenders(run: Run, row: EventRow, raw: psycopg.Connection) -> Contenders:
    from django.test import override_settings

    from commands.commands import OrderLineRequest, PlaceOrder, RestockProduct
    from commands.handlers import dispatch

    shop, generator = run.shop(), random.Random(2)
    user = shop.customers[0][0]

    def raw_insert() -> int:
        return _insert_raw(raw, row)

    def append_only() -> int:
        return _append(row)

    def append_waking_inline() -> int:
        with override_settings(WAKE_UPS_IN_BACKGROUND=False):
            return append_only()

    def restock() -> int:
        product = generator.choice(shop.products)
        return len(dispatch(RestockProduct(product_id=product.id, quantity=1), shop.staff).events)

    def place_order() -> int:
        lines = tuple(OrderLineRequest(p.id, generator.randint(1, 3)) for p in generator.sample(shop.products, 3))
        return len(dispatch(PlaceOrder(customer_id=None, lines=lines), user).events)

    return {
        "raw INSERT": raw_insert,
        "eventlog.append": append_only,
        "eventlog.append, waking inline": append_waking_inline,
        "RestockProduct": restock,
        "PlaceOrder": place_order,
    }


@dataclass
class Rounds:
    """Events appended and seconds taken by each contender over all rounds, and each round's rates."""

    counts: dict[str, int]
    seconds: dict[str, float]
    rates: list[dict[str, float]] = field(default_factory=list)


def measure(run: Run, contenders: Contenders) -> Rounds:
    """After a warm-up, every contender in turn for its share of the time, round after round."""
    measured = Rounds(dict.fromkeys(contenders, 0), dict.fromkeys(contenders, 0.0))
    for operation in contenders.values():  # warm up: connections, caches, plans
        for _ in range(20):
            operation()
    share = run.sizes.append_seconds / ROUNDS
    for _ in range(ROUNDS):
        rates = {}
        for name, operation in contenders.items():
            done, started = 0, time.monotonic()
            while time.monotonic() - started < share:
                done += operation()
            took = time.monotonic() - started
            measured.counts[name] += done
            measured.seconds[name] += took
            rates[name] = done / took
        measured.rates.append(rates)
    return measured


def measure_together(run: Run, row: EventRow) -> dict[str, float]:
    """Events/s with WRITERS threads appending at once: raw INSERTs on bare connections, then eventlog.append."""
    from django.db import connection

    def raw_writer(stop: float) -> int:
        done = 0
        with psycopg.connect(run.databases.url(run.databases.write)) as raw:
            while time.monotonic() < stop:
                done += _insert_raw(raw, row)
        return done

    def append_writer(stop: float) -> int:
        done = 0
        try:
            while time.monotonic() < stop:
                done += _append(row)
        finally:
            connection.close()  # this thread's own
        return done

    seconds = run.sizes.append_seconds
    return {"raw INSERT": _together(raw_writer, seconds), "eventlog.append": _together(append_writer, seconds)}


def _insert_raw(raw: psycopg.Connection, row: EventRow) -> int:
    """The floor: the event row inserted into a new stream, in a transaction of its own."""
    raw.execute(RAW_INSERT, [uuid.uuid4(), row.data, row.metadata])
    raw.commit()
    return 1


def _append(row: EventRow) -> int:
    """The event appended to a new stream through the event log, in a transaction of its own."""
    from django.db import transaction

    from commands import eventlog

    with transaction.atomic():
        eventlog.append(uuid.uuid4(), [row.event], expected_version=0, metadata={"command": "bench"})
    return 1


def _together(writer: Callable[[float], int], seconds: float) -> float:
    stop = time.monotonic() + seconds
    with ThreadPoolExecutor(WRITERS) as pool:
        done = sum(pool.map(writer, [stop] * WRITERS))
    return done / seconds


def report(run: Run, row: EventRow, rounds: Rounds, together: dict[str, float]) -> Section:
    from django.utils import timezone

    section = Section(TITLE)
    rates = {name: rounds.counts[name] / rounds.seconds[name] for name in rounds.counts}
    floor = rates["raw INSERT"]
    # The median of the rounds' ratios: a burst of someone else's load spoils one round, not the figure.
    ratios = {name: statistics.median(r[name] / r["raw INSERT"] for r in rounds.rates) for name in rates}
    for name, measure, goal in (
        ("eventlog.append", "eventlog.append alone, 1 event/transaction", 0.6),
        ("RestockProduct", "RestockProduct handler (1 event)", 0.4),
        ("PlaceOrder", "PlaceOrder handler (3 lines, 1 event)", 0.25),
    ):
        target, met = _goal(ratios[name], goal)
        section.figures.append(
            Figure("2", measure, rates[name], "events/s", "raw psycopg INSERT", floor, ratios[name], target, met)
        )
    peer = rates["eventsourcing save"]
    section.figures += [
        Figure(
            "2",
            "eventlog.append alone, 1 event/transaction",
            rates["eventlog.append"],
            "events/s",
            "eventsourcing 9 save, 1 event",
            peer,
            peer_ratio := statistics.median(r["eventlog.append"] / r["eventsourcing save"] for r in rounds.rates),
            *_goal(peer_ratio, 1.5),
        ),
        Figure(
            "2",
            f"eventlog.append, {WRITERS} writers at once",
            together["eventlog.append"],
            "events/s",
            f"raw INSERT, {WRITERS} connections",
            together["raw INSERT"],
            together_ratio := together["eventlog.append"] / together["raw INSERT"],
            *_goal(together_ratio, 0.5),
        ),
    ]
    section.details += [
        f"- One thread, in-process, {run.sizes.append_seconds:.0f} s per contender in {ROUNDS} alternating rounds; "
        "each transaction commits (synchronous_commit as the server has it).",
        f"- Event row: {row.size} bytes of JSON (an OrderPlaced with 3 lines, and its metadata).",
        f"- Wake-ups after commit go to the run's private Redis, as in production ({timezone.now():%H:%M} UTC), "
        "from the process's waker thread as in the web processes (WAKE_UPS_IN_BACKGROUND); "
        "`eventlog.append, waking inline` is the same append with the wake-ups in the caller's thread.",
        "",
        "| contender | events/s | ms per event | vs raw INSERT (median of rounds) |",
        "|---|---|---|---|",
        *[f"| {name} | {rate:,.0f} | {1000 / rate:.2f} | {ratios[name]:.2f}x |" for name, rate in rates.items()],
        "",
        f"- {WRITERS} writer threads at once for {run.sizes.append_seconds:.0f} s, each on its own connection "
        f"and new streams: raw INSERT {together['raw INSERT']:,.0f} events/s, eventlog.append "
        f"{together['eventlog.append']:,.0f} events/s (they queue on the append lock; Python's GIL is shared "
        "by the threads of both).",
    ]
    return section


def _goal(ratio: float, at_least: float) -> tuple[str, bool]:
    return f">= {at_least}x", ratio >= at_least
