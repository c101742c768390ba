"""Live read models: which rows each event of the log changes, and each such row right after it.

The live stream (queries.stream) follows the event log, not the read models:
for each event it asks the projections' own handlers which rows the event
touches (`Handler.rows`) and folds the event into those rows in memory
(`Projection.fold`), the way past states (projections.history) do. So a change
sent to a client is exactly the row the read model holds after that event,
computed from the source of truth, and a stream can resume from any position
of the log. Nothing here writes.

Rows not in memory (a process starting cold, a row evicted, a stream catching
up) are loaded from the read models, not from their whole history: a product's
history is every order that ever had it, and a web process that folded it for
each product re-folded most of the log before it was warm (issue 17). The rows
a batch of events needs are read in one query per topic, each with its
projection's checkpoint C taken by a subquery of the same statement. The runner
moves a projection's rows and its checkpoint in one transaction, and one
statement reads one snapshot (on PostgreSQL as on SQLite), so the rows are
exactly the log folded up to C; no REPEATABLE READ transaction is needed. A
replica serves as well as the primary: an older snapshot only leaves more of
the log to fold. A row its aggregate's first event creates in the batch (a new
order) has nothing to load. For a row the batch first changes at the event at
position E:

- C < E: the read model's row, folded forward through the events of (C, E)
  that change it (a slice of the log, read once for the whole batch);
- C >= E and no event of (E, C] changes the row: the read model's row is the
  row right after E, and is kept as that (E is not folded into it again). This
  is the usual case, not an edge: the hub reads the log when the projections
  announce their commits, so the read models are mostly at or past what it
  reads, and a design that only went forward from C would fall back nearly always;
- otherwise the row is folded from its whole history, one read of the log for
  all such rows of the batch: when the read model holds a later change than E
  (the row after E is gone from it), has no row for the key (a new row has
  little history, and a missing one is not to be trusted), is not live or was
  built by another version of its projection (Checkpoint.state,
  projections.versions), or cannot be read (the read database is away: the
  stream still needs only the log), or when C lies more than LOG_SLICE_EVENTS
  from the batch.
"""

from __future__ import annotations

import copy
import logging
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import DatabaseError, models
from django.db.models import Subquery

from commands.eventlog import RecordedEvent, head_position, read_events
from commands.models import Customer
from core.routers import WRITE_DATABASE, current_read_database
from projections import rows as row_store
from projections.base import HandlerFailed, Projection
from projections.history import SOURCES, fold_into, rows_before
from projections.models import Checkpoint
from projections.registry import partitions_of, replayable_projections

__all__ = ["Change", "LiveRows", "customer_of", "head_position", "read_events", "topic_event_types"]

logger = logging.getLogger(__name__)

# A topic is an aggregate whose read-model row is streamed (projections.history.SOURCES names them).
ROW_TOPICS = ("order", "product")

# Rows kept folded per process; one evicted is loaded again when it next changes.
CAPACITY = 10_000
# The most events read on either side of a batch to bring read-model rows to it: a read model
# further away (a replica far behind, a stream resuming long ago) is passed over for the rows' histories.
LOG_SLICE_EVENTS = 1_000


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


def _projection(topic: str) -> Projection:
    return replayable_projections()[SOURCES[topic].projection]


class LiveRows:
    """Rows of the streamed topics kept folded up to the last event given, so each change costs one fold.

    A row is loaded the first time an event changes it (see the module's
    docstring), then kept and folded forward. That is only right while every
    later event is given, in order: give `changes` every event after the first
    that changes a row of its topics (as `read_events` returns them, less
    others), or start a new LiveRows.
    """

    def __init__(self, topics: Iterable[str] = ROW_TOPICS, capacity: int = CAPACITY):
        self.topics = tuple(topics)
        self.capacity = capacity
        self._rows: dict[str, OrderedDict] = {topic: OrderedDict() for topic in self.topics}
        # Rows loaded already right after the batch's first event that changes them: (topic, key) -> its position.
        self._past: dict[tuple[str, object], int] = {}

    def changes(self, events: Iterable[RecordedEvent]) -> list[Change]:
        """The rows `events` change, each right after its event, in log order."""
        events = list(events)
        self._load(events)
        changes = []
        for index, recorded in enumerate(events):
            for topic in self.topics:
                projection = _projection(topic)
                handler = projection.handlers.get(recorded.type)
                if handler is None:
                    continue
                keys = list(handler.rows(recorded.event, recorded))
                rows = self._rows[topic]
                for key in keys:
                    if key in rows:
                        rows.move_to_end(key)
                past = {key for key in keys if self._past.pop((topic, key), None) == recorded.position}
                try:
                    if past:
                        fold_into(projection, recorded, handler, rows, [key for key in keys if key not in past])
                    else:
                        projection.fold([(recorded, handler)], rows, projection.model)
                except HandlerFailed:
                    # As the projection itself would, this row fails here; the stream goes on with the others.
                    logger.warning("live %s rows %s: no change sent for event #%d", topic, keys, recorded.position)
                    for key in keys:
                        rows.pop(key, None)
                    self._load(events[index + 1 :])  # a later event of the batch finds them loaded afresh
                    continue
                # A copy: the next event changes the row in place.
                changes.extend(Change(topic, key, recorded.position, copy.deepcopy(rows[key])) for key in keys)
        self._past.clear()  # each was its batch's
        self._evict()
        return changes

    def _load(self, events: list[RecordedEvent]) -> None:
        """Load the rows `events` change that are not in memory, as the first of them to change each finds it."""
        firsts: dict[str, dict] = {}  # topic -> key -> the position of the first event that changes the row
        for recorded in events:
            for topic in self.topics:
                handler = _projection(topic).handlers.get(recorded.type)
                if handler is None:
                    continue
                for key in handler.rows(recorded.event, recorded):
                    if key not in self._rows[topic] and key not in firsts.setdefault(topic, {}):
                        firsts[topic][key] = None if _creates(recorded, key) else recorded.position
        firsts = {topic: {key: first for key, first in keys.items() if first} for topic, keys in firsts.items()}
        firsts = {topic: keys for topic, keys in firsts.items() if keys}
        if not firsts:
            return
        for topic, (before, after) in _rows_for(firsts, events).items():
            self._rows[topic].update(before)
            self._rows[topic].update(after)
            self._past.update({(topic, key): firsts[topic][key] for key in after})

    def _evict(self) -> None:
        # After the batch, not during it: the rows loaded for it stay until it is folded.
        for rows in self._rows.values():
            while len(rows) > self.capacity:
                rows.popitem(last=False)


def _creates(recorded: RecordedEvent, key) -> bool:
    """Whether `recorded` creates the aggregate `key`: its row cannot exist before, so there is none to load.

    An aggregate's id is drawn as it is created, and the write side lets no
    event refer to one that does not exist (an order's products, say).
    """
    return recorded.version == 1 and recorded.stream_id == key


def _rows_for(firsts: dict[str, dict], events: list[RecordedEvent]) -> dict[str, tuple[dict, dict]]:
    """By topic, for its keys (key -> position E of the first of `events` to change the row): (before, after).

    `before`: rows as they are just before E (a row that does not exist yet is left out);
    `after`: rows that are already right after E, read from the read model.
    """
    stored = [
        (topic, owned, _read_model_or_none(part, owned))
        for topic, keys in firsts.items()
        for part, owned in _by_partition(topic, keys)
    ]
    log = _Log(events, [read.position for _, _, read in stored if read and read.trusted])
    loaded: dict[str, tuple[dict, dict]] = {topic: ({}, {}) for topic in firsts}
    for topic, keys, read in stored:
        if read and read.trusted and log.covers(read.position):
            before, after, whole = _from_read_model(_projection(topic), keys, read, log)
        else:
            before, after, whole = {}, {}, dict(keys)
        if whole:
            before.update(rows_before(topic, whole))
        loaded[topic][0].update(before)
        loaded[topic][1].update(after)
    return loaded


def _by_partition(topic: str, keys: dict):
    """`keys` split by the partition of the topic's projection that owns them: each is at its own checkpoint."""
    for part in partitions_of(SOURCES[topic].projection):
        owned = {key: first for key, first in keys.items() if part.partition.owns(key)}
        if owned:
            yield part, owned


@dataclass(frozen=True)
class _ReadModel:
    """Rows of a read model, and the checkpoint they are at: read in one statement, so of one snapshot."""

    rows: dict
    position: int
    trusted: bool  # live, and built by this code's version of the handlers: the log folded up to `position`


def _read_model_or_none(projection: Projection, keys: Iterable) -> _ReadModel | None:
    """`_read_model`, or None while the read database cannot answer: the stream goes on from the log alone."""
    try:
        return _read_model(projection, keys)
    except DatabaseError:
        logger.warning("live %s rows: could not be read; folding their histories", projection.name, exc_info=True)
        return None


def _read_model(projection: Projection, keys: Iterable) -> _ReadModel | None:
    """The rows of `keys` (all of one partition) with that partition's checkpoint; None if it has none of them.

    One query, the checkpoint a subquery of it: the runner moves a partition's
    rows and checkpoint in one transaction, and one statement reads one snapshot.
    Any read database will do (a replica's older snapshot leaves more log to fold).
    """
    row_class = projection.row_type(projection.model)
    checkpoint = Checkpoint.objects.filter(name=projection.name)
    fields = ("position", "state", "version")
    records = list(
        projection.model._default_manager.db_manager(current_read_database())
        .filter(pk__in=list(keys))
        .annotate(**{f"checkpoint_{field}": Subquery(checkpoint.values(field)) for field in fields})
        .values_list(*row_class._columns, *(f"checkpoint_{field}" for field in fields))
    )
    if not records:
        return None
    position, state, version = records[0][-3:]
    rows = {row.pk: row for row in (row_store.from_record(row_class, record[:-3]) for record in records)}
    trusted = state == Checkpoint.State.LIVE and version == getattr(projection, "version", 1)
    return _ReadModel(rows, position, trusted)


def _from_read_model(projection: Projection, keys: dict, read: _ReadModel, log: _Log):
    """Rows of `keys` from the read model's: (before, after, whole), as the module's docstring lays out.

    `whole`: the keys (with their first position) to fold from their whole history instead.
    """
    touched = defaultdict(list)  # key -> positions of the events around the batch that change it
    for recorded, handler in projection.relevant(log.events):
        for key in handler.rows(recorded.event, recorded):
            if key in keys:
                touched[key].append(recorded.position)
    before, after, whole = {}, {}, {}
    for key, first in keys.items():
        row = read.rows.get(key)
        if row is None:
            whole[key] = first
        elif read.position < first:
            before[key] = row
        elif not any(first < touch <= read.position for touch in touched[key]):
            after[key] = row
        else:
            whole[key] = first
    try:
        # The rows behind the batch, folded through the events between the checkpoint and their first.
        for recorded, handler in projection.relevant(log.events):
            if recorded.position <= read.position:
                continue
            behind = [
                key for key in handler.rows(recorded.event, recorded) if key in before and recorded.position < keys[key]
            ]
            if behind:
                fold_into(projection, recorded, handler, before, behind)
    except HandlerFailed:
        whole.update({key: keys[key] for key in before})
        before = {}
    return before, after, whole


class _Log:
    """A batch's events, with the log around it that the checkpoints ask for: up to LOG_SLICE_EVENTS either side."""

    def __init__(self, batch: list[RecordedEvent], checkpoints: list[int]):
        first, through = batch[0].position, batch[-1].position
        self.start = max(min([*checkpoints, first - 1]), first - 1 - LOG_SLICE_EVENTS)
        self.end = min(max([*checkpoints, through]), through + LOG_SLICE_EVENTS)
        earlier = _between(self.start, first - 1)
        later = _between(through, self.end)
        self.events = [*earlier, *batch, *later]

    def covers(self, position: int) -> bool:
        return self.start <= position <= self.end


def _between(after: int, through: int) -> list[RecordedEvent]:
    """The events of (after, through] in the log."""
    if through <= after:
        return []
    return [recorded for recorded in read_events(after, through - after) if recorded.position <= through]


def customer_of(user_id) -> uuid.UUID | None:
    """The customer a user is, from the write side: a live stream may be ahead of the read models."""
    return Customer.objects.using(WRITE_DATABASE).filter(user_id=user_id).values_list("id", flat=True).first()
