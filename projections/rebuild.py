"""Rebuilding a read model from the whole log (blue/green), and verifying a live one against a rebuild.

A rebuild pauses the live projection (state "rebuilding"), replays every event
into a shadow table batch by batch, and then, in one transaction that holds
the checkpoint, replays what arrived meanwhile, swaps the shadow in for the
live table (projections.tables.swap_in) and sets the checkpoint live at the
position reached, recording the Projection.version that built it. Readers see
the old table until that commit and the new one after: never an empty or
partial read model. Subscribers are never rebuilt.

Why pause the live projection rather than keep the old table current: once
new code is deployed, only the new version's handlers exist, and running them
over rows the old version built would mix two versions in one table (and may
fail on a column the old version never filled): exactly the half-built state
readers must not see. So readers keep the old version's rows, consistent but
growing stale for the length of the rebuild (shown as lag; a request that
needs a newer position waits, then answers 503 as it does for any lag), and
the shadow catches up to the head before the swap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import zip_longest

from django.conf import settings
from django.db import models, transaction

from commands.eventlog import head_position, read_events
from core.routers import READ_PRIMARY
from projections.base import Projection
from projections.models import Checkpoint
from projections.registry import registry
from projections.runner import catch_up_projections, ensure_checkpoints
from projections.tables import create_shadow, drop_table, recreate_table, rows_in_key_order, scratch_model, swap_in
from queries.caching import invalidate

logger = logging.getLogger(__name__)

# progress(events_done, position_reached, head_position)
Progress = Callable[[int, int, int], None]


class RebuildRefused(Exception):
    """The projection is already being rebuilt (use force to take over an abandoned rebuild)."""


@dataclass(frozen=True)
class RebuildResult:
    name: str
    position: int
    events: int
    seconds: float


def rebuild(
    projection: Projection,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> RebuildResult:
    """Rebuild `projection`'s read model from the whole log, then resume live projection."""
    return rebuild_together([projection], batch_size=batch_size, progress=progress, force=force)[0]


def rebuild_together(
    projections: list[Projection],
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    force: bool = False,
) -> list[RebuildResult]:
    """Rebuild several read models in one pass over the log: each batch is read and decoded once for all of them.

    Each projection swaps its own shadow in, all in the one closing transaction,
    so they go live together at the same position.
    """
    batch_size = batch_size or settings.REBUILD_BATCH_SIZE
    started = time.monotonic()
    states_before = _pause_all_for_rebuild(projections, force=force)
    shadows = {projection.name: scratch_model(projection.model, "shadow") for projection in projections}
    try:
        targets = [(projection, create_shadow(projection.model)) for projection in projections]
        position, events = replay_together(targets, after=0, batch_size=batch_size, progress=progress)
        with transaction.atomic(using=READ_PRIMARY):
            checkpoints = {
                projection.name: Checkpoint.objects.using(READ_PRIMARY).select_for_update().get(name=projection.name)
                for projection in projections
            }
            position, more = replay_together(targets, after=position, batch_size=batch_size)
            for projection, shadow in targets:
                swap_in(projection.model, shadow)
                _set_live(checkpoints[projection.name], position, projection.version)
    except BaseException:
        for projection in projections:  # the live tables were not touched: carry on as before
            _restore(projection, states_before[projection.name])
        raise
    finally:
        for shadow in shadows.values():
            drop_table(shadow)  # a leftover of a failed rebuild; after a swap it no longer exists
    for projection in projections:
        _forget_cached_responses(projection)
    catch_up_projections(projections, batch_size=batch_size)
    seconds = time.monotonic() - started
    return [RebuildResult(projection.name, position, events + more, seconds) for projection in projections]


def start_subscribers_at_head() -> dict[str, int]:
    """Give each subscriber that has no checkpoint (a read database recreated empty) one at the head of the log.

    Its old checkpoint was lost with the database: starting at 0 would send
    every e-mail of the shop's history again. Starting at the head repeats no
    side effect; those owed for events the lost database had not yet seen (or
    held in its lost outbox) are not carried out. Return the subscribers started,
    with the position.
    """
    head = head_position()
    missing = [
        name
        for name, follower in registry().items()
        if not follower.replayable and not Checkpoint.objects.using(READ_PRIMARY).filter(name=name).exists()
    ]
    Checkpoint.objects.using(READ_PRIMARY).bulk_create(
        [Checkpoint(name=name, position=head) for name in missing], ignore_conflicts=True
    )
    return {name: head for name in missing}


def replay(
    projection: Projection,
    model: type[models.Model],
    *,
    after: int,
    batch_size: int,
    upto: int | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Apply the events after `after` (up to `upto`, or the head) to `model`; return (position, count)."""
    return replay_together([(projection, model)], after=after, batch_size=batch_size, upto=upto, progress=progress)


def replay_together(
    targets: list[tuple[Projection, type[models.Model]]],
    *,
    after: int,
    batch_size: int,
    upto: int | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Apply the events after `after` (up to `upto`, or the head) to each (projection, model); return (position, count).

    One transaction a batch: memory stays at one batch's events and rows, whatever the log's length.
    """
    position, count = after, 0
    head = upto if upto is not None else head_position()
    while True:
        batch = read_events(position, batch_size)
        if upto is not None:
            batch = [recorded for recorded in batch if recorded.position <= upto]
        if not batch:
            return position, count
        with transaction.atomic(using=READ_PRIMARY):
            for projection, model in targets:
                projection.apply(batch, model)
        position, count = batch[-1].position, count + len(batch)
        if progress:
            progress(count, position, max(head, position))


def _pause_all_for_rebuild(projections: list[Projection], *, force: bool) -> dict[str, str]:
    """Mark every projection rebuilding and return the states they were in; if one is refused, none is paused."""
    states_before: dict[str, str] = {}
    try:
        for projection in projections:
            states_before[projection.name] = _pause_for_rebuild(projection, force=force)
    except BaseException:
        for projection in projections:
            if projection.name in states_before:
                _restore(projection, states_before[projection.name])
        raise
    return states_before


def _pause_for_rebuild(projection: Projection, *, force: bool) -> str:
    """Mark the projection rebuilding and return the state it was in."""
    ensure_checkpoints()
    state_before = Checkpoint.objects.using(READ_PRIMARY).get(name=projection.name).state
    # Claim with a conditional UPDATE: of two rebuilds started together, one wins.
    states = [Checkpoint.State.LIVE, Checkpoint.State.FAILED]
    if force:
        states.append(Checkpoint.State.REBUILDING)
    claimed = (
        Checkpoint.objects.using(READ_PRIMARY)
        .filter(name=projection.name, state__in=states)
        .update(state=Checkpoint.State.REBUILDING)
    )
    if not claimed:
        raise RebuildRefused(f"{projection.name} is already being rebuilt; pass force to take over.")
    # Wait for a live runner that is mid-batch: it holds the row until its batch commits.
    with transaction.atomic(using=READ_PRIMARY):
        Checkpoint.objects.using(READ_PRIMARY).select_for_update().get(name=projection.name)
    return Checkpoint.State.LIVE if state_before == Checkpoint.State.REBUILDING else state_before


def _set_live(checkpoint: Checkpoint, position: int, version: int) -> None:
    checkpoint.position, checkpoint.state, checkpoint.version = position, Checkpoint.State.LIVE, version
    checkpoint.clear_failure()
    checkpoint.save()


def _restore(projection: Projection, state: str) -> None:
    Checkpoint.objects.using(READ_PRIMARY).filter(name=projection.name).update(state=state)


def _forget_cached_responses(projection: Projection) -> None:
    # A rebuild may repair rows without moving the checkpoint, which cached responses are
    # keyed by: make them unreachable. A cache outage (ignored by the backend) only costs
    # stale responses until they expire.
    invalidate([projection.cache_family])


# --- Verification -------------------------------------------------------------


@dataclass
class Drift:
    name: str
    position: int
    rows_compared: int = 0
    differences: list[str] = field(default_factory=list)
    total: int = 0

    def note(self, difference: str, limit: int = 100) -> None:
        self.total += 1
        if len(self.differences) < limit:
            self.differences.append(difference)


def verify(projection: Projection, *, batch_size: int | None = None) -> Drift:
    """Rebuild into a scratch table at the live checkpoint's position and compare row by row."""
    batch_size = batch_size or settings.PROJECTION_BATCH_SIZE
    ensure_checkpoints()
    scratch = scratch_model(projection.model, "verify")
    recreate_table(scratch)
    try:
        live_position = Checkpoint.objects.using(READ_PRIMARY).get(name=projection.name).position
        position, _ = replay(projection, scratch, after=0, batch_size=batch_size, upto=live_position)
        with transaction.atomic(using=READ_PRIMARY):
            # Hold the checkpoint so the live rows stay still while we compare.
            checkpoint = Checkpoint.objects.using(READ_PRIMARY).select_for_update().get(name=projection.name)
            replay(projection, scratch, after=position, batch_size=batch_size, upto=checkpoint.position)
            return _compare(projection, scratch, checkpoint.position)
    finally:
        drop_table(scratch)


def _compare(projection: Projection, scratch: type[models.Model], position: int) -> Drift:
    drift = Drift(projection.name, position)
    names = [f.attname for f in projection.model._meta.local_concrete_fields]
    live_rows, rebuilt_rows = rows_in_key_order(projection.model), rows_in_key_order(scratch)
    live, rebuilt = next(live_rows, None), next(rebuilt_rows, None)
    while live is not None or rebuilt is not None:
        drift.rows_compared += 1
        if rebuilt is None or (live is not None and live[0] < rebuilt[0]):
            drift.note(f"{projection.name} {live[0]}: in the live read model, not in a rebuild")
            live = next(live_rows, None)
        elif live is None or rebuilt[0] < live[0]:
            drift.note(f"{projection.name} {rebuilt[0]}: missing from the live read model")
            rebuilt = next(rebuilt_rows, None)
        else:
            for name, was, expected in zip_longest(names, live, rebuilt):
                if was != expected:
                    drift.note(f"{projection.name} {live[0]}: {name} is {was!r}, a rebuild gives {expected!r}")
            live, rebuilt = next(live_rows, None), next(rebuilt_rows, None)
    return drift
