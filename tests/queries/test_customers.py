"""/api/queries/customers/: order count, lifetime value and last order; staff see all, a customer their own."""

from decimal import Decimal

import pytest

from commands.commands import CancelOrder, PayOrder
from commands.handlers import dispatch
from tests.factories import ProductFactory, place_order
from tests.queries.helpers import T0, customer_rows, ids, project, results

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/api/queries/customers/"


@pytest.fixture
def shoppers(customer, other_customer):
    """`customer` with a paid order of 2 x 4.00 and a cancelled one; `other_customer` with none."""
    product = ProductFactory(price=Decimal("4.00"), stock=50)
    paid = place_order(customer, {product: 2})
    dispatch(PayOrder(order_id=paid.pk), customer.user)
    cancelled = place_order(customer, {product: 1})
    dispatch(CancelOrder(order_id=cancelled.pk), customer.user)
    project()
    return customer, other_customer


def test_a_customer_sees_their_own_history(customer_client, shoppers):
    customer, _ = shoppers
    (row,) = results(customer_client.get(URL))
    assert row == {
        "id": str(customer.pk),
        "user_id": customer.user.pk,
        "name": customer.name,
        "email": customer.email,
        "order_count": 2,
        "lifetime_value": "8.00",
        "last_order_at": row["last_order_at"],
    }
    assert row["last_order_at"]
    assert customer_client.get(f"{URL}{customer.pk}/").json() == row


def test_another_customers_history_is_not_found(customer_client, shoppers):
    _, other = shoppers
    response = customer_client.get(f"{URL}{other.pk}/")
    assert response.status_code == 404


def test_a_user_who_is_no_customer_sees_no_history(plain_user_client, shoppers):
    assert ids(plain_user_client.get(URL)) == []


def test_staff_see_every_customer_by_name(staff_client, shoppers):
    customer, other = shoppers
    expected = sorted([customer, other], key=lambda c: (c.name, str(c.pk)))
    assert ids(staff_client.get(URL)) == [str(c.pk) for c in expected]
    assert staff_client.get(f"{URL}{other.pk}/").status_code == 200


def test_anonymous_visitors_must_sign_in(anonymous_client, shoppers):
    assert anonymous_client.get(URL).status_code == 401


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["a", "b", "c"]),
        ("-lifetime_value", ["b", "c", "a"]),
        ("-order_count", ["c", "a", "b"]),
        ("last_order_at", ["c", "b", "a"]),
    ],
)
def test_staff_order_customers(staff_client, ordering, expected):
    rows = {
        "a": customer_rows(1, name="a", order_count=5, lifetime_value=Decimal("1.00"), last_order_at=T0)[0],
        "b": customer_rows(1, name="b", order_count=1, lifetime_value=Decimal("90.00"))[0],
        "c": customer_rows(1, name="c", order_count=9, lifetime_value=Decimal("50.00"))[0],
    }
    rows["b"].last_order_at = T0.replace(year=2029)
    rows["c"].last_order_at = T0.replace(year=2028)
    for row in rows.values():
        row.save()
    assert ids(staff_client.get(URL, {"ordering": ordering})) == [str(rows[key].pk) for key in expected]


def test_customer_pages_have_a_capped_size(staff_client, settings):
    settings.QUERY_MAX_PAGE_SIZE = 3
    customer_rows(5)
    body = staff_client.get(URL, {"page_size": 50}).json()
    assert (body["count"], len(body["results"])) == (5, 3)
