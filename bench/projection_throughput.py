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
from dataclasses import dataclass

from bench.context import Run
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section

TITLE = "3. Projection throughput"
TARGET = 10.0


@dataclass
class Measured:
    timings: dict[str, tuple[float, object]]  # projection -> (seconds, its catch-up result)
    profile: list[str]
    naive_applied: int = 0
    naive_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return sum(seconds for seconds, _ in self.timings.values())


def run(run: Run) -> Section:
    from projections.runner import ensure_checkpoints

    events = run.sizes.projection_events
    run.events(events)
    ensure_checkpoints()
    measured = measure_catch_up()
    # The naive projector continues where the real one stopped, on the next events of the same history.
    run.events(events + run.sizes.naive_events)
    measured.naive_applied, measured.naive_seconds = measure_naive(after=events, limit=run.sizes.naive_events)
    return report(events, measured)


def measure_catch_up() -> Measured:
    """Every projection from position 0 to the head with the real runner, one after the other, under py-spy."""
    from projections.registry import replayable_projections
    from projections.runner import catch_up

    timings = {}
    spy = start_spy(os.getpid(), rate=25, idle=True)  # from outside, without pausing this process
    for name, projection in replayable_projections().items():
        started = time.monotonic()
        result = catch_up(projection)
        timings[name] = (time.monotonic() - started, result)
    return Measured(timings, spy_report(spy, stop=True))


def measure_naive(*, after: int, limit: int) -> tuple[int, float]:
    """The naive projector over the `limit` events after position `after`: events applied, and seconds."""
    from bench import naive

    started = time.monotonic()
    applied = naive.project_window(after=after, limit=limit)
    return applied, time.monotonic() - started


def report(events: int, measured: Measured) -> Section:
    rate, naive_rate = events / measured.seconds, measured.naive_applied / measured.naive_seconds
    ratio = rate / naive_rate
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
    return Section(TITLE, figures=[figure], details=_details(events, measured))


def _details(events: int, measured: Measured) -> list[str]:
    from django.conf import settings

    applied, naive_seconds = measured.naive_applied, measured.naive_seconds
    return [
        f"- Batches of {settings.PROJECTION_BATCH_SIZE} events (PROJECTION_BATCH_SIZE), one transaction each on "
        "`read` with the checkpoint, the four projections one after another in one process.",
        f"- Naive projector: {applied:,} events (positions {events + 1:,} to {events + applied:,}) in "
        f"{naive_seconds:.1f} s, {applied / naive_seconds:,.0f} events/s, every update_or_create its own transaction.",
        "",
        "| projection | events applied | seconds | events/s |",
        "|---|---|---|---|",
        *[
            f"| {name} | {result.applied:,} | {seconds:.1f} | {result.applied / seconds:,.0f} |"
            for name, (seconds, result) in measured.timings.items()
        ],
        f"| all four | {events:,} | {measured.seconds:.1f} | {events / measured.seconds:,.0f} |",
        "",
        "Profile of the catch-up (py-spy, 25 samples/s, waiting included, all four projections):",
        "",
        *measured.profile,
    ]
