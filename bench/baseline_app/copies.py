"""Fill the plain tables of benchmark 9 with the read models' rows: COPY out of the read database, into the write one.

The benchmark's own doing, never the shop's: the plain tables are the baseline's, and replaced whole.
Both sides are then compacted and analyzed, so that they differ in nothing but the views that read
them: a read model the projections have rewritten a million times carries as many dead rows (a
catalog of 2,000 products took 182 MB on a cluster with autovacuum off), a fresh copy none.
"""

from __future__ import annotations

from dataclasses import dataclass

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
READ_MODELS = ("queries_productcatalog", "queries_ordersummary", "queries_customerorderhistory")


@dataclass(frozen=True)
class Table:
    name: str
    rows: int
    size: int  # bytes, with its indexes and TOAST

    def __str__(self) -> str:
        return f"{self.name} {self.rows:,} rows, {self.size / 2**20:,.1f} MB"


def copy_read_models(*, read_url: str, write_url: str) -> list[Table]:
    """Replace every plain table's rows with its read model's; compact both sides; return every table as it is."""
    with psycopg.connect(read_url, autocommit=True) as source, psycopg.connect(write_url, autocommit=True) as target:
        for model, query, renamed in COPIES:
            columns = [field.column for field in model._meta.concrete_fields]
            select = query.format(columns=", ".join(renamed.get(column, column) for column in columns))
            _copy(source, target, select, model._meta.db_table, columns)
        tables = [_compacted(source, table) for table in READ_MODELS]
        return tables + [_compacted(target, model._meta.db_table) for model, _, _ in COPIES]


def _copy(source: psycopg.Connection, target: psycopg.Connection, select: str, table: str, columns: list[str]) -> None:
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    into = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), names)
    with target.transaction():
        target.execute(sql.SQL("TRUNCATE {}").format(sql.Identifier(table)))
        with source.cursor().copy(f"COPY ({select}) TO STDOUT") as rows, target.cursor().copy(into) as writing:
            for block in rows:
                writing.write(block)


def _compacted(connection: psycopg.Connection, table: str) -> Table:
    """VACUUM FULL and ANALYZE `table` (outside any transaction: `connection` is in autocommit); return it."""
    name = sql.Identifier(table)
    connection.execute(sql.SQL("VACUUM (FULL, ANALYZE) {}").format(name))
    rows = connection.execute(sql.SQL("SELECT count(*) FROM {}").format(name)).fetchone()[0]
    return Table(table, rows, connection.execute("SELECT pg_total_relation_size(%s)", [table]).fetchone()[0])
