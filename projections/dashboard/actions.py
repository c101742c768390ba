"""The operator dashboard's actions on followers (rebuild, retry, skip), each recorded in the audit log.

Who may do what is the views' business; here every action is carried out the
same way as the management commands do it, and audited with its outcome,
refusals included.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser

from commands import audit
from commands.eventlog import RecordedEvent, read_events
from commands.models import OperatorAction
from core.routers import READ_PRIMARY
from projections import monitoring, operations
from projections.models import Checkpoint, RebuildRun, SkippedEvent
from projections.operations import OperationRefused
from projections.registry import replayable_projections
from projections.tasks import rebuild_in_background

Outcome = OperatorAction.Outcome


def request_rebuild(names: Sequence[str], *, by: AbstractBaseUser) -> list[RebuildRun]:
    """Queue a rebuild of the named projections; the runs show its progress (eager Celery: already done)."""
    refused = [name for name in names if name not in replayable_projections()]
    if refused or not names:
        message = f"Only projections can be rebuilt, not {', '.join(refused) or 'nothing'}."
        _audit(by, "rebuild", ", ".join(refused), Outcome.REFUSED, message)
        raise OperationRefused(message)
    runs = [monitoring.queue_rebuild(name, requested_by=by.get_username()) for name in names]
    for run in runs:
        _audit(by, "rebuild", run.name, Outcome.REQUESTED, f"rebuild run #{run.pk}")
    try:
        rebuild_in_background.delay(list(names), by.get_username(), {run.name: run.pk for run in runs})
    except Exception as error:  # the broker is down: say so on the runs rather than leave them queued
        for run in runs:
            monitoring.fail_rebuild(run.pk, error)
        raise OperationRefused(f"The rebuild could not be queued: {error}") from error
    return runs


def retry(name: str, *, by: AbstractBaseUser) -> Checkpoint:
    """Set a failed follower live again (projections.operations.retry), audited."""
    try:
        checkpoint = operations.retry(name)
    except OperationRefused as refusal:
        _audit(by, "retry", name, Outcome.REFUSED, str(refusal))
        raise
    _audit(by, "retry", name, Outcome.DONE, f"from #{checkpoint.position}")
    return checkpoint


def skip_event(name: str, *, position: int, by: AbstractBaseUser) -> SkippedEvent:
    """Move a failed follower past the event it failed on (projections.operations.skip_failed_event), audited."""
    try:
        skipped = operations.skip_failed_event(name, position=position, skipped_by=by.get_username())
    except OperationRefused as refusal:
        _audit(by, "skip_event", name, Outcome.REFUSED, str(refusal))
        raise
    _audit(by, "skip_event", name, Outcome.DONE, f"skipped event #{position} ({skipped.event_type})")
    return skipped


def failed_event(name: str) -> tuple[Checkpoint, RecordedEvent | None]:
    """The follower's checkpoint (from the read primary) and the event it failed on, if it failed on one."""
    checkpoint = Checkpoint.objects.using(READ_PRIMARY).get(name=name)
    if checkpoint.state != Checkpoint.State.FAILED or checkpoint.failed_position is None:
        return checkpoint, None
    following = read_events(checkpoint.failed_position - 1, 1)
    event = following[0] if following and following[0].position == checkpoint.failed_position else None
    return checkpoint, event


def _audit(by: AbstractBaseUser, action: str, name: str, outcome: str, detail: str) -> None:
    audit.record(actor=by, action=action, target=f"projection {name}", outcome=outcome, detail=detail)
