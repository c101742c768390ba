"""Read-model rows as plain objects: loaded as tuples, changed in memory by the handlers, written per table.

The projections' hot path never builds a model instance. A batch's rows are read
with one SELECT returning tuples, become slotted `Row` objects the handlers
change by attribute, and go back to the database as one upsert per table: on
PostgreSQL a COPY into a temporary table and one INSERT ... ON CONFLICT DO
UPDATE (COPY moves rows at about twice the rate of an executemany, and the
upsert is a single statement whatever the batch); on SQLite one executemany
of an INSERT ... ON CONFLICT DO UPDATE. Nothing here commits: the caller's
transaction (with its checkpoint) decides.
"""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Iterable
from typing import Any

from django.db import connections, models

from core import metrics
from core.routers import READ_PRIMARY
from core.statements import server_bound_cursor


class Row:
    """One read-model row in memory: an attribute per column (attname), nothing else.

    `_meta` is the model's, so code that lists a row's fields (projections.history) reads it as it reads an instance.
    """

    __slots__ = ()
    _meta: Any
    _columns: tuple[str, ...]
    _key: str

    @property
    def pk(self):
        return getattr(self, self._key)

    def __eq__(self, other):
        return type(other) is type(self) and all(getattr(self, c) == getattr(other, c) for c in self._columns)

    def __repr__(self):
        return f"<{type(self).__name__} {self.pk}>"

    def __deepcopy__(self, memo):
        # The values are immutable but for JSON columns: copy those so a later event cannot change a kept copy.
        copy = object.__new__(type(self))
        for column in self._columns:
            value = getattr(self, column)
            object.__setattr__(copy, column, json.loads(json.dumps(value)) if isinstance(value, list | dict) else value)
        return copy


@functools.cache
def row_type(model: type[models.Model], skipped: frozenset[str] = frozenset()) -> type[Row]:
    """The Row class of `model`'s columns, but for the fields named in `skipped` (never read nor written here)."""
    fields = [field for field in model._meta.local_concrete_fields if field.name not in skipped]
    columns = tuple(field.attname for field in fields)
    namespace = {"__slots__": columns, "_meta": model._meta, "_columns": columns, "_key": model._meta.pk.attname}
    return type(f"{model.__name__}Row", (Row,), namespace)


def new_row(row_class: type[Row], key, **values) -> Row:
    """A fresh row for `key`: every column at its field's default, then `values`."""
    row = object.__new__(row_class)
    for field in _fields(row_class):
        setattr(row, field.attname, values[field.attname] if field.attname in values else field.get_default())
    setattr(row, row_class._key, key)
    return row


def load(row_class: type[Row], model: type[models.Model], keys: Iterable) -> dict[Any, Row]:
    """The rows of `model` whose primary key is in `keys`, by key, read as tuples in one query."""
    keys = list(keys)
    if not keys:
        return {}
    columns = row_class._columns
    connection = connections[READ_PRIMARY]
    connection.ensure_connection()
    records = _select_pg(connection, row_class, model, keys) if connection.vendor == "postgresql" else None
    if records is None:
        records = model._default_manager.db_manager(READ_PRIMARY).filter(pk__in=keys).values_list(*columns)
    rows = {}
    for record in records:
        row = from_record(row_class, record)
        rows[getattr(row, row_class._key)] = row
    return rows


def from_record(row_class: type[Row], record: Iterable) -> Row:
    """A row from its columns' values, in the order of `row_class._columns`."""
    row = object.__new__(row_class)
    for column, value in zip(row_class._columns, record, strict=True):
        setattr(row, column, value)
    return row


def _select_pg(connection, row_class: type[Row], model: type[models.Model], keys: list) -> list[tuple]:
    # psycopg's server-side binding sends the keys as one binary array: Django's IN (...) would format
    # a literal per key in Python. Django loads jsonb as text (its JSONField decodes): so do we.
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in _fields(row_class))
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {quote(model._meta.pk.column)} = ANY(%s)"
    with server_bound_cursor(connection) as cursor:
        cursor.execute(sql, [keys])
        records = cursor.fetchall()
    decoders = _json_columns(row_class)
    if decoders:
        records = [_decoded(record, decoders) for record in records]
    return records


def _decoded(record: tuple, decoders: list[tuple[int, Any]]) -> tuple:
    values = list(record)
    for index, decoder in decoders:
        if isinstance(values[index], str):
            values[index] = json.loads(values[index], cls=decoder)
    return tuple(values)


@functools.cache
def _json_columns(row_class: type[Row]) -> list[tuple[int, Any]]:
    return [
        (index, field.decoder) for index, field in enumerate(_fields(row_class)) if isinstance(field, models.JSONField)
    ]


def upsert(row_class: type[Row], model: type[models.Model], rows: Iterable[Row]) -> int:
    """Insert `rows` into `model`'s table, or update the rows with their keys; one statement. Return the count."""
    rows = list(rows)
    if not rows:
        return 0
    connection = connections[READ_PRIMARY]
    connection.ensure_connection()
    if connection.vendor == "postgresql":
        _copy_upsert(connection, row_class, model, rows)
    else:
        _executemany_upsert(connection, row_class, model, rows)
    metrics.ROWS_WRITTEN.labels(model._meta.db_table).inc(len(rows))
    return len(rows)


def _copy_upsert(connection, row_class: type[Row], model: type[models.Model], rows: list[Row]) -> None:
    quote = connection.ops.quote_name
    table = model._meta.db_table
    staging = quote(staging_table(table))
    columns = ", ".join(quote(field.column) for field in _fields(row_class))
    # Lives as long as the connection, emptied at every commit: created once per connection in practice.
    # IF NOT EXISTS rather than remembering it: a rolled-back savepoint drops a table created inside it.
    create = (
        f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS AS "
        f"SELECT {columns} FROM {quote(table)} WITH NO DATA"
    )
    dumpers = _copy_dumpers(row_class)
    with server_bound_cursor(connection) as cursor:  # wraps psycopg's cursor, which has COPY; in Django's transaction
        cursor.execute(create)
        copy_sql = f"COPY {staging} ({columns}) FROM STDIN"
        with cursor.copy(copy_sql) as copy:  # psycopg's own method, which Django's wrapper does not log
            for row in rows:
                copy.write_row([dump(getattr(row, column)) for column, dump in dumpers])
        if connection.queries_logged:
            connection.queries_log.append({"sql": copy_sql, "time": "0.000"})
        cursor.execute(_upsert_sql(connection, row_class, model, f"SELECT {columns} FROM {staging}"))
        # Emptied now, not at the commit: one transaction may write the same table again (a rebuild's last replay).
        cursor.execute(f"TRUNCATE {staging}")


def staging_table(table: str) -> str:
    """The name of `table`'s temporary staging table (PostgreSQL), dropped with the table (projections.tables)."""
    return f"upsert_{table}"


def _executemany_upsert(connection, row_class: type[Row], model: type[models.Model], rows: list[Row]) -> None:
    fields = _fields(row_class)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = _upsert_sql(connection, row_class, model, f"VALUES ({placeholders})")
    params = [[field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _upsert_sql(connection, row_class: type[Row], model: type[models.Model], source: str) -> str:
    quote = connection.ops.quote_name
    fields = _fields(row_class)
    key = quote(model._meta.pk.column)
    columns = ", ".join(quote(field.column) for field in fields)
    updates = ", ".join(f"{quote(f.column)} = excluded.{quote(f.column)}" for f in fields if not f.primary_key)
    # SQLite needs the WHERE true to tell the upsert's ON from a join's in INSERT ... SELECT; harmless elsewhere.
    where = " WHERE true" if source.startswith("SELECT") else ""
    return (
        f"INSERT INTO {quote(model._meta.db_table)} ({columns}) {source}{where} "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


@functools.cache
def _fields(row_class: type[Row]) -> list[models.Field]:
    by_attname = {field.attname: field for field in row_class._meta.local_concrete_fields}
    return [by_attname[column] for column in row_class._columns]


@functools.cache
def _copy_dumpers(row_class: type[Row]) -> list[tuple[str, Any]]:
    """Per column, how its Python value goes into COPY's text: as is, but JSON as JSON text, choices as their value."""
    dumpers = []
    for field in _fields(row_class):
        if isinstance(field, models.JSONField):
            dumper = functools.partial(_json_text, encoder=field.encoder)
        elif field.choices:
            dumper = _plain_value
        else:
            dumper = _as_is
        dumpers.append((field.attname, dumper))
    return dumpers


def _as_is(value):
    return value


def _plain_value(value):
    return value.value if isinstance(value, enum.Enum) else value


def _json_text(value, *, encoder):
    return None if value is None else json.dumps(value, cls=encoder)
