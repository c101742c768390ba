"""Read positions: how far the data behind a query response reaches, and waiting for a minimum.

A projection advances its checkpoint in the same transaction as its read-model
rows, and a replica replays the primary's transactions in order. So reading
the checkpoint first, then the data, from the same database, gives data that
includes every event up to that position: the position is a truthful lower
bound. Reading them in the other order, or from two replicas, could claim
events the data does not yet show. Nothing here writes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from django.conf import settings
from django.db import DatabaseError
from rest_framework import exceptions, status
from rest_framework.exceptions import APIException, ValidationError

from core.routers import current_read_database
from projections.models import Checkpoint
from projections.registry import checkpoint_names

MIN_POSITION_HEADER = "X-Min-Position"
MIN_POSITION_PARAMETER = "min_position"
READ_POSITION_HEADER = "X-Read-Position"

# Positions are PostgreSQL bigints; anything larger cannot be a position.
MAX_POSITION = 2**63 - 1
# What a 503 projection_behind tells the client to wait before retrying.
RETRY_AFTER_SECONDS = 1
# Refusals that come before the data is read (DRF checks them first): they carry the read position too.
REFUSALS = (
    exceptions.NotAuthenticated,
    exceptions.AuthenticationFailed,
    exceptions.PermissionDenied,
    exceptions.Throttled,
)


class ProjectionBehind(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "projection_behind"

    def __init__(self, *, position: int, minimum: int, retry_after: int):
        super().__init__(f"The data is at position {position}, not yet at the requested {minimum}; retry shortly.")
        self.position = position
        # DRF's exception handler turns `wait` into the Retry-After header.
        self.wait = retry_after


def requested_min_position(request) -> int | None:
    """Return the position the client asked to read at least (X-Min-Position or ?min_position=), if any.

    Both may be given; the larger wins. Anything but a non-negative integer is a 400.
    """
    candidates = {
        MIN_POSITION_HEADER: request.headers.get(MIN_POSITION_HEADER),
        MIN_POSITION_PARAMETER: request.GET.get(MIN_POSITION_PARAMETER),
    }
    positions = [_parse_position(name, value) for name, value in candidates.items() if value is not None]
    return max(positions, default=None)


def _parse_position(name: str, value: str) -> int:
    value = value.strip()
    # isdecimal() alone would accept other scripts' digits; the length check keeps
    # int() away from strings too long to convert.
    digits = value.isascii() and value.isdecimal() and len(value) <= len(str(MAX_POSITION))
    if not digits or int(value) > MAX_POSITION:
        raise ValidationError({name: ["Must be an event position: a non-negative integer."]})
    return int(value)


def read_position(projections: Iterable[str], *, using: str) -> int:
    """Return the lowest checkpoint position among `projections` (all their partitions), read from database `using`."""
    names = checkpoint_names(projections)
    positions = dict(Checkpoint.objects.using(using).filter(name__in=names).values_list("name", "position"))
    # A projection without a checkpoint row has applied nothing yet.
    return min((positions.get(name, 0) for name in names), default=0)


# (database alias, projections) -> (position, time.monotonic() before it was read), in this process.
_recent_positions: dict[tuple[str, tuple[str, ...]], tuple[int, float]] = {}


def recent_read_position(projections: Iterable[str], *, using: str, at_least: int | None = None) -> int:
    """The read position of `projections` on `using`, as this process read it at most READ_POSITION_REUSE_SECONDS ago.

    Still a truthful lower bound: a checkpoint only moves forward on its
    database (a rebuild swaps in tables at least as far), so data read now
    from `using` holds every event up to a position read from it before. It
    saves each read a statement; the cost is a position up to that much older
    than the data. One below `at_least` (the client's X-Min-Position) is read again.
    (A read database replaced by an empty one, in a recovery, is the exception for as long.)
    """
    key = (using, tuple(projections))
    now = time.monotonic()
    recent = _recent_positions.get(key)
    fresh_enough = recent is not None and now - recent[1] < settings.READ_POSITION_REUSE_SECONDS
    if fresh_enough and (at_least is None or recent[0] >= at_least):
        return recent[0]
    position = read_position(key[1], using=using)
    _recent_positions[key] = (position, now)
    return position


def checked_position(projections: Iterable[str], minimum: int | None, *, using: str) -> int:
    """Return the read position of `projections` on `using`; raise ProjectionBehind if it is below `minimum`.

    The waiting happened before the view ran (queries.waiting, in the event
    loop): this is the final word, with no thread held on a wait.
    """
    position = recent_read_position(projections, using=using, at_least=minimum)
    if minimum is not None and position < minimum:
        raise ProjectionBehind(position=position, minimum=minimum, retry_after=RETRY_AFTER_SECONDS)
    return position


class ConsistentReadMixin:
    """Answer every request at a read position, after waiting for the client's minimum, if it sent one.

    The view names the projections behind its data; everything it reads comes
    from `self.read_database`, the replica this request is pinned to.
    """

    projections: tuple[str, ...] = ()
    read_position: int | None = None

    def projections_behind(self) -> tuple[str, ...]:
        """The projections whose checkpoints the response's data depends on."""
        return self.projections

    @classmethod
    def projections_awaited(cls, url_kwargs: dict) -> tuple[str, ...]:
        """What an X-Min-Position waits for before the view runs: every projection it may depend on."""
        return cls.projections

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication, permissions, throttles first
        self.read_database = current_read_database()
        minimum = requested_min_position(request)
        self.read_position = checked_position(self.projections_behind(), minimum, using=self.read_database)

    def handle_exception(self, exc):
        if isinstance(exc, ProjectionBehind):
            self.read_position = exc.position
        elif isinstance(exc, REFUSALS) and self.read_position is None:
            self.read_position = self._position_despite_refusal()
        return super().handle_exception(exc)

    def _position_despite_refusal(self) -> int | None:
        """The read position a refused request would have read at, without waiting for the client's minimum.

        A refusal stays a refusal: where the position cannot be read (a read
        database down, a detail URL naming no projection), it goes without one.
        """
        try:
            return read_position(self.projections_behind(), using=current_read_database())
        except (DatabaseError, exceptions.NotFound):
            return None

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.read_position is not None:
            response[READ_POSITION_HEADER] = str(self.read_position)
        return response
