"""Past states in the query API: `?as_of=` on a detail, and an aggregate's history.

The states come from projections.history (the aggregate's events folded through
the projection's own handlers); here they are only asked for, checked and
serialized with the detail's own serializer. Who may see a past state is who
may see the row today: the detail's `get_object()` decides, so a row you may
not see is a 404 at every point of its past too.

These are the only query responses whose data comes from the event log (on the
write database) rather than a read model: the past is not kept in read models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from projections.history import PastState, head_position, past_states, state_at
from queries.consistency import MAX_POSITION

AS_OF_PARAMETER = "as_of"
AS_OF_HELP = (
    "Show the row as it was after the event at this position, or as it was at this ISO-8601 date and time "
    "(UTC unless it carries an offset), computed from the event log. 400 if malformed or past the head of "
    "the log; 404 if the row did not exist yet."
)


@dataclass(frozen=True)
class AsOf:
    """A point in the log's past: an event position, or a moment."""

    position: int | None = None
    moment: datetime | None = None

    def pick(self, states: list[PastState]) -> PastState | None:
        return state_at(states, position=self.position, moment=self.moment)

    def __str__(self) -> str:
        return f"event #{self.position}" if self.position is not None else self.moment.isoformat()


def requested_as_of(request) -> AsOf | None:
    """Return the `as_of` the client asked for, if any; anything malformed, or past the head, is a 400."""
    value = request.query_params.get(AS_OF_PARAMETER)
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdecimal():
        return _position(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            {AS_OF_PARAMETER: ["Must be an event position (a non-negative integer) or an ISO-8601 date and time."]}
        ) from None
    return AsOf(moment=moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _position(value: str) -> AsOf:
    # The length check keeps int() away from strings too long to convert.
    position = int(value) if len(value) <= len(str(MAX_POSITION)) else MAX_POSITION + 1
    head = head_position()
    if position > head:
        raise ValidationError({AS_OF_PARAMETER: [f"Position {value} is past the head of the event log ({head})."]})
    return AsOf(position=position)


class PastStatesMixin:
    """For a detail viewset over one aggregate's read model: `?as_of=` on retrieve, and `history()`.

    `aggregate` names the aggregate whose id keys the read model ("order", "product": projections.history.SOURCES);
    `history_serializer_class` serializes a PastState, with the detail's serializer for its state.
    """

    aggregate = None
    history_serializer_class = None

    def retrieve(self, request, *args, **kwargs):
        as_of = requested_as_of(request)
        if as_of is None:
            return super().retrieve(request, *args, **kwargs)
        states = self.past_states()
        state = as_of.pick(states)
        if state is None:
            raise NotFound(f"It did not exist yet at {as_of}.")
        return Response(self.get_serializer(state.row).data)

    def past_states(self) -> list[PastState]:
        """Every state of the requested row, oldest first (404 where the detail would be one)."""
        row = self.get_object()
        return past_states(self.aggregate, row.pk)

    def history_response(self) -> Response:
        """Every state of the requested row, oldest first, each with the event that led to it."""
        serializer = self.history_serializer_class(self.past_states(), many=True, context=self.get_serializer_context())
        return Response(serializer.data)
