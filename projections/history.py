"""Past states: a read-model row as it was after each event that changed it, computed from the event log.

Nothing here is stored and nothing here writes. An aggregate's events are read
from the log (upcast, as everywhere) and folded through the projection's own
handlers (Projection.fold) into rows kept in memory, so a past state is exactly
what the read model held after that event, with no second implementation to
drift from the first.

A row can be changed by other streams' events: a product's stock moves with the
orders for it, a customer's totals with their orders. So the events folded are
those of every stream that may touch the row, filtered through the handlers'
own `rows` to the events that do.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models

from commands.eventlog import head_position, read_streams
from commands.models import Customer, Order, OrderLine, Product
from projections.base import Projection
from projections.registry import replayable_projections
from projections.rows import Row

__all__ = [
    "PastState",
    "StateAfterEvent",
    "fold_into",
    "head_position",
    "past_states",
    "rows_before",
    "state_at",
    "states_by_position",
]


@dataclass(frozen=True)
class PastState:
    """The row after the event at `position` (of type `event_type`) was applied; never saved."""

    position: int
    recorded_at: datetime
    event_type: str
    stream_id: uuid.UUID
    row: Row  # a plain row (projections.rows), with its model's _meta


def _order_streams(order_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return list(order_ids)


def _product_streams(product_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    orders = OrderLine.objects.filter(product_id__in=product_ids).values_list("order_id", flat=True)
    return [*product_ids, *set(orders)]


def _customer_streams(customer_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    return [*customer_ids, *Order.objects.filter(customer_id__in=customer_ids).values_list("id", flat=True)]


@dataclass(frozen=True)
class Source:
    """Where an aggregate's read-model rows come from: their projection, and the streams that may change them."""

    aggregate: type[models.Model]
    projection: str
    streams: Callable[[list[uuid.UUID]], list[uuid.UUID]]  # every stream that may change any of the rows given


SOURCES = {
    "order": Source(Order, "order_summary", _order_streams),
    "product": Source(Product, "product_catalog", _product_streams),
    "customer": Source(Customer, "customer_history", _customer_streams),
}


def past_states(aggregate: str, key: uuid.UUID) -> list[PastState]:
    """Every state of the read-model row of `aggregate` ("order", "product", ...) `key`, oldest first."""
    source = SOURCES[aggregate]
    return fold_states(replayable_projections()[source.projection], key, read_streams(source.streams([key])))


def rows_before(aggregate: str, positions: dict) -> dict:
    """Rows of `aggregate`, by key, each as it was just before the position given for it, from its whole history.

    One read of the log for all of them. A key whose row did not exist yet is left out.
    """
    source = SOURCES[aggregate]
    projection = replayable_projections()[source.projection]
    rows: dict = {}
    for recorded, handler in projection.relevant(read_streams(source.streams(list(positions)))):
        keys = [key for key in handler.rows(recorded.event, recorded) if recorded.position < positions.get(key, 0)]
        if keys:
            fold_into(projection, recorded, handler, rows, keys)
    return rows


def fold_into(projection: Projection, recorded, handler, rows: dict, keys) -> None:
    """Fold one event into the rows of `keys` only (adding those it creates); its other rows are left alone.

    As past states fold one row at a time: the event's other rows are folded
    into fresh rows that are thrown away.
    """
    scratch = {key: rows[key] for key in keys if key in rows}
    projection.fold([(recorded, handler)], scratch, projection.model)
    for key in keys:
        rows[key] = scratch[key]


def fold_states(projection: Projection, key, events) -> list[PastState]:
    """Fold `events` (oldest first) through `projection`'s handlers; return row `key` after each that touched it."""
    rows: dict = {}
    states = []
    for recorded, handler in projection.relevant(events):
        if key not in handler.rows(recorded.event, recorded):
            continue
        projection.fold([(recorded, handler)], rows, projection.model)
        # A copy: the next event changes the row in place.
        row = copy.deepcopy(rows[key])
        states.append(PastState(recorded.position, recorded.recorded_at, recorded.type, recorded.stream_id, row))
    return states


def state_at(states: list[PastState], *, position: int | None = None, moment: datetime | None = None):
    """The last of `states` at or before `position` (or recorded at or before `moment`); None before the first."""
    reached = [
        state
        for state in states
        if (position is None or state.position <= position) and (moment is None or state.recorded_at <= moment)
    ]
    return reached[-1] if reached else None


# --- What changed, for the admin --------------------------------------------------


@dataclass(frozen=True)
class StateAfterEvent:
    """The row after an event, as field -> value, and the fields the event changed: (name, before, after)."""

    state: dict[str, Any]
    changes: list[tuple[str, Any, Any]]


def row_values(row: Row) -> dict[str, Any]:
    """The row's stored fields, by name (the full-text search vector is not one to show)."""
    return {
        field.name: getattr(row, field.attname)
        for field in row._meta.concrete_fields
        if not field.primary_key and field.name != "search_vector"
    }


def states_by_position(stream_id: uuid.UUID) -> dict[int, StateAfterEvent]:
    """For an aggregate's stream: by event position, its read-model row after the event and what changed.

    Events of other streams that changed the row (orders moving a product's stock)
    count as changes between the stream's own events, so each event's changes are its own.
    An unknown stream gives an empty mapping.
    """
    aggregate = next(
        (name for name, source in SOURCES.items() if source.aggregate.objects.filter(pk=stream_id).exists()), None
    )
    if aggregate is None:
        return {}
    shown: dict[int, StateAfterEvent] = {}
    before: dict[str, Any] = {}
    for past in past_states(aggregate, stream_id):
        after = row_values(past.row)
        changes = [(name, before.get(name), value) for name, value in after.items() if before.get(name) != value]
        shown[past.position] = StateAfterEvent(after, changes)
        before = after
    return shown
