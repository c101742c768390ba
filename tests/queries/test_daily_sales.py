"""/api/queries/sales/daily/: per-day orders, items, revenue and cancellations, for staff."""

from datetime import date
from decimal import Decimal

import pytest
from django.utils import timezone

from commands.commands import CancelOrder
from commands.handlers import dispatch
from tests.factories import ProductFactory, place_order
from tests.queries.helpers import project, results, sales_rows

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/api/queries/sales/daily/"


def dates(response) -> list[str]:
    return [row["date"] for row in results(response)]


def test_staff_see_todays_sales(staff_client, customer):
    product = ProductFactory(price=Decimal("3.00"), stock=50)
    place_order(customer, {product: 2})
    cancelled = place_order(customer, {product: 1})
    dispatch(CancelOrder(order_id=cancelled.pk), customer.user)
    project()

    today = timezone.now().date().isoformat()
    assert results(staff_client.get(URL)) == [
        {
            "date": today,
            "orders_placed": 2,
            "items_sold": 3,
            "revenue": "9.00",
            "orders_cancelled": 1,
            "revenue_cancelled": "3.00",
        }
    ]
    assert staff_client.get(f"{URL}{today}/").json()["orders_placed"] == 2


@pytest.mark.parametrize("client_fixture", ["customer_client", "plain_user_client"])
def test_sales_are_for_staff_only(request, client_fixture):
    sales_rows(1)
    client = request.getfixturevalue(client_fixture)
    for url in (URL, f"{URL}2030-01-01/"):
        response = client.get(url)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"


def test_anonymous_visitors_must_sign_in(anonymous_client):
    assert anonymous_client.get(URL).status_code == 401


def test_it_is_newest_day_first(staff_client):
    sales_rows(3, start=date(2030, 1, 1))
    assert dates(staff_client.get(URL)) == ["2030-01-03", "2030-01-02", "2030-01-01"]


def test_it_filters_by_date_range_inclusive(staff_client):
    sales_rows(10, start=date(2030, 1, 1))
    window = {"date_after": "2030-01-03", "date_before": "2030-01-05"}
    assert dates(staff_client.get(URL, window)) == ["2030-01-05", "2030-01-04", "2030-01-03"]
    assert dates(staff_client.get(URL, {"date_after": "2030-01-09"})) == ["2030-01-10", "2030-01-09"]
    assert dates(staff_client.get(URL, {"date_before": "2030-01-01"})) == ["2030-01-01"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("date", ["2030-01-01", "2030-01-02", "2030-01-03"]),
        ("-revenue", ["2030-01-03", "2030-01-02", "2030-01-01"]),
        ("orders_placed", ["2030-01-01", "2030-01-02", "2030-01-03"]),
    ],
)
def test_it_orders_by_day_or_revenue(staff_client, ordering, expected):
    sales_rows(3, start=date(2030, 1, 1))  # revenue grows day by day
    assert dates(staff_client.get(URL, {"ordering": ordering})) == expected


@pytest.mark.parametrize("day", ["2031-01-01", "2030-02-30", "yesterday"])
def test_a_day_without_sales_or_no_day_at_all_is_not_found(staff_client, day):
    sales_rows(1, start=date(2030, 1, 1))
    assert staff_client.get(f"{URL}{day}/").status_code == 404
