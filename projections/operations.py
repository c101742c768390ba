"""What operators do to a failed follower: retry it after a fix, or skip the event it failed on."""

from django.db import transaction

from commands.eventlog import read_events
from core.routers import READ_PRIMARY
from projections.models import Checkpoint, SkippedEvent
from projections.tasks import wake


class OperationRefused(Exception):
    """The follower is not in a state that allows the operation."""


def retry(name: str) -> Checkpoint:
    """Set a failed follower live again, to run from its checkpoint with fresh attempts."""
    with transaction.atomic(using=READ_PRIMARY):
        checkpoint = _locked(name)
        if checkpoint.state != Checkpoint.State.FAILED:
            raise OperationRefused(f"{name} is {checkpoint.state}, not failed: nothing to retry.")
        checkpoint.state, checkpoint.attempts = Checkpoint.State.LIVE, 0
        checkpoint.save(update_fields=["state", "attempts", "updated_at"])
    wake(name, force=True)
    return checkpoint


def skip_failed_event(name: str, *, position: int, skipped_by: str) -> SkippedEvent:
    """Move a failed follower past the event at `position` (it must be the one it failed on)."""
    with transaction.atomic(using=READ_PRIMARY):
        checkpoint = _locked(name)
        if checkpoint.state != Checkpoint.State.FAILED or checkpoint.failed_position != position:
            raise OperationRefused(
                f"{name} did not fail on event #{position} (state {checkpoint.state}, "
                f"failed at {checkpoint.failed_position})."
            )
        following = read_events(checkpoint.position, 1)
        if not following or following[0].position != position:
            raise OperationRefused(f"Event #{position} is not the next event for {name}.")
        skipped = SkippedEvent.objects.using(READ_PRIMARY).create(
            checkpoint=checkpoint,
            position=position,
            event_type=following[0].type,
            error=checkpoint.error,
            skipped_by=skipped_by,
        )
        checkpoint.position, checkpoint.state = position, Checkpoint.State.LIVE
        checkpoint.clear_failure()
        checkpoint.save()
    wake(name, force=True)
    return skipped


def _locked(name: str) -> Checkpoint:
    try:
        return Checkpoint.objects.using(READ_PRIMARY).select_for_update().get(name=name)
    except Checkpoint.DoesNotExist:
        raise OperationRefused(f"No projection or subscriber named {name!r}.") from None
