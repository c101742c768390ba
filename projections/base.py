"""What a projection and a subscriber are: the abstract followers of the event log.

A projection owns one read model. Each handler names its event type and the
rows (primary keys) the event touches; the runner loads those rows for a whole
batch in one query, as plain rows (projections.rows), lets the handlers change
them in memory, event by event, and writes them back with one upsert per table.
Handlers never query or save.

Subscribers (e-mail, cache) follow the same log with their own checkpoints
but cause side effects instead of building read models, so rebuilds never
replay them. Process managers are subscribers whose side effect is a command
(projections.process_managers). The concrete followers are listed in projections.registry.
"""

from __future__ import annotations

import copy
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import models

from commands.eventlog import RecordedEvent
from commands.events import DomainEvent
from projections import rows as row_store


class HandlerFailed(Exception):
    """A handler raised on the event at `position`."""

    def __init__(self, position: int, event_type: str):
        super().__init__(f"handler for {event_type} failed on event #{position}")
        self.position = position


@dataclass(frozen=True)
class Handler:
    event_type: type[DomainEvent]
    rows: Callable[[Any, RecordedEvent], Iterable[Any]]
    apply: Callable


def handles(event_type: type[DomainEvent], *, rows: Callable[[Any, RecordedEvent], Iterable[Any]]):
    """Mark a method as the handler of `event_type`; `rows(event, recorded)` gives the keys it touches."""

    def mark(method):
        method.handles = (event_type, rows)
        return method

    return mark


@dataclass(frozen=True)
class Partition:
    """Part `index` (1..count) of a projection's read model: the rows whose key hashes to it.

    CRC-32 of the key's text, not hash(): every process on every machine must
    agree on who owns a row, and Python salts hash() per process.
    """

    index: int = 1
    count: int = 1

    def owns(self, key) -> bool:
        return self.count == 1 or zlib.crc32(str(key).encode()) % self.count == self.index - 1

    def checkpoint_name(self, projection_name: str) -> str:
        """The checkpoint (and follower) name of this partition: the projection's own name when it is whole."""
        return projection_name if self.count == 1 else f"{projection_name}.{self.index}of{self.count}"


WHOLE = Partition()


class Projection:
    # The projection's name (the class's); a partition's instance shadows it with its checkpoint's name.
    name: str
    model: ClassVar[type[models.Model]]
    cache_family: ClassVar[str]  # the cached query responses (queries.caching) built from `model`
    queue: ClassVar[str] = "projections"
    kind: ClassVar[str] = "projection"
    replayable: ClassVar[bool] = True  # rebuilt from the log; subscribers are not
    # Raise it whenever the handlers or the read model change what a replay of the log gives:
    # the deployed code then rebuilds the read model blue/green by itself (projections.versions).
    version: ClassVar[int] = 1
    # Columns the handlers never see and the upsert never writes (kept up by the projection itself).
    unprojected_fields: ClassVar[frozenset[str]] = frozenset()
    handlers: ClassVar[dict[str, Handler]]
    partition: Partition = WHOLE

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.handlers = {}
        for attribute in vars(cls).values():
            if hasattr(attribute, "handles"):
                event_type, rows = attribute.handles
                cls.handlers[event_type.type_name()] = Handler(event_type, rows, attribute)

    @property
    def event_types(self) -> list[str]:
        return sorted(self.handlers)

    @property
    def projection_name(self) -> str:
        """The whole projection's name, shared by its partitions (rebuilds, verification and versions use it)."""
        return type(self).name

    def partitioned(self, partition: Partition) -> Projection:
        """This projection restricted to `partition`'s rows, following the log under the partition's own checkpoint."""
        if partition == WHOLE:
            return self
        part = copy.copy(self)
        part.partition, part.name = partition, partition.checkpoint_name(self.projection_name)
        return part

    def row_type(self, model: type[models.Model]) -> type[row_store.Row]:
        """The plain-row class the handlers get for `model` (the read model or a scratch copy)."""
        return row_store.row_type(model, self.unprojected_fields)

    def new_row(self, model: type[models.Model], key) -> row_store.Row:
        """Return a fresh row for `key`, every column at its default; handlers fill in the rest."""
        return row_store.new_row(self.row_type(model), key)

    def handle(self, batch: list[RecordedEvent]) -> None:
        """Apply `batch` to the read model, inside the caller's transaction on `read`."""
        self.apply(batch, self.model)

    def after_commit(self, handled: None) -> None:
        """Projections have no side effects."""

    def apply(self, batch: list[RecordedEvent], model: type[models.Model]) -> None:
        """Apply `batch`, oldest first, to the rows of `model` (the read model or a scratch copy) this partition owns.

        An event that also touches rows of other partitions (an order's products) is
        folded into fresh rows for those keys, which are thrown away: their own
        partitions apply the event to them.
        """
        relevant = self.relevant(batch)
        if not relevant:
            return
        owns = self.partition.owns
        keys = {key for recorded, handler in relevant for key in handler.rows(recorded.event, recorded) if owns(key)}
        rows = row_store.load(self.row_type(model), model, keys)
        self.fold(relevant, rows, model)
        self.write(model, [row for key, row in rows.items() if owns(key)])

    def relevant(self, batch: list[RecordedEvent]) -> list[tuple[RecordedEvent, Handler]]:
        """The events of `batch` this projection handles and that touch a row it owns, each with its handler."""
        relevant = [(recorded, self.handlers[recorded.type]) for recorded in batch if recorded.type in self.handlers]
        if self.partition == WHOLE:
            return relevant
        owns = self.partition.owns
        return [
            (recorded, handler)
            for recorded, handler in relevant
            if any(owns(key) for key in handler.rows(recorded.event, recorded))
        ]

    def fold(self, relevant: list[tuple[RecordedEvent, Handler]], rows: dict, model: type[models.Model]) -> None:
        """Apply the events to `rows` (key -> row of `model`) in memory, adding a new row for each key it lacks.

        The seam between the handlers and the database: `apply` loads the rows before
        and writes them after, and past states (projections.history) fold an
        aggregate's events into rows that are never saved, through the same handlers.
        """
        for recorded, handler in relevant:
            for key in handler.rows(recorded.event, recorded):
                if key not in rows:
                    rows[key] = self.new_row(model, key)
            try:
                handler.apply(self, rows, recorded.event, recorded)
            except Exception as error:
                raise HandlerFailed(recorded.position, recorded.type) from error

    def write(self, model: type[models.Model], rows: list[row_store.Row]) -> None:
        """Upsert `rows` in one statement."""
        row_store.upsert(self.row_type(model), model, rows)


class Subscriber:
    """Follows the log for side effects.

    `handle(batch)` runs in the checkpoint's transaction and returns what it
    owes; `after_commit(handled)` carries that out once the transaction has
    committed. Instances are shared, so neither keeps state on `self`.
    """

    name: ClassVar[str]
    queue: ClassVar[str]
    kind: ClassVar[str] = "subscriber"
    replayable: ClassVar[bool] = False
    event_types: ClassVar[list[str]]

    def handle(self, batch: list[RecordedEvent]) -> Any:
        """Record what the batch owes, on `read`, inside the caller's transaction."""
        raise TypeError(f"{type(self).__name__} must define handle()")

    def after_commit(self, handled: Any) -> None:
        """Carry out what `handle` recorded, now that it is committed."""


class ProcessManager(Subscriber):
    """Follows the log and reacts by issuing commands (or alerts): never replayed, like any subscriber.

    Its own state (deadlines, stock levels) lives on `read` and changes in its
    checkpoint's transaction; the commands it issues go to `default` through
    projections.process_managers.issuing, which makes each one happen at most once.
    """

    kind = "process_manager"
