"""Scratch copies of read-model tables, for rebuilding and verifying away from readers.

A scratch model is an unmanaged copy of a read model on another table, with
the same columns and primary key, so a projection writes to it exactly as it
writes to the real one.
"""

import functools

from django.db import connections, models

from core.routers import READ_PRIMARY
from projections.rows import staging_table


@functools.cache
def scratch_model(model: type[models.Model], purpose: str) -> type[models.Model]:
    """Return the copy of `model` that lives on table `<db_table>_<purpose>`."""
    meta = type(
        "Meta",
        (),
        {
            "db_table": f"{model._meta.db_table}_{purpose}",
            "app_label": model._meta.app_label,
            "managed": False,
        },
    )
    fields = {field.name: field.clone() for field in model._meta.local_concrete_fields}
    name = f"{model.__name__}{purpose.title()}"
    return type(name, (models.Model,), {"__module__": __name__, "Meta": meta, **fields})


def recreate_table(model: type[models.Model]) -> None:
    """Create `model`'s table on `read`, empty, dropping a leftover from an interrupted run."""
    drop_table(model)
    connection = connections[READ_PRIMARY]
    # table_sql() rather than create_model(): SQLite's schema editor refuses to
    # run inside a transaction, and a scratch table needs no secondary indexes.
    sql, params = connection.schema_editor().table_sql(model)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def drop_table(model: type[models.Model]) -> None:
    """Drop `model`'s table on `read`, and this connection's staging table for it (projections.rows)."""
    connection = connections[READ_PRIMARY]
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)}")
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(staging_table(table))}")


def replace_rows(target: type[models.Model], source: type[models.Model]) -> None:
    """Make `target` hold exactly `source`'s rows, inside the caller's transaction.

    Readers keep seeing the old rows until the transaction commits (MVCC on
    PostgreSQL, WAL snapshots on SQLite): never an empty or half-filled table.
    """
    connection = connections[READ_PRIMARY]
    if not connection.in_atomic_block:
        raise RuntimeError("replace_rows() must run inside a transaction")
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in target._meta.local_concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {quote(target._meta.db_table)}")
        cursor.execute(
            f"INSERT INTO {quote(target._meta.db_table)} ({columns}) "
            f"SELECT {columns} FROM {quote(source._meta.db_table)}"
        )


def rows_in_key_order(model: type[models.Model]):
    """Yield every row of `model` on `read` as a tuple of its column values, ordered by primary key."""
    names = [field.attname for field in model._meta.local_concrete_fields]
    queryset = model._default_manager.db_manager(READ_PRIMARY).order_by("pk").values_list(*names)
    yield from queryset.iterator(chunk_size=2000)


# --- Blue/green: a shadow table swapped in for the live one --------------------


def create_shadow(model: type[models.Model]) -> type[models.Model]:
    """Create `<db_table>_shadow` on `read`, empty, with the live table's schema; return its model.

    On PostgreSQL the shadow copies the live table's DDL (LIKE ... INCLUDING ALL):
    the columns, defaults, checks, keys and indexes that migrations made,
    RunPython indexes included, so that renaming it over the live table leaves
    the schema migrations expect. Its plain (non-unique) indexes are dropped
    until the bulk of the log is in (index_shadow): one sort per index instead
    of an index update per row written, the way a bulk load is done. SQLite
    keeps a plain scratch table: swap_in() copies it.
    """
    shadow = scratch_model(model, "shadow")
    connection = connections[READ_PRIMARY]
    if connection.vendor != "postgresql":
        recreate_table(shadow)
        return shadow
    drop_table(shadow)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE {quote(shadow._meta.db_table)} (LIKE {quote(model._meta.db_table)} INCLUDING ALL)"
        )
        for definition, name in _index_names_by_definition(shadow._meta.db_table).items():
            if not _is_unique(definition):  # unique ones back constraints, and the upserts need the key
                cursor.execute(f"DROP INDEX {quote(name)}")
    return shadow


def index_shadow(model: type[models.Model], shadow: type[models.Model]) -> None:
    """Build on the shadow the plain indexes create_shadow left out: it then has every index the live table has."""
    connection = connections[READ_PRIMARY]
    if connection.vendor != "postgresql":
        return
    quote = connection.ops.quote_name
    table = shadow._meta.db_table
    have = _index_names_by_definition(table)
    missing = [definition for definition in _index_names_by_definition(model._meta.db_table) if definition not in have]
    with connection.cursor() as cursor:
        for number, definition in enumerate(missing):
            # Named anew: swap_in gives every index the live one's name by what it indexes.
            using = definition.partition(" ")[2]
            cursor.execute(f"CREATE INDEX {quote(f'{table[:50]}_{number}')} ON {quote(table)} USING {using}")


def _is_unique(definition: str) -> bool:
    return definition.startswith("True ")


def swap_in(live: type[models.Model], shadow: type[models.Model]) -> None:
    """Make the shadow table the live one, inside the caller's transaction.

    PostgreSQL: drop the live table, rename the shadow over it and give its
    indexes the live ones' names (which migrations refer to): O(1), whatever
    the size. A reader blocks on the table lock for those few statements, then
    reads the new table. SQLite: copy the rows over (replace_rows). Either way
    readers see the old rows until the commit and all the new ones after.
    """
    connection = connections[READ_PRIMARY]
    if not connection.in_atomic_block:
        raise RuntimeError("swap_in() must run inside a transaction")
    if connection.vendor != "postgresql":
        replace_rows(live, shadow)
        return
    quote = connection.ops.quote_name
    table = live._meta.db_table
    names = _index_names_by_definition(table)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {quote(table)}")
        cursor.execute(f"ALTER TABLE {quote(shadow._meta.db_table)} RENAME TO {quote(table)}")
        for definition, shadow_index in _index_names_by_definition(table).items():
            if definition in names and names[definition] != shadow_index:
                cursor.execute(f"ALTER INDEX {quote(shadow_index)} RENAME TO {quote(names[definition])}")


def _index_names_by_definition(table: str) -> dict[str, str]:
    """`table`'s indexes on PostgreSQL, keyed by what they index (pg_get_indexdef from USING on, plus UNIQUE)."""
    with connections[READ_PRIMARY].cursor() as cursor:
        cursor.execute(
            "SELECT index_class.relname, indisunique, pg_get_indexdef(indexrelid) FROM pg_index "
            "JOIN pg_class index_class ON index_class.oid = indexrelid "
            "WHERE indrelid = %s::regclass ORDER BY index_class.relname",
            [table],
        )
        return {f"{unique} {definition.split(' USING ', 1)[1]}": name for name, unique, definition in cursor.fetchall()}
