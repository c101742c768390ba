"""Every list costs the same few SQL queries whether it shows 5 rows or 50.

Queries are counted on the database the request reads from (the replica when
one is configured); the write database is not touched at all: the read side
never asks the write side anything.
"""

from contextlib import ExitStack
from datetime import date, timedelta

import pytest
from django.core.cache import cache
from django.db import connections
from django.test.utils import CaptureQueriesContext

from queries.models import DailySales
from tests.factories import ProductFactory
from tests.queries.helpers import catalog_rows, customer_rows, order_rows, read_database, results, sales_rows

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def assert_constant_queries(django_assert_num_queries):
    def check(client, url: str, make_rows, expected: int) -> None:
        """Make 5 rows, then 45 more; each time the 50-row page costs `expected` queries."""
        for shown, added in ((5, 5), (50, 45)):
            make_rows(added)
            cache.clear()  # count a real answer, not a cached one
            with ExitStack() as stack:
                stack.enter_context(django_assert_num_queries(expected, connection=connections[read_database()]))
                stack.enter_context(django_assert_num_queries(0, connection=connections["default"]))
                response = client.get(f"{url}{'&' if '?' in url else '?'}page_size=50")
            assert len(results(response)) == shown

    return check


def test_the_catalog(anonymous_client, assert_constant_queries):
    # The checkpoint, the count, the page.
    assert_constant_queries(anonymous_client, "/api/queries/products/", catalog_rows, 3)


def test_the_catalog_searched_and_filtered(anonymous_client, assert_constant_queries):
    url = "/api/queries/products/?search=product&category=books&min_price=1&in_stock=true&ordering=-price"
    assert_constant_queries(anonymous_client, url, catalog_rows, 3)


def test_orders_for_staff(staff_client, assert_constant_queries):
    # The checkpoint and the page: a cursor needs no count.
    assert_constant_queries(staff_client, "/api/queries/orders/?status=placed", order_rows, 2)


def test_orders_for_a_customer(plain_user, plain_user_client, assert_constant_queries):
    (history,) = customer_rows(1, user_id=plain_user.pk)
    # The checkpoints, then the page, whose customer is a subquery of the page's statement.
    assert_constant_queries(
        plain_user_client,
        "/api/queries/orders/",
        lambda count: order_rows(count, customer_id=history.customer_id),
        2,
    )


def test_customers(staff_client, assert_constant_queries):
    assert_constant_queries(staff_client, "/api/queries/customers/?ordering=-lifetime_value", customer_rows, 3)


def test_daily_sales(staff_client, assert_constant_queries):
    def more_days(count):
        sales_rows(count, start=date(2030, 1, 1) + timedelta(days=DailySales.objects.count()))

    assert_constant_queries(staff_client, "/api/queries/sales/daily/?date_after=2000-01-01", more_days, 3)


def test_the_projection_status_costs_the_same_for_5_or_50_events(staff_client):
    def count() -> int:
        with ExitStack() as stack:
            captures = [stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in connections]
            assert staff_client.get("/api/queries/projections/").status_code == 200
        return sum(len(capture) for capture in captures)

    for _ in range(5):
        ProductFactory()
    five = count()
    for _ in range(45):
        ProductFactory()
    assert count() == five
