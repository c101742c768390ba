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
from django.db import connections, models, transaction

from commands.eventlog import head_position, read_events
from core.routers import READ_PRIMARY
from projections.base import Projection
from projections.models import Checkpoint
from projections.parallel_replay import replay_in_processes
from projections.registry import partitions_of, registry
from projections.runner import catch_up_projections, ensure_checkpoints, stale_partitions
from projections.tables import (
    create_shadow,
    drop_table,
    index_shadow,
    recreate_table,
    rows_in_key_order,
    scratch_model,
    swap_in,
)
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
        position, events = _replay_the_bulk(targets, batch_size=batch_size, progress=progress)
        for projection, shadow in targets:
            index_shadow(projection.model, shadow)
        with transaction.atomic(using=READ_PRIMARY):
            checkpoints = {projection.name: _lock_checkpoints(projection) for projection in projections}
            position, more = replay_together(targets, after=position, batch_size=batch_size)
            for projection, shadow in targets:
                swap_in(projection.model, shadow)
                _set_live(checkpoints[projection.name], position, projection.version)
    except BaseException:
        _restore(states_before)  # the live tables were not touched: carry on as before
        raise
    finally:
        for shadow in shadows.values():
            drop_table(shadow)  # a leftover of a failed rebuild; after a swap it no longer exists
    for projection in projections:
        _forget_cached_responses(projection)
    catch_up_projections(_partitions(projections), batch_size=batch_size)
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


def _replay_the_bulk(
    targets: list[tuple[Projection, type[models.Model]]], *, batch_size: int, progress: Progress | None
) -> tuple[int, int]:
    """Replay the log as it is now into the shadows, in REBUILD_PROCESSES processes where it can; (position, count)."""
    connection = connections[READ_PRIMARY]
    processes = settings.REBUILD_PROCESSES
    # Forking closes this process's connections: never inside a transaction (a caller's, or a test's).
    if processes < 2 or connection.vendor != "postgresql" or connection.in_atomic_block:
        return replay_together(targets, after=0, batch_size=batch_size, progress=progress)
    head = head_position()
    count = replay_in_processes(targets, upto=head, processes=processes, batch_size=batch_size, progress=progress)
    return head, count


def _pause_all_for_rebuild(projections: list[Projection], *, force: bool) -> dict[str, str]:
    """Mark every projection rebuilding and return the states its checkpoints were in; if one is refused, none is."""
    states_before: dict[str, str] = {}
    try:
        for projection in projections:
            states_before |= _pause_for_rebuild(projection, force=force)
    except BaseException:
        _restore(states_before)
        raise
    return states_before


def _pause_for_rebuild(projection: Projection, *, force: bool) -> dict[str, str]:
    """Mark the checkpoints of the projection (every partition) rebuilding and return the states they were in.

    Of two rebuilds started together, the second waits for the first's row locks
    and then finds the projection rebuilding; so does a live runner that is
    mid-batch: its batch commits first.
    """
    ensure_checkpoints()
    claimable = [Checkpoint.State.LIVE, Checkpoint.State.FAILED, Checkpoint.State.AWAITING_REBUILD]
    if force:
        claimable.append(Checkpoint.State.REBUILDING)
    with transaction.atomic(using=READ_PRIMARY):
        checkpoints = _lock_checkpoints(projection, stale_too=True)
        if any(checkpoint.state not in claimable for checkpoint in checkpoints):
            raise RebuildRefused(f"{projection.name} is already being rebuilt; pass force to take over.")
        names = [checkpoint.name for checkpoint in checkpoints]
        Checkpoint.objects.using(READ_PRIMARY).filter(name__in=names).update(state=Checkpoint.State.REBUILDING)
    # An abandoned rebuild being taken over leaves its checkpoints live when this one fails.
    return {
        checkpoint.name: Checkpoint.State.LIVE if checkpoint.state == Checkpoint.State.REBUILDING else checkpoint.state
        for checkpoint in checkpoints
    }


def _lock_checkpoints(projection: Projection, *, stale_too: bool = False) -> list[Checkpoint]:
    """Lock the checkpoints of the projection's partitions (and of its old partitions, with `stale_too`), by name."""
    names = [part.name for part in partitions_of(projection.name)]
    if stale_too:
        existing = Checkpoint.objects.using(READ_PRIMARY).values_list("name", flat=True)
        names += sorted(stale_partitions(projection.name, set(existing)))
    return list(Checkpoint.objects.using(READ_PRIMARY).select_for_update().filter(name__in=names).order_by("name"))


def _set_live(checkpoints: list[Checkpoint], position: int, version: int) -> None:
    """Set the projection's partitions live at `position` and forget its old partitions (a new count is in place)."""
    for checkpoint in checkpoints:
        checkpoint.position, checkpoint.state, checkpoint.version = position, Checkpoint.State.LIVE, version
        checkpoint.clear_failure()
        checkpoint.save()
    projection_name = registry()[checkpoints[0].name].projection_name
    existing = set(Checkpoint.objects.using(READ_PRIMARY).values_list("name", flat=True))
    Checkpoint.objects.using(READ_PRIMARY).filter(name__in=stale_partitions(projection_name, existing)).delete()


def _restore(states: dict[str, str]) -> None:
    for name, state in states.items():
        Checkpoint.objects.using(READ_PRIMARY).filter(name=name).update(state=state)


def _partitions(projections: list[Projection]) -> list[Projection]:
    return [part for projection in projections for part in partitions_of(projection.name)]


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
    names = [part.name for part in partitions_of(projection.name)]
    try:
        live_positions = (
            Checkpoint.objects.using(READ_PRIMARY).filter(name__in=names).values_list("position", flat=True)
        )
        position, _ = replay(projection, scratch, after=0, batch_size=batch_size, upto=min(live_positions))
        with transaction.atomic(using=READ_PRIMARY):
            # Hold the checkpoints so the live rows stay still while we compare.
            checkpoints = _lock_checkpoints(projection)
            slowest = min(checkpoint.position for checkpoint in checkpoints)
            replay(projection, scratch, after=position, batch_size=batch_size, upto=slowest)
            # Each partition's rows are as of its own checkpoint: take the scratch rows there too.
            for checkpoint in checkpoints:
                part = registry()[checkpoint.name]
                replay(part, scratch, after=slowest, batch_size=batch_size, upto=checkpoint.position)
            return _compare(projection, scratch, max(checkpoint.position for checkpoint in checkpoints))
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
