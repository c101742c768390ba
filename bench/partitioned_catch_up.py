"""Catch-up split two ways: each read model in 2 partitions, each partition's lane in a worker process of its own.

What `PROJECTION_PARTITIONS=...=2` and two Celery worker processes do, without
Celery's overhead: two forked processes each run catch_up_projections over
their lane (projections.registry.lane) from position 0, started together; the
wall time is the slower one's. Each reads and decodes the whole log and writes
half the rows, so on a 2-core machine it competes with PostgreSQL for the same
cores: the figure says what a second process buys here, not on a bigger box.
"""

from __future__ import annotations

import multiprocessing
import time

PARTITIONS = 2


def measure(events: int) -> tuple[float, dict[str, int]]:
    """Catch every read model up from 0 in PARTITIONS processes; return (seconds, events applied per partition)."""
    from django.db import connections

    connections.close_all()  # the children open their own: a connection must not cross a fork
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start = context.Event()
    workers = [context.Process(target=_run_lane, args=(index, start, results)) for index in range(1, PARTITIONS + 1)]
    for worker in workers:
        worker.start()
    time.sleep(1.0)  # every child forked and waiting
    started = time.monotonic()
    start.set()
    applied: dict[str, int] = {}
    for _ in workers:
        applied |= results.get(timeout=3600)
    seconds = time.monotonic() - started
    for worker in workers:
        worker.join()
    return seconds, applied


def _run_lane(index: int, start, results) -> None:
    from django.test import override_settings

    from projections.base import Partition
    from projections.registry import lane, replayable_projections
    from projections.runner import catch_up_projections

    with override_settings(PROJECTION_PARTITIONS=dict.fromkeys(replayable_projections(), PARTITIONS)):
        start.wait()
        outcome = catch_up_projections(lane(Partition(index, PARTITIONS)))
    results.put({name: result.applied for name, result in outcome.items()})


def reset_read_models() -> None:
    """Forget every read model and its checkpoints (whatever their partitions), so a catch-up starts from 0."""
    from django.db import connections

    from core.routers import READ_PRIMARY
    from projections.models import Checkpoint
    from projections.registry import replayable_projections

    projections = replayable_projections()
    with connections[READ_PRIMARY].cursor() as cursor:
        for projection in projections.values():
            cursor.execute(f"TRUNCATE {connections[READ_PRIMARY].ops.quote_name(projection.model._meta.db_table)}")
    for name in projections:
        Checkpoint.objects.using(READ_PRIMARY).filter(name__startswith=name).delete()
