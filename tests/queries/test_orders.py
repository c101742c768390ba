"""/api/queries/orders/: a customer's own orders, all of them for staff; filters, ordering, cursor pages."""

import uuid
from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from commands.commands import CancelOrder, PayOrder, ShipOrder
from commands.handlers import dispatch
from tests.factories import ProductFactory, place_order
from tests.queries.helpers import T0, customer_rows, ids, order_rows, project, results

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/api/queries/orders/"


@pytest.fixture
def product(db):
    return ProductFactory(price=Decimal("2.50"), stock=100)


@pytest.fixture
def orders_of_two_customers(customer, other_customer, product):
    """Two orders of `customer` and one of `other_customer`, projected."""
    mine = [place_order(customer, {product: 1}), place_order(customer, {product: 2})]
    theirs = place_order(other_customer, {product: 3})
    project()
    return mine, theirs


# --- Who sees what ---------------------------------------------------------------


def test_a_customer_sees_only_their_own_orders_newest_first(customer_client, orders_of_two_customers):
    mine, _ = orders_of_two_customers
    assert ids(customer_client.get(URL)) == [str(mine[1].pk), str(mine[0].pk)]


def test_a_customer_reads_their_own_order_with_its_lines(customer_client, customer, product, orders_of_two_customers):
    mine, _ = orders_of_two_customers
    body = customer_client.get(f"{URL}{mine[1].pk}/").json()
    assert body == {
        "id": str(mine[1].pk),
        "customer_id": str(customer.pk),
        "customer_name": customer.name,
        "customer_email": customer.email,
        "status": "placed",
        "item_count": 2,
        "total": "5.00",
        "currency": "EUR",
        "lines": [
            {
                "product_id": str(product.pk),
                "sku": product.sku,
                "product_name": product.name,
                "quantity": 2,
                "unit_price": "2.50",
            }
        ],
        "placed_at": body["placed_at"],
        "paid_at": None,
        "shipped_at": None,
        "cancelled_at": None,
        "cancellation_reason": "",
    }


def test_another_customers_order_is_not_found(customer_client, orders_of_two_customers):
    _, theirs = orders_of_two_customers
    response = customer_client.get(f"{URL}{theirs.pk}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_filtering_by_another_customer_shows_nothing(customer_client, other_customer, orders_of_two_customers):
    assert ids(customer_client.get(URL, {"customer": str(other_customer.pk)})) == []


def test_staff_see_every_order(staff_client, orders_of_two_customers):
    mine, theirs = orders_of_two_customers
    assert ids(staff_client.get(URL)) == [str(theirs.pk), str(mine[1].pk), str(mine[0].pk)]
    assert staff_client.get(f"{URL}{theirs.pk}/").status_code == 200


def test_a_user_who_is_no_customer_sees_no_orders(plain_user_client, orders_of_two_customers):
    _, theirs = orders_of_two_customers
    assert ids(plain_user_client.get(URL)) == []
    assert plain_user_client.get(f"{URL}{theirs.pk}/").status_code == 404


def test_a_customer_is_recognised_by_the_read_sides_history_alone(plain_user, plain_user_client):
    """The read side never asks the write side who a user is: a history row with their user id is enough."""
    (history,) = customer_rows(1, user_id=plain_user.pk)
    (order,) = order_rows(1, customer_id=history.customer_id)
    order_rows(1)
    assert ids(plain_user_client.get(URL)) == [str(order.pk)]


def test_anonymous_visitors_must_sign_in(anonymous_client, orders_of_two_customers):
    _, theirs = orders_of_two_customers
    for url in (URL, f"{URL}{theirs.pk}/"):
        response = anonymous_client.get(url)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"


def test_order_summaries_follow_payment_shipping_and_cancellation(staff_client, staff_user, customer, product):
    shipped, cancelled = place_order(customer, {product: 1}), place_order(customer, {product: 1})
    dispatch(PayOrder(order_id=shipped.pk), customer.user)
    dispatch(ShipOrder(order_id=shipped.pk), staff_user)
    dispatch(CancelOrder(order_id=cancelled.pk, reason="changed my mind"), customer.user)
    project()

    shipped_body = staff_client.get(f"{URL}{shipped.pk}/").json()
    cancelled_body = staff_client.get(f"{URL}{cancelled.pk}/").json()
    assert shipped_body["status"] == "shipped"
    assert shipped_body["paid_at"] and shipped_body["shipped_at"]
    assert cancelled_body["status"] == "cancelled"
    assert cancelled_body["cancelled_at"]


# --- Filters ------------------------------------------------------------------------


def test_it_filters_by_status(staff_client):
    (paid,) = order_rows(1, status="paid")
    order_rows(2, status="placed")
    assert ids(staff_client.get(URL, {"status": "paid"})) == [str(paid.pk)]


def test_staff_filter_by_customer(staff_client):
    customer_id = uuid.uuid4()
    theirs = order_rows(2, customer_id=customer_id)
    order_rows(2)
    assert ids(staff_client.get(URL, {"customer": str(customer_id)})) == [str(o.pk) for o in reversed(theirs)]


def test_it_filters_by_when_orders_were_placed(staff_client):
    rows = order_rows(4)  # placed a minute apart
    window = {
        "placed_after": rows[1].placed_at.isoformat(),
        "placed_before": rows[2].placed_at.isoformat(),
    }
    assert ids(staff_client.get(URL, window)) == [str(rows[2].pk), str(rows[1].pk)]
    later = (rows[2].placed_at + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    assert ids(staff_client.get(URL, {"placed_after": later})) == [str(rows[3].pk)]


def test_it_filters_by_total(staff_client):
    small, medium, large = (order_rows(1, total=Decimal(total))[0] for total in ("5.00", "50.00", "500.00"))
    assert ids(staff_client.get(URL, {"min_total": "10", "max_total": "100"})) == [str(medium.pk)]
    assert ids(staff_client.get(URL, {"max_total": "50.00"})) == [str(medium.pk), str(small.pk)]
    assert ids(staff_client.get(URL, {"min_total": "50.01"})) == [str(large.pk)]


# --- Ordering and cursor pages --------------------------------------------------------


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [("-placed_at", [2, 1, 0]), ("placed_at", [0, 1, 2]), ("total", [1, 2, 0]), ("-total", [0, 2, 1])],
)
def test_it_orders_by_placement_or_total(staff_client, ordering, expected):
    rows = [order_rows(1, total=Decimal(total))[0] for total in ("30.00", "10.00", "20.00")]
    assert ids(staff_client.get(URL, {"ordering": ordering})) == [str(rows[i].pk) for i in expected]


def test_cursor_pages_walk_every_order_once(staff_client):
    rows = order_rows(7)
    seen, url = [], URL + "?page_size=3"
    while url:
        body = staff_client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen == [str(row.pk) for row in reversed(rows)]


def test_cursor_pages_by_total_with_ties_walk_every_order_once(staff_client):
    rows = order_rows(3, total=Decimal("10.00")) + order_rows(3, total=Decimal("20.00"))
    seen, url = [], URL + "?ordering=total&page_size=2"
    while url:
        body = staff_client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(str(row.pk) for row in rows)
    assert len(seen) == 6


def test_a_new_order_does_not_shift_the_next_page(staff_client):
    rows = order_rows(6)
    first = staff_client.get(URL, {"page_size": 2}).json()
    second_before = results(staff_client.get(first["next"]))

    order_rows(1, placed_at=T0 + timedelta(days=365))  # newer than all: it goes on top of page 1
    second_after = results(staff_client.get(first["next"]))

    assert second_after == second_before
    assert [row["id"] for row in second_after] == [str(rows[3].pk), str(rows[2].pk)]
    newest = results(staff_client.get(URL, {"page_size": 2}))[0]
    assert newest["placed_at"].startswith(str(T0.year + 1))


def test_the_previous_link_goes_back(staff_client):
    order_rows(5)
    first = staff_client.get(URL, {"page_size": 2}).json()
    second = staff_client.get(first["next"]).json()
    back = staff_client.get(second["previous"]).json()
    assert back["results"] == first["results"]


def test_cursor_pages_have_a_capped_size(staff_client, settings):
    settings.QUERY_PAGE_SIZE = 2
    settings.QUERY_MAX_PAGE_SIZE = 3
    order_rows(5)
    assert len(results(staff_client.get(URL))) == 2
    assert len(results(staff_client.get(URL, {"page_size": 100}))) == 3


def test_a_time_in_any_offset_python_accepts_filters_as_its_utc_equivalent(staff_client):
    """PostgreSQL refuses offsets beyond ±15:59 (the fuzzer sent -22:12): the filter sends UTC."""
    rows = order_rows(2)
    far_west = timezone(-timedelta(hours=22, minutes=12))
    placed_after = rows[1].placed_at.astimezone(far_west).isoformat()
    assert placed_after.endswith("-22:12")

    assert ids(staff_client.get(URL, {"placed_after": placed_after})) == [str(rows[1].pk)]
