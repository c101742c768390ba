"""Live read models: which rows each event of the log changes, and each such row right after it.

The live stream (queries.stream) follows the event log, not the read models:
for each event it asks the projections' own handlers which rows the event
touches (`Handler.rows`) and folds the event into those rows in memory
(`Projection.fold`), the way past states (projections.history) do. So a change
sent to a client is exactly the row the read model holds after that event,
computed from the source of truth, and a stream can resume from any position
of the log. Nothing here writes.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

from commands.eventlog import RecordedEvent, head_position, read_events
from commands.models import Customer
from core.routers import WRITE_DATABASE
from projections.base import HandlerFailed
from projections.history import SOURCES, past_states, state_at
from projections.registry import registry

__all__ = ["Change", "LiveRows", "customer_of", "head_position", "read_events", "topic_event_types"]

logger = logging.getLogger(__name__)

# A topic is an aggregate whose read-model row is streamed (projections.history.SOURCES names them).
ROW_TOPICS = ("order", "product")

# Rows kept folded per process; one evicted is folded again from the log when it next changes.
CAPACITY = 10_000


@dataclass(frozen=True)
class Change:
    """Row `key` of `topic`, as it is right after the event at `position`."""

    topic: str
    key: uuid.UUID
    position: int
    row: models.Model


def topic_event_types(topics: Iterable[str]) -> set[str]:
    """The event types that change a row of any of `topics`."""
    return {event_type for topic in topics for event_type in _projection(topic).handlers}


def _projection(topic: str):
    return registry()[SOURCES[topic].projection]


class LiveRows:
    """Rows of the streamed topics kept folded up to the last event given, so each change costs one fold.

    A row is loaded from its past states the first time an event changes it,
    then kept and folded forward. That is only right while every later event
    is given, in order: give `changes` every event after the first, gap-free
    (as `read_events` returns them), or start a new LiveRows.
    """

    def __init__(self, topics: Iterable[str] = ROW_TOPICS, capacity: int = CAPACITY):
        self.topics = tuple(topics)
        self.capacity = capacity
        self._rows: dict[str, OrderedDict] = {topic: OrderedDict() for topic in self.topics}

    def changes(self, events: Iterable[RecordedEvent]) -> list[Change]:
        """The rows `events` change, each right after its event, in log order."""
        changes = []
        for recorded in events:
            for topic in self.topics:
                projection = _projection(topic)
                handler = projection.handlers.get(recorded.type)
                if handler is None:
                    continue
                keys = list(handler.rows(recorded.event, recorded))
                rows = self._rows[topic]
                for key in keys:
                    self._load(topic, key, before=recorded.position)
                try:
                    projection.fold([(recorded, handler)], rows, projection.model)
                except HandlerFailed:
                    # As the projection itself would, this row fails here; the stream goes on with the others.
                    logger.warning("live %s rows %s: no change sent for event #%d", topic, keys, recorded.position)
                    for key in keys:
                        rows.pop(key, None)
                    continue
                # A copy: the next event changes the row in place.
                changes.extend(Change(topic, key, recorded.position, copy.deepcopy(rows[key])) for key in keys)
            self._evict()
        return changes

    def _load(self, topic: str, key, *, before: int) -> None:
        rows = self._rows[topic]
        if key in rows:
            rows.move_to_end(key)
            return
        state = state_at(past_states(topic, key), position=before - 1)
        if state is not None:
            rows[key] = state.row
        # Otherwise the event creates the row: the fold adds it.

    def _evict(self) -> None:
        for rows in self._rows.values():
            while len(rows) > self.capacity:
                rows.popitem(last=False)


def customer_of(user_id) -> uuid.UUID | None:
    """The customer a user is, from the write side: a live stream may be ahead of the read models."""
    return Customer.objects.using(WRITE_DATABASE).filter(user_id=user_id).values_list("id", flat=True).first()
