"""What the operator dashboard watches: the progress of rebuilds (RebuildRun) and followers' lag (LagSample).

Written on `read` by the Celery tasks; read by the dashboard through the router, like every read-side table.
"""

from __future__ import annotations

import traceback
from collections import defaultdict
from datetime import datetime, timedelta

from django.utils import timezone

from core.routers import READ_PRIMARY
from projections.models import LagSample, RebuildRun
from projections.rebuild import Progress, RebuildResult
from projections.status import follower_statuses

# Samples older than this are pruned; the chart shows the last hour.
LAG_SAMPLES_KEPT = timedelta(days=1)


# --- Rebuild runs ----------------------------------------------------------------


def queue_rebuild(name: str, *, requested_by: str) -> RebuildRun:
    """Record that a rebuild of `name` was asked for, before a worker picks it up."""
    return RebuildRun.objects.using(READ_PRIMARY).create(name=name, requested_by=requested_by)


def start_rebuild(run_id: int | None, name: str, *, requested_by: str) -> int:
    """Mark the run `run_id` running (recording a new one when there is none); return its id."""
    runs = RebuildRun.objects.using(READ_PRIMARY)
    if run_id is None or not runs.filter(pk=run_id).exists():
        run_id = runs.create(name=name, requested_by=requested_by).pk
    runs.filter(pk=run_id).update(state=RebuildRun.State.RUNNING, started_at=timezone.now())
    return run_id


def progress_of(run_id: int) -> Progress:
    """Return a rebuild `progress` callback that records how far the replay has got in run `run_id`."""

    def progress(events_done: int, position: int, head: int) -> None:
        # Called between batches, outside their transactions: each update commits at once, so the page sees it.
        RebuildRun.objects.using(READ_PRIMARY).filter(pk=run_id).update(
            events_done=events_done, position=position, head=head
        )

    return progress


def finish_rebuild(run_id: int, result: RebuildResult, *, already: bool = False) -> None:
    """Mark run `run_id` done with `result`'s figures (or, `already`, done by another run: figures kept)."""
    figures = {} if already else {"events_done": result.events, "position": result.position, "head": result.position}
    RebuildRun.objects.using(READ_PRIMARY).filter(pk=run_id).update(
        state=RebuildRun.State.DONE, finished_at=timezone.now(), **figures
    )


def fail_rebuild(run_id: int, error: BaseException) -> None:
    RebuildRun.objects.using(READ_PRIMARY).filter(pk=run_id).update(
        state=RebuildRun.State.FAILED,
        error="".join(traceback.format_exception(error)),
        finished_at=timezone.now(),
    )


def latest_rebuilds(names) -> dict[str, RebuildRun]:
    """The newest rebuild run of each of `names` that has one."""
    runs = RebuildRun.objects.order_by("-requested_at", "-id")
    latest = {name: runs.filter(name=name).first() for name in names}
    return {name: run for name, run in latest.items() if run is not None}


# --- Lag samples -----------------------------------------------------------------


def sample_lag(now: datetime | None = None) -> int:
    """Record every follower's lag now, prune samples older than a day; return how many were recorded."""
    now = now or timezone.now()
    samples = [
        LagSample(
            taken_at=now,
            name=status.name,
            position=status.position,
            lag_events=status.lag_events,
            lag_seconds=status.lag_seconds,
        )
        for status in follower_statuses()
    ]
    LagSample.objects.using(READ_PRIMARY).bulk_create(samples)
    LagSample.objects.using(READ_PRIMARY).filter(taken_at__lt=now - LAG_SAMPLES_KEPT).delete()
    return len(samples)


def lag_history(since: datetime) -> dict[str, list[LagSample]]:
    """The samples taken since `since`, oldest first, by follower name."""
    history: dict[str, list[LagSample]] = defaultdict(list)
    for sample in LagSample.objects.filter(taken_at__gte=since).order_by("taken_at", "name"):
        history[sample.name].append(sample)
    return dict(history)
