"""Where each projection, subscriber and process manager stands: position, lag, state, last error.

Shared by `manage.py projection_status`, the query API and the dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from commands.eventlog import head_position
from commands.models import StoredEvent
from core.routers import READ_PRIMARY, WRITE_DATABASE
from projections.models import Checkpoint
from projections.registry import registry


@dataclass(frozen=True)
class FollowerStatus:
    name: str
    kind: str  # "projection", "subscriber" or "process_manager"
    queue: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float  # age of the oldest event not yet applied; 0 when caught up
    state: str
    failed_position: int | None
    error: str
    updated_at: datetime | None
    version: int = 1  # the Projection.version that built the live rows
    code_version: int = 1  # the version this code deploys; they differ until its blue/green rebuild swaps in
    projection: str = ""  # the projection a partition builds (its own name unless it is split); "" for subscribers
    partition: int = 1  # which of the projection's `partitions` this is
    partitions: int = 1

    @property
    def upgrading(self) -> bool:
        return self.version != self.code_version

    @property
    def last_error(self) -> str:
        """The error's last line (the exception itself), for one-line displays."""
        return self.error.strip().splitlines()[-1] if self.error.strip() else ""


def follower_statuses(database: str = READ_PRIMARY) -> list[FollowerStatus]:
    """Return the status of every follower, reading checkpoints from `database` (a replica, say).

    It only reads: a follower whose checkpoint does not exist yet shows at position 0.
    """
    checkpoints = Checkpoint.objects.using(database).in_bulk(list(registry()))
    head = head_position()
    return [_status(follower, checkpoints.get(name), head) for name, follower in registry().items()]


def _status(follower, checkpoint: Checkpoint | None, head: int) -> FollowerStatus:
    position = checkpoint.position if checkpoint else 0
    pending = StoredEvent.objects.using(WRITE_DATABASE).filter(position__gt=position)
    oldest = pending.order_by("position").values_list("recorded_at", flat=True).first()
    return FollowerStatus(
        name=follower.name,
        kind=follower.kind,
        queue=follower.queue,
        position=position,
        head=head,
        lag_events=pending.count() if oldest else 0,
        lag_seconds=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        state=checkpoint.state if checkpoint else Checkpoint.State.LIVE,
        failed_position=checkpoint.failed_position if checkpoint else None,
        error=checkpoint.error if checkpoint else "",
        updated_at=checkpoint.updated_at if checkpoint else None,
        version=checkpoint.version if checkpoint else getattr(follower, "version", 1),
        code_version=getattr(follower, "version", 1),
        projection=follower.projection_name if follower.replayable else "",
        partition=follower.partition.index if follower.replayable else 1,
        partitions=follower.partition.count if follower.replayable else 1,
    )
