"""3. Projection throughput: catch-up of every projection over the first 200,000 events of the history.

The real runner (projections.runner.catch_up, batches of PROJECTION_BATCH_SIZE, as a worker
runs it) takes each of the four read models from position 0 to the head, one after the
other, in this process: events/s is the log's events over the wall time of all four.

The baseline is bench/naive.py, one ORM update_or_create per event per read model, timed on
the events that follow (200,001 onwards) on top of the caught-up read models, so it sees
the same mix of events (not the catalog's opening registrations) and the same table sizes.
It is 100 times slower, so it runs on a few thousand events; events/s is what is compared.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from bench.context import Run
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section

TITLE = "3. Projection throughput"
TARGET = 10.0
FLOOR_TARGET = 0.3
PEER_TARGET = 10.0


@dataclass
class Measured:
    seconds: float
    results: dict[str, object]  # projection -> its catch-up result
    rows_written: int
    profile: list[str]
    naive_applied: int = 0
    naive_seconds: float = 0.0
    floor_rows: int = 0  # psycopg executemany upsert of order_summary's rows onto its own table
    floor_seconds: float = 0.0
    peer_events: int = 0  # eventsourcing's ProjectionRunner over the same number of events
    peer_seconds: float = 0.0
    two_process_seconds: float = 0.0  # the same catch-up, 2 partitions in 2 processes (bench/partitioned_catch_up.py)
    two_process_applied: dict[str, int] = field(default_factory=dict)


def run(run: Run) -> Section:
    from projections.runner import ensure_checkpoints

    events = run.sizes.projection_events
    run.events(events)
    two_processes = measure_two_processes(events)
    ensure_checkpoints()
    measured = measure_catch_up()
    measured.two_process_seconds, measured.two_process_applied = two_processes
    measured.floor_rows, measured.floor_seconds = measure_executemany_floor()
    measured.peer_events, measured.peer_seconds = measure_peer(run, events)
    # The naive projector continues where the real one stopped, on the next events of the same history.
    run.events(events + run.sizes.naive_events)
    measured.naive_applied, measured.naive_seconds = measure_naive(after=events, limit=run.sizes.naive_events)
    return report(events, measured)


def measure_two_processes(events: int) -> tuple[float, dict[str, int]]:
    """The catch-up from 0 split in 2 partitions, a process each; then the read models are emptied again."""
    from bench import partitioned_catch_up

    partitioned_catch_up.reset_read_models()
    measured = partitioned_catch_up.measure(events)
    partitioned_catch_up.reset_read_models()
    return measured


def measure_catch_up() -> Measured:
    """Every projection from position 0 to the head in one pass of the real runner, under py-spy."""
    from projections.runner import catch_up_projections

    spy = start_spy(os.getpid(), rate=25, idle=True)  # from outside, without pausing this process
    written = _rows_written()
    started = time.monotonic()
    results = catch_up_projections()
    seconds = time.monotonic() - started
    return Measured(seconds, results, _rows_written() - written, spy_report(spy, stop=True))


def _rows_written() -> int:
    from core import metrics

    return int(
        sum(sample.value for sample in metrics.ROWS_WRITTEN.collect()[0].samples if sample.name.endswith("_total"))
    )


def measure_executemany_floor(limit: int = 50_000, batch: int = 1_000) -> tuple[int, float]:
    """What PostgreSQL takes through psycopg alone: order_summary's rows upserted onto its own table.

    executemany (pipeline mode) of INSERT ... ON CONFLICT DO UPDATE, `batch` rows a transaction, on rows
    read beforehand: no Python work but psycopg's. Return (rows, seconds).
    """
    import json

    from django.db import connections

    from core.routers import READ_PRIMARY
    from queries.models import OrderSummary

    connection = connections[READ_PRIMARY]
    connection.ensure_connection()
    fields = OrderSummary._meta.local_concrete_fields
    columns = ", ".join(field.column for field in fields)
    updates = ", ".join(f"{field.column} = excluded.{field.column}" for field in fields if not field.primary_key)
    sql = (
        f"INSERT INTO {OrderSummary._meta.db_table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT (order_id) DO UPDATE SET {updates}"
    )
    raw = connection.connection
    with raw.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {OrderSummary._meta.db_table} LIMIT %s", [limit])
        rows = [
            [json.dumps(value) if field.name == "lines" else value for field, value in zip(fields, row, strict=True)]
            for row in cursor.fetchall()
        ]
    started = time.monotonic()
    for start in range(0, len(rows), batch):
        with raw.transaction(), raw.cursor() as cursor:
            cursor.executemany(sql, rows[start : start + batch])
    return len(rows), time.monotonic() - started


def measure_peer(run: Run, events: int) -> tuple[int, float]:
    """eventsourcing 9.x's ProjectionRunner over `events` events of its own (bench/eventsourcing_peer.py)."""
    try:
        from bench import eventsourcing_peer
    except ImportError:  # the bench extra is not installed
        return 0, 0.0
    return eventsourcing_peer.measure(run.databases.url(run.databases.write), events)


def measure_naive(*, after: int, limit: int) -> tuple[int, float]:
    """The naive projector over the `limit` events after position `after`: events applied, and seconds."""
    from bench import naive

    started = time.monotonic()
    applied = naive.project_window(after=after, limit=limit)
    return applied, time.monotonic() - started


def report(events: int, measured: Measured) -> Section:
    rate, naive_rate = events / measured.seconds, measured.naive_applied / measured.naive_seconds
    ratio = rate / naive_rate
    rows_rate = measured.rows_written / measured.seconds
    floor_rate = measured.floor_rows / measured.floor_seconds if measured.floor_seconds else float("nan")
    figure = Figure(
        "3",
        f"catch-up of all 4 projections, {events:,} events",
        rate,
        "events/s",
        f"naive update_or_create ({measured.naive_applied:,} events)",
        naive_rate,
        ratio,
        f">= {TARGET:.0f}x",
        ratio >= TARGET,
    )
    floor = Figure(
        "3",
        "read-model rows upserted per second during the catch-up",
        rows_rate,
        "rows/s",
        "psycopg executemany upsert on order_summary",
        floor_rate,
        rows_rate / floor_rate,
        f">= {FLOOR_TARGET}x",
        rows_rate / floor_rate >= FLOOR_TARGET,
    )
    two = Figure(
        "3",
        "catch-up, 2 partitions in 2 worker processes",
        events / measured.two_process_seconds,
        "events/s",
        "1 process (the figure above)",
        rate,
        events / measured.two_process_seconds / rate,
    )
    figures = [figure, floor, two]
    if measured.peer_seconds:
        peer_rate = measured.peer_events / measured.peer_seconds
        figures.append(
            Figure(
                "3",
                "catch-up beside the Python peer",
                rate,
                "events/s",
                f"eventsourcing ProjectionRunner, trivial projection ({measured.peer_events:,} events)",
                peer_rate,
                rate / peer_rate,
                f">= {PEER_TARGET:.0f}x",
                rate / peer_rate >= PEER_TARGET,
            )
        )
    return Section(TITLE, figures=figures, details=_details(events, measured))


def _peer_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("eventsourcing")
    except PackageNotFoundError:
        return "(not installed: pip install -e '.[bench]')"


def _details(events: int, measured: Measured) -> list[str]:
    from django.conf import settings

    applied, naive_seconds = measured.naive_applied, measured.naive_seconds
    return [
        f"- Batches of {settings.PROJECTION_BATCH_SIZE} events (PROJECTION_BATCH_SIZE): one pass over the log "
        "(projections.runner.catch_up_projections), each batch read and decoded once and applied to the four "
        "projections, each under a savepoint with its checkpoint, in one transaction on `read`.",
        f"- Rows upserted: {measured.rows_written:,} in {measured.seconds:.1f} s. Floor: {measured.floor_rows:,} "
        f"order_summary rows upserted onto their own table by psycopg executemany in {measured.floor_seconds:.1f} s.",
        f"- Peer: eventsourcing {_peer_version()} ProjectionRunner, {measured.peer_events:,} events of its own in "
        f"this run's write database, a projection that only records its position in memory (POPO view): "
        f"{measured.peer_seconds:.1f} s. (Its PostgreSQL view commits once per event: under 100 events/s here.)",
        f"- Naive projector: {applied:,} events (positions {events + 1:,} to {events + applied:,}) in "
        f"{naive_seconds:.1f} s, {applied / naive_seconds:,.0f} events/s, every update_or_create its own transaction.",
        "",
        "| projection | events applied | position |",
        "|---|---|---|",
        *[f"| {name} | {result.applied:,} | {result.position:,} |" for name, result in measured.results.items()],
        f"| all four, one pass | {events:,} in {measured.seconds:.1f} s | {events / measured.seconds:,.0f} events/s |",
        "",
        f"2 partitions in 2 processes (bench/partitioned_catch_up.py): {measured.two_process_seconds:.1f} s, "
        "each process reading the whole log and writing its half of the rows:",
        "",
        "| partition | events applied |",
        "|---|---|",
        *[f"| {name} | {applied:,} |" for name, applied in measured.two_process_applied.items()],
        "",
        "Profile of the catch-up (py-spy, 25 samples/s, waiting included):",
        "",
        *measured.profile,
    ]
