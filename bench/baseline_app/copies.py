"""Fill the plain tables of benchmark 9 with the read models' rows: COPY out of the read database, into the write one.

The benchmark's own doing, never the shop's: the plain tables are the baseline's, and replaced whole.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from bench.baseline_app.models import PlainOrderSummary, PlainProduct

# (plain table's model, the read-side query its rows come from, read-side names of the plain columns named otherwise)
COPIES = [
    (PlainProduct, "SELECT {columns} FROM queries_productcatalog", {"id": "product_id"}),
    (
        PlainOrderSummary,
        # The owner's user comes from the customer history, as the query API finds a customer's orders.
        "SELECT {columns} FROM queries_ordersummary AS o JOIN queries_customerorderhistory AS c USING (customer_id)",
        {"id": "o.order_id", "user_id": "c.user_id"},
    ),
]


def copy_read_models(*, read_url: str, write_url: str) -> dict[str, int]:
    """Replace every plain table's rows with its read model's; return the rows now in each, by table."""
    copied = {}
    with psycopg.connect(read_url) as source, psycopg.connect(write_url) as target:
        for model, query, renamed in COPIES:
            table = model._meta.db_table
            columns = [field.column for field in model._meta.concrete_fields]
            select = query.format(columns=", ".join(renamed.get(column, column) for column in columns))
            copied[table] = _copy(source, target, select, table, columns)
    return copied


def _copy(source: psycopg.Connection, target: psycopg.Connection, select: str, table: str, columns: list[str]) -> int:
    into = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    target.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
    with source.cursor().copy(f"COPY ({select}) TO STDOUT") as rows, target.cursor().copy(into) as writing:
        for block in rows:
            writing.write(block)
    target.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(table)))
    return target.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
