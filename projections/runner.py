"""catch_up(follower): move one projection or subscriber from its checkpoint to the head of the log.

Each batch is one transaction on `read` that locks the checkpoint row, applies
the events and advances the checkpoint, so a crash anywhere leaves the read
model and its checkpoint in step: nothing is applied twice or skipped. The
lock is taken with SKIP LOCKED: a second runner for the same follower gives up
at once instead of queueing behind the first.

A handler that raises is retried a few times, one event at a time, so the
failure names its event; then only that follower is marked failed. Database
outages (OperationalError) are not counted: they propagate so that the Celery
task retries later with backoff.

catch_up_projections() takes every live projection along in one pass over the
log: each batch is read once, each event decoded once (RecordedEvent.event is
cached on the shared object), and handed to every projection. Why one
transaction with a savepoint per projection, rather than a reader feeding a
transaction per projection: a savepoint keeps each projection's rows and its
checkpoint in step exactly as its own transaction would (its upsert and its
checkpoint update are released or rolled back together), at the cost of two
statements instead of a commit per projection per batch, and a handler that
raises rolls back its own savepoint only. That projection leaves the pass, and
once the pass has committed the others' work, it catches up alone through
catch_up() with its usual retries; the others never wait for it.

A projection split into partitions (PROJECTION_PARTITIONS) rides as one
follower per partition, each under its own checkpoint. A Celery task for
partition i runs the pass over lane i (projections.registry.lane): partition i
of every projection. So N worker processes, on any machines, move N lanes at
once, each lane with the same guarantees as above, and no two runners ever
write the same row: a row belongs to exactly one partition (base.Partition).
"""

from __future__ import annotations

import enum
import logging
import re
import traceback
from dataclasses import dataclass

from django.conf import settings
from django.db import InterfaceError, OperationalError, transaction

from commands.eventlog import RecordedEvent, read_events
from core import metrics
from core.routers import READ_PRIMARY
from projections import announcements
from projections.base import HandlerFailed, Projection, Subscriber
from projections.models import Checkpoint
from projections.registry import partitions_of, registry

logger = logging.getLogger(__name__)

TRANSIENT_ERRORS = (OperationalError, InterfaceError)


class Outcome(enum.Enum):
    CAUGHT_UP = "caught up"
    BUSY = "another runner holds it"
    PAUSED = "not live (failed, rebuilding, or built by another version)"
    FAILED = "failed"


@dataclass(frozen=True)
class CatchUpResult:
    name: str
    outcome: Outcome
    applied: int
    position: int


class _BatchFailed(Exception):
    def __init__(self, position: int):
        super().__init__(f"batch failed at event #{position}")
        self.position = position


def ensure_checkpoints() -> None:
    """Create a checkpoint at position 0 for every follower that has none yet, at the code's version.

    A partition that is new because its projection's partition count changed
    must not start at 0 over rows the old partitions built: it waits, with its
    siblings, for the rebuild that splits the read model anew.
    """
    existing = set(Checkpoint.objects.using(READ_PRIMARY).values_list("name", flat=True))
    missing = [follower for name, follower in registry().items() if name not in existing]
    if missing:
        Checkpoint.objects.using(READ_PRIMARY).bulk_create(
            [_first_checkpoint(follower, existing) for follower in missing], ignore_conflicts=True
        )


def _first_checkpoint(follower: Projection | Subscriber, existing: set[str]) -> Checkpoint:
    checkpoint = Checkpoint(name=follower.name, version=getattr(follower, "version", 1))
    if follower.replayable and stale_partitions(follower.projection_name, existing):
        checkpoint.state = Checkpoint.State.AWAITING_REBUILD
        checkpoint.error = (
            f"{follower.projection_name} now has {follower.partition.count} partition(s): "
            f"run rebuild_projections {follower.projection_name} to split its read model that way."
        )
    return checkpoint


def stale_partitions(projection_name: str, names: set[str]) -> set[str]:
    """Of checkpoint `names`, those of `projection_name`'s partitions under a partition count no longer set."""
    current = {part.name for part in partitions_of(projection_name)}
    pattern = re.compile(rf"{re.escape(projection_name)}(\.\d+of\d+)?")
    return {name for name in names if name not in current and pattern.fullmatch(name)}


def catch_up_projections(
    projections: list[Projection] | None = None, *, batch_size: int | None = None
) -> dict[str, CatchUpResult]:
    """Catch every live projection partition (or those given) up to the head in one pass over the log; by name."""
    batch_size = batch_size or settings.PROJECTION_BATCH_SIZE
    ensure_checkpoints()
    followers = projections or [follower for follower in registry().values() if follower.replayable]
    riding = {projection.name: projection for projection in followers}
    applied = dict.fromkeys(riding, 0)
    results: dict[str, CatchUpResult] = {}
    alone: list[Projection] = []
    while riding:
        finished, fell_off, counts = _apply_shared_batch(riding, batch_size)
        for name, count in counts.items():
            applied[name] += count
        for name, (outcome, position) in finished.items():
            results[name] = CatchUpResult(name, outcome, applied[name], position)
            del riding[name]
        for name in fell_off:
            alone.append(riding.pop(name))
    for projection in alone:  # after the pass has committed: the others never wait for a failing one
        result = catch_up(projection, batch_size=batch_size)
        results[projection.name] = CatchUpResult(
            projection.name, result.outcome, applied[projection.name] + result.applied, result.position
        )
    return results


def _apply_shared_batch(riding: dict[str, Projection], batch_size: int):
    """Apply the next batch of the log to every projection in `riding`, each under its own savepoint.

    Return (finished: name -> (outcome, position), fell_off: names to catch up alone, counts: name -> applied).
    """
    finished: dict[str, tuple[Outcome, int]] = {}
    fell_off: list[str] = []
    counts: dict[str, int] = {}
    advanced: list[tuple[Projection, list]] = []
    with transaction.atomic(using=READ_PRIMARY):
        checkpoints = {
            checkpoint.name: checkpoint
            for checkpoint in Checkpoint.objects.using(READ_PRIMARY)
            .select_for_update(skip_locked=True)
            .filter(name__in=list(riding))
        }
        ready = {}
        for name, projection in riding.items():
            checkpoint = checkpoints.get(name)
            if checkpoint is None:
                fell_off.append(name)  # another runner holds it: catch_up() says BUSY
            elif checkpoint.state != Checkpoint.State.LIVE or not _same_version(projection, checkpoint):
                finished[name] = (Outcome.PAUSED, checkpoint.position)
            elif checkpoint.attempts:
                fell_off.append(name)  # stumbling: it retries one event at a time, alone
            else:
                ready[name] = checkpoint
        if not ready:
            return finished, fell_off, counts
        batch = read_events(min(checkpoint.position for checkpoint in ready.values()), batch_size)
        for name, checkpoint in ready.items():
            projection = riding[name]
            # Projections ahead of the slowest one skip the events they have already applied.
            events = [recorded for recorded in batch if recorded.position > checkpoint.position]
            if events:
                try:
                    with metrics.BATCH_SECONDS.labels(name).time(), transaction.atomic(using=READ_PRIMARY):
                        projection.handle(events)
                        _advance(checkpoint, events[-1].position)
                except TRANSIENT_ERRORS:
                    raise
                except Exception:
                    fell_off.append(name)  # its savepoint is rolled back; it catches up alone, with retries
                    continue
                advanced.append((projection, events))
                counts[name] = len(events)
            if len(batch) < batch_size:  # the batch reached the head
                finished[name] = (Outcome.CAUGHT_UP, checkpoint.position)
    for projection, events in advanced:
        _applied(projection.name, events)
    return finished, fell_off, counts


def catch_up(follower: Projection | Subscriber, *, batch_size: int | None = None) -> CatchUpResult:
    """Apply every event after the follower's checkpoint, batch by batch, until the head."""
    batch_size = batch_size or settings.PROJECTION_BATCH_SIZE
    applied = 0
    while True:
        try:
            with metrics.BATCH_SECONDS.labels(follower.name).time():
                outcome, count, position = _apply_next_batch(follower, batch_size)
        except TRANSIENT_ERRORS:
            raise
        except Exception as error:
            metrics.BATCH_FAILURES.labels(follower.name).inc()
            if _record_failure(follower, error):
                return CatchUpResult(follower.name, Outcome.FAILED, applied, _position(follower))
            continue  # try again, one event at a time
        applied += count
        if outcome is not None:
            return CatchUpResult(follower.name, outcome, applied, position)


def _apply_next_batch(follower, batch_size: int) -> tuple[Outcome | None, int, int]:
    with transaction.atomic(using=READ_PRIMARY):
        checkpoint = (
            Checkpoint.objects.using(READ_PRIMARY)
            .select_for_update(skip_locked=True)
            .filter(name=follower.name)
            .first()
        )
        if checkpoint is None:
            # Locked by another runner, or not created yet: created here once, not on every run.
            if Checkpoint.objects.using(READ_PRIMARY).filter(name=follower.name).exists():
                return Outcome.BUSY, 0, 0
            ensure_checkpoints()
            return None, 0, 0  # the caller loops, and locks the new checkpoint
        if checkpoint.state != Checkpoint.State.LIVE or not _same_version(follower, checkpoint):
            return Outcome.PAUSED, 0, checkpoint.position
        limit = 1 if checkpoint.attempts else batch_size
        batch = read_events(checkpoint.position, limit)
        if not batch:
            return Outcome.CAUGHT_UP, 0, checkpoint.position
        try:
            handled = follower.handle(batch)
        except TRANSIENT_ERRORS:
            raise
        except HandlerFailed:
            raise
        except Exception as error:
            raise _BatchFailed(batch[0].position) from error
        _advance(checkpoint, batch[-1].position)
    follower.after_commit(handled)
    _applied(follower.name, batch)
    # A short batch reached the head; a full one may not have (one event at a time, while retrying, is full).
    return Outcome.CAUGHT_UP if len(batch) < limit else None, len(batch), checkpoint.position


def _applied(name: str, events: list[RecordedEvent]) -> None:
    """After the commit: announce the follower's new position (live streams wait on it) and log the batch."""
    announcements.announce(name, events[-1].position)
    logger.info(
        "%s applied events #%d..#%d",
        name,
        events[0].position,
        events[-1].position,
        extra={"follower": name, "correlation_ids": _correlation_ids(events)},
    )


def _same_version(follower, checkpoint: Checkpoint) -> bool:
    # Another version built the live rows: they wait for the blue/green rebuild (projections.versions).
    return getattr(follower, "version", 1) == checkpoint.version


def _correlation_ids(batch, limit: int = 50) -> list[str]:
    """The distinct correlation ids of a batch's events (the first `limit`), for its log line."""
    return list(dict.fromkeys(recorded.metadata.get("correlation_id") for recorded in batch))[:limit]


def _advance(checkpoint: Checkpoint, position: int) -> None:
    checkpoint.position = position
    # Past the event it stumbled on, or failed on before an operator's retry reset the attempts.
    if (checkpoint.attempts or checkpoint.failed_position) and position >= (checkpoint.failed_position or 0):
        checkpoint.clear_failure()
    checkpoint.save(update_fields=["position", "attempts", "failed_position", "error", "updated_at"])


def _record_failure(follower, error: Exception) -> bool:
    """Count a failed attempt; return True once the follower has been marked failed."""
    position = error.position if isinstance(error, HandlerFailed | _BatchFailed) else None
    with transaction.atomic(using=READ_PRIMARY):
        checkpoint = Checkpoint.objects.using(READ_PRIMARY).select_for_update().get(name=follower.name)
        checkpoint.attempts += 1
        checkpoint.failed_position = position
        checkpoint.error = "".join(traceback.format_exception(error.__cause__ or error))
        if checkpoint.attempts >= settings.PROJECTION_MAX_ATTEMPTS:
            checkpoint.state = Checkpoint.State.FAILED
        checkpoint.save()
    failed = checkpoint.state == Checkpoint.State.FAILED
    logger.log(
        logging.ERROR if failed else logging.WARNING,
        "%s %s at event #%s (attempt %d): %s",
        follower.name,
        "failed" if failed else "stumbled",
        position,
        checkpoint.attempts,
        error.__cause__ or error,
    )
    return failed


def _position(follower) -> int:
    return Checkpoint.objects.using(READ_PRIMARY).get(name=follower.name).position
