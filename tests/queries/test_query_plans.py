"""The main filters and orderings use indexes: EXPLAIN the SQL the API runs over a million rows.

The rows are made in SQL (INSERT ... SELECT generate_series) inside the test's
transaction on `read` and rolled back afterwards; the requests are pinned to
`read` (a replica's connection could not see uncommitted rows), which runs
the same SQL a replica would.
"""

import re
from importlib import import_module

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core.routers import READ_PRIMARY
from queries.models import OrderSummary, ProductCatalog
from tests.queries.helpers import customer_rows

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases=["default", READ_PRIMARY])]

ROWS = 1_000_000

FILL_CATALOG = """
INSERT INTO queries_productcatalog (product_id, sku, name, description, category, price, stock_available,
                                    units_sold, status, updated_at, search_vector)
SELECT lpad(to_hex(i), 32, '0')::uuid, 'BIG-' || lpad(i::text, 7, '0'), 'Product ' || i, '', 'category-' || (i %% 500),
       ((i * 7919) %% 100000) / 100.0 + 0.01, i %% 50, (i * 31) %% 1000,
       CASE WHEN i %% 20 = 0 THEN 'discontinued' ELSE 'active' END,
       TIMESTAMPTZ '2030-01-01' - i * INTERVAL '1 second',
       -- One cheap lexeme per product, shared by 200 products: full-text parsing of a
       -- million names would take most of the test's time and change no plan.
       ('word' || (i %% 5000) || ':1A')::tsvector
FROM generate_series(1::bigint, %s) AS i
"""

FILL_ORDERS = """
INSERT INTO queries_ordersummary (order_id, customer_id, customer_name, customer_email, status, item_count,
                                  total, currency, lines, placed_at)
SELECT lpad(to_hex(i), 32, '0')::uuid, md5('customer' || (i %% 20000))::uuid, 'A customer', 'customer@example.com',
       (ARRAY['placed', 'paid', 'shipped', 'cancelled'])[i %% 4 + 1], 1 + i %% 5,
       ((i * 7919) %% 100000) / 100.0, 'EUR', '[]'::jsonb, TIMESTAMPTZ '2030-01-01' - i * INTERVAL '1 minute'
FROM generate_series(1::bigint, %s) AS i
"""


def fill(model, sql: str, *, extra_indexes=None) -> None:
    """Run `sql` with the model's secondary indexes dropped, then build them again.

    Building an index over a million rows once is many times faster than
    updating it a million times; the definitions are the migrations' own. The
    primary and unique keys stay, so `sql` makes them in ascending order, which
    appends to their indexes instead of splitting pages all over them.
    """
    connection = connections[READ_PRIMARY]
    with connection.schema_editor() as editor:
        for index in model._meta.indexes:
            editor.remove_index(model, index)
        if extra_indexes:
            extra_indexes.drop_index(None, editor)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        cursor.execute(sql, [ROWS])
    with connection.schema_editor() as editor:
        for index in model._meta.indexes:
            editor.add_index(model, index)
        if extra_indexes:
            extra_indexes.create_index(None, editor)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {model._meta.db_table}")


@pytest.fixture
def million_rows(monkeypatch):
    monkeypatch.setattr("core.routers.replica_aliases", lambda: [])  # read from `read`, see above
    fill(ProductCatalog, FILL_CATALOG, extra_indexes=import_module("queries.migrations.0002_catalog_search_index"))
    fill(OrderSummary, FILL_ORDERS)


@pytest.fixture
def a_customer_with_orders(plain_user):
    """The customer behind 1 in 20,000 of the orders, signed in as `plain_user`."""
    with connections[READ_PRIMARY].cursor() as cursor:
        cursor.execute("SELECT md5('customer42')::uuid")
        (customer_id,) = cursor.fetchone()
    customer_rows(1, customer_id=customer_id, user_id=plain_user.pk)


def plans_of(client, url: str, table: str) -> list[str]:
    """EXPLAIN every statement that `GET url` runs against `table`."""
    with CaptureQueriesContext(connections[READ_PRIMARY]) as captured:
        response = client.get(url)
    assert response.status_code == 200, response.content
    statements = [query["sql"] for query in captured if re.search(rf'FROM "{table}"', query["sql"])]
    assert statements, f"{url} ran no query on {table}"
    plans = []
    with connections[READ_PRIMARY].cursor() as cursor:
        for sql in statements:
            cursor.execute(f"EXPLAIN {sql}")
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


def assert_uses_an_index(plans: list[str], table: str, index: str) -> None:
    for plan in plans:
        print(plan, end="\n\n")  # shown with -s: the plans are the point of this test
        assert f"Seq Scan on {table}" not in plan, plan
        assert re.search(r"(Index|Index Only|Bitmap Index) Scan", plan), plan
    assert any(index in plan for plan in plans), f"none of the plans uses {index}"


def test_the_indexes_serve_the_main_queries(
    million_rows, a_customer_with_orders, anonymous_client, plain_user_client, staff_client
):
    catalog, orders = "queries_productcatalog", "queries_ordersummary"

    # A customer's orders, newest first.
    assert_uses_an_index(plans_of(plain_user_client, "/api/queries/orders/", orders), orders, "order_by_customer")
    # Products of one category in a price range (the page and its count).
    url = "/api/queries/products/?category=category-7&min_price=10&max_price=200"
    assert_uses_an_index(plans_of(anonymous_client, url, catalog), catalog, "catalog_category_price")
    # Full-text search.
    url = "/api/queries/products/?search=word123"
    assert_uses_an_index(plans_of(anonymous_client, url, catalog), catalog, "catalog_search")
    # Orders in one status, newest first.
    url = "/api/queries/orders/?status=paid"
    assert_uses_an_index(plans_of(staff_client, url, orders), orders, "order_by")
    # The biggest orders, and the catalog's best sellers.
    assert_uses_an_index(
        plans_of(staff_client, "/api/queries/orders/?ordering=-total", orders), orders, "order_by_total"
    )
    # (Counting a whole unfiltered catalog reads all of it, whatever the indexes: only the page counts here.)
    url = "/api/queries/products/?ordering=-units_sold&page_size=10"
    page = [plan for plan in plans_of(anonymous_client, url, catalog) if "Limit" in plan]
    assert_uses_an_index(page, catalog, "catalog_best_sellers")
