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

from bench.context import Run
from bench.profiling import spy_report, start_spy
from bench.report import Figure, Section

TITLE = "3. Projection throughput"
TARGET = 10.0


def run(run: Run) -> Section:
    from django.conf import settings

    from bench import naive
    from projections.base import replayable_projections
    from projections.runner import catch_up, ensure_checkpoints

    section = Section(TITLE)
    events = run.sizes.projection_events
    run.events(events)
    ensure_checkpoints()
    timings = {}
    spy = start_spy(os.getpid(), rate=25, idle=True)  # from outside, without pausing this process
    for name, projection in replayable_projections().items():
        started = time.monotonic()
        result = catch_up(projection)
        timings[name] = (time.monotonic() - started, result)
    profile = spy_report(spy, stop=True)
    total = sum(seconds for seconds, _ in timings.values())
    rate = events / total

    # The naive projector continues where the real one stopped, on the next events of the same history.
    run.events(events + run.sizes.naive_events)
    started = time.monotonic()
    applied = naive.project_window(after=events, limit=run.sizes.naive_events)
    naive_seconds = time.monotonic() - started
    naive_rate = applied / naive_seconds

    ratio = rate / naive_rate
    section.figures.append(
        Figure(
            "3",
            f"catch-up of all 4 projections, {events:,} events",
            rate,
            "events/s",
            f"naive update_or_create ({applied:,} events)",
            naive_rate,
            ratio,
            f">= {TARGET:.0f}x",
            ratio >= TARGET,
        )
    )
    section.details += [
        f"- Batches of {settings.PROJECTION_BATCH_SIZE} events (PROJECTION_BATCH_SIZE), one transaction each on "
        "`read` with the checkpoint, the four projections one after another in one process.",
        f"- Naive projector: {applied:,} events (positions {events + 1:,} to {events + applied:,}) in "
        f"{naive_seconds:.1f} s, {naive_rate:,.0f} events/s, every update_or_create its own transaction.",
        "",
        "| projection | events applied | seconds | events/s |",
        "|---|---|---|---|",
        *[
            f"| {name} | {result.applied:,} | {seconds:.1f} | {result.applied / seconds:,.0f} |"
            for name, (seconds, result) in timings.items()
        ],
        f"| all four | {events:,} | {total:.1f} | {rate:,.0f} |",
        "",
        "Profile of the catch-up (py-spy, 25 samples/s, waiting included, all four projections):",
        "",
        *profile,
    ]
    return section
