"""The event log: `append` is the only code that writes it, `read_events` the only way to follow it.

Gap-free reading on PostgreSQL
------------------------------
Positions come from a sequence, which hands out numbers when rows are inserted,
not when transactions commit. Two concurrent appenders could take positions 10
and 11, and 11 could commit first: a reader that saw 11 and moved its
checkpoint past it would never see 10. So appends are serialised with a
transaction-scoped advisory lock taken just before the insert. A transaction
draws its positions only while it holds the lock, and PostgreSQL makes a
commit visible before it releases the transaction's locks, so every position
a reader can see was committed after every lower position was committed or
rolled back. `read_events(after, limit)` is then a plain range scan, and no
later call can return a position at or below one already returned.

The cost: appends of all streams queue on one lock from the insert to the
commit, so handlers append last, just before their transaction commits.
SQLite needs no lock: it allows a single writer at a time.

Why the lock stays (issue 14): a transaction-id column (xid8) read below the
oldest running transaction lets appends run in parallel, but positions must stay
dense (lag counts and rebuild estimates treat position differences as event
counts) and reading backend xids needs privileges; a gap-aware high-water mark
must wait out a rolled-back position with a timeout, so a reader either stalls or
may skip. Neither keeps the log dense and provably gap-free, so appends still
queue, and the append's round trips are what was cut instead.

One statement per append on PostgreSQL: it takes the lock, reads the stream's
version, checks it and inserts the events, and returns their positions; with the
BEGIN and the COMMIT that is the three round trips a bare INSERT transaction
costs. PostgreSQL binds its parameters, so each connection prepares it once
(core.statements) rather than parsing and planning its CTEs at every append.
The positions and the recorded time are drawn from rows that depend on the
lock's row, so they are taken only once the lock is held. The statement's
snapshot is taken before it waits for the lock, so it may miss an event of the
same stream committed meanwhile; it can only read a version too low, never too
high, and the insert then hits the unique (stream_id, version) constraint,
which is turned into the same VersionConflict.
"""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.db import IntegrityError, connections, transaction
from django.db.models import Max
from django.utils import timezone

from commands.errors import VersionConflict
from commands.events import DomainEvent, decode_event
from commands.models import StoredEvent
from commands.signals import events_recorded
from core.routers import WRITE_DATABASE
from core.statements import server_bound_cursor

# Any constant will do; it only has to be the same for every appender.
APPEND_LOCK_KEY = 0x5E0F_0123
_STREAM_VERSION_CONSTRAINT = "one_event_per_stream_version"


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    stream_id: uuid.UUID
    version: int
    type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    schema_version: int = 1

    @cached_property
    def event(self) -> DomainEvent:
        """The typed domain event."""
        return decode_event(self.type, self.data, self.schema_version)


def append(
    stream_id: uuid.UUID,
    events: Sequence[DomainEvent],
    *,
    expected_version: int,
    metadata: dict[str, Any],
    recorded_at: datetime | None = None,
) -> list[RecordedEvent]:
    """Append `events` to a stream that is at `expected_version`, inside the caller's transaction.

    They are recorded at `recorded_at`, or else now: taken while holding the append lock, so that
    live events' times never go backwards along their positions. On PostgreSQL "now" is the
    database's clock, one clock for every web host; on SQLite, Django's. Raises VersionConflict if another
    transaction appended to the stream first. `events_recorded` is sent with the recorded events
    once the transaction commits.
    """
    connection = connections[WRITE_DATABASE]
    if not connection.in_atomic_block:
        raise RuntimeError("append() must run inside the command's transaction")
    insert = _insert_under_lock if connection.vendor == "postgresql" else _insert_through_orm
    try:
        recorded = insert(connection, stream_id, events, expected_version, metadata, recorded_at)
    except IntegrityError as clash:
        if _STREAM_VERSION_CONSTRAINT not in str(clash):  # PostgreSQL names it; SQLite has one writer anyway
            raise
        # Another transaction appended this version while we waited for the lock (see above). The
        # transaction is aborted now, so the stream's version cannot be read: it is at least this.
        raise _conflict(stream_id, expected_version + 1, expected_version) from None
    if recorded is None:
        raise _conflict(stream_id, _stream_version(stream_id), expected_version)
    transaction.on_commit(lambda: events_recorded.send(sender=RecordedEvent, events=recorded), using=WRITE_DATABASE)
    return recorded


def _insert_under_lock(
    connection, stream_id, events, expected_version, metadata, recorded_at
) -> list[RecordedEvent] | None:
    """Lock, check the version and insert in one statement; None if the stream is not at `expected_version`."""
    encoded = [(event.type_name(), event.schema_version, event.to_data()) for event in events]
    parameters = [APPEND_LOCK_KEY, recorded_at, stream_id, stream_id, json.dumps(metadata)]
    for type_name, schema_version, data in encoded:
        parameters += [type_name, schema_version, json.dumps(data)]
    parameters.append(expected_version)
    statement = _append_statement(connection.ops.quote_name(StoredEvent._meta.db_table), len(events))
    with server_bound_cursor(connection) as cursor:  # prepared once per connection and event count
        cursor.execute(statement, parameters)
        rows = sorted(cursor.fetchall(), key=lambda row: row[1])  # by version, the events' order
    if not rows:
        return None
    return [
        RecordedEvent(position, stream_id, version, type_name, data, metadata, at, schema_version)
        for (position, version, at), (type_name, schema_version, data) in zip(rows, encoded, strict=True)
    ]


@functools.cache
def _append_statement(table: str, event_count: int) -> str:
    """The append of `event_count` events to `table` as one statement (see the module's docstring)."""
    new_events = ", ".join(f"({n}, %s, %s::smallint, %s::jsonb)" for n in range(1, event_count + 1))
    # MATERIALIZED: the lock runs once, and before anything that reads its row.
    return (
        "WITH locked AS MATERIALIZED (SELECT pg_advisory_xact_lock(%s)), "
        "stamp AS MATERIALIZED (SELECT coalesce(%s::timestamptz, clock_timestamp()) AS recorded_at FROM locked), "
        f"stream AS (SELECT coalesce(max(version), 0) AS version FROM {table} WHERE stream_id = %s) "
        f"INSERT INTO {table} (stream_id, version, type, schema_version, data, metadata, recorded_at) "
        "SELECT %s::uuid, stream.version + new.n, new.type, new.schema_version, new.data, %s::jsonb, stamp.recorded_at "
        f"FROM stamp, stream, (VALUES {new_events}) AS new (n, type, schema_version, data) "
        "WHERE stream.version = %s ORDER BY new.n "
        "RETURNING position, version, recorded_at"
    )


def _insert_through_orm(
    connection, stream_id, events, expected_version, metadata, recorded_at
) -> list[RecordedEvent] | None:
    """SQLite: one writer at a time, so a version read then an insert is enough."""
    if _stream_version(stream_id) != expected_version:
        return None
    now = recorded_at or timezone.now()
    rows = [
        StoredEvent(
            stream_id=stream_id,
            version=expected_version + offset,
            type=event.type_name(),
            schema_version=event.schema_version,
            data=event.to_data(),
            metadata=metadata,
            recorded_at=now,
        )
        for offset, event in enumerate(events, start=1)
    ]
    StoredEvent.objects.using(WRITE_DATABASE).bulk_create(rows)
    return [_recorded(row) for row in rows]


def _stream_version(stream_id: uuid.UUID) -> int:
    return (
        StoredEvent.objects.using(WRITE_DATABASE)
        .filter(stream_id=stream_id)
        .aggregate(version=Max("version"))["version"]
        or 0
    )


def _conflict(stream_id: uuid.UUID, current: int, expected_version: int) -> VersionConflict:
    return VersionConflict(
        f"Stream {stream_id} is at version {current}, not {expected_version}.",
        extra={"current_version": current},
    )


def read_events(after_position: int, limit: int) -> list[RecordedEvent]:
    """Return up to `limit` committed events after `after_position`, oldest first."""
    # Plain tuples rather than model instances: projectors and rebuilds read every event of
    # the log, and building a StoredEvent for each cost as much as fetching it.
    rows = (
        StoredEvent.objects.using(WRITE_DATABASE)
        .filter(position__gt=after_position)
        .order_by("position")
        .values_list(*_RECORDED_FIELDS)[:limit]
    )
    return [RecordedEvent(*row) for row in rows]


def read_stream(stream_id: uuid.UUID) -> list[RecordedEvent]:
    """Return every event of one aggregate's stream, oldest first."""
    rows = (
        StoredEvent.objects.using(WRITE_DATABASE)
        .filter(stream_id=stream_id)
        .order_by("version")
        .values_list(*_RECORDED_FIELDS)
    )
    return [RecordedEvent(*row) for row in rows]


def read_streams(stream_ids: Iterable[uuid.UUID]) -> list[RecordedEvent]:
    """Return every event of the given streams, oldest (lowest position) first."""
    rows = (
        StoredEvent.objects.using(WRITE_DATABASE)
        .filter(stream_id__in=list(stream_ids))
        .order_by("position")
        .values_list(*_RECORDED_FIELDS)
    )
    return [RecordedEvent(*row) for row in rows]


def head_position() -> int:
    """Return the position of the newest committed event, or 0 for an empty log."""
    return StoredEvent.objects.using(WRITE_DATABASE).aggregate(head=Max("position"))["head"] or 0


@dataclass(frozen=True)
class OpenAppend:
    """A transaction that holds the append lock: its events have positions nobody can read until it ends."""

    pid: int
    seconds: float


def oldest_open_append() -> OpenAppend | None:
    """Return the transaction holding the append lock, with how long it has been open, if one does.

    An append holds the lock for milliseconds; one held for long stalls every
    later command behind it and keeps its events from the projections. On
    SQLite there is no lock: None.
    """
    connection = connections[WRITE_DATABASE]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        # A bigint advisory key shows in pg_locks as its high and low halves, with objsubid 1.
        cursor.execute(
            "SELECT activity.pid, extract(epoch FROM now() - activity.xact_start) FROM pg_locks AS lock "
            "JOIN pg_stat_activity AS activity ON activity.pid = lock.pid "
            "WHERE lock.locktype = 'advisory' AND lock.granted AND lock.database = "
            "(SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND lock.classid = %s AND lock.objid = %s AND lock.objsubid = 1",
            [APPEND_LOCK_KEY >> 32, APPEND_LOCK_KEY & 0xFFFF_FFFF],
        )
        row = cursor.fetchone()
    return OpenAppend(pid=row[0], seconds=float(row[1])) if row else None


# StoredEvent's columns in the order of RecordedEvent's fields.
_RECORDED_FIELDS = ("position", "stream_id", "version", "type", "data", "metadata", "recorded_at", "schema_version")


def _recorded(row: StoredEvent) -> RecordedEvent:
    return RecordedEvent(*(getattr(row, field) for field in _RECORDED_FIELDS))
