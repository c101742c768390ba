"""Scratch copies of read-model tables, for rebuilding and verifying away from readers.

A scratch model is an unmanaged copy of a read model on another table, with
the same columns and primary key, so a projection writes to it exactly as it
writes to the real one.
"""

import functools

from django.db import connections, models

from core.routers import READ_PRIMARY


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
    connection = connections[READ_PRIMARY]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(model._meta.db_table)}")


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
