"""POST /api/commands/orders/{id}/cancel/: the customer or staff cancel an order before it ships.

Cancelling gives the order's reserved units back to the stock.
"""

from decimal import Decimal

import pytest

from commands.models import OrderStatus, Product
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    url,
)
from tests.factories import ProductFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")


def cancel(order) -> str:
    return url("cancel-order", order.pk)


def stock_of(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_the_customer_cancels_a_placed_order(customer_client, customer, placed_order, product):
    log = EventLogWatch()

    response = post(customer_client, cancel(placed_order))

    position = assert_accepted(response, placed_order.id, version=2)
    placed_order.refresh_from_db()
    assert (placed_order.status, placed_order.version) == (OrderStatus.CANCELLED, 2)
    assert stock_of(product) == 10
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("OrderCancelled", placed_order.id, 2)
    assert event.position == position
    assert event.data == {
        "order_id": str(placed_order.id),
        "customer_id": str(customer.id),
        "previous_status": "placed",
        "lines": [
            {
                "product_id": str(product.id),
                "sku": product.sku,
                "product_name": product.name,
                "quantity": 3,
                "unit_price": "9.99",
            }
        ],
        "total": "29.97",
        "reason": "",
    }
    assert_metadata(event, command="CancelOrder", actor=customer.user)


def test_the_reason_given_is_recorded(customer_client, placed_order):
    log = EventLogWatch()

    post(customer_client, cancel(placed_order), {"reason": "Found it cheaper"})

    [event] = log.new_events()
    assert event.data["reason"] == "Found it cheaper"


def test_cancelling_a_paid_order_gives_back_its_stock(customer_client, paid_order, product):
    log = EventLogWatch()

    response = post(customer_client, cancel(paid_order))

    assert_accepted(response, paid_order.id, version=3)
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.CANCELLED
    assert stock_of(product) == 10
    [event] = log.new_events()
    assert event.data["previous_status"] == "paid"


def test_every_line_gives_back_its_units(customer_client, customer, product):
    teapot = ProductFactory(price=Decimal("24.50"), stock=5)
    order = place_order(customer, {product: 4, teapot: 5})

    post(customer_client, cancel(order))

    assert (stock_of(product), stock_of(teapot)) == (10, 5)


def test_staff_cancel_a_customers_order(staff_client, staff_user, placed_order, product):
    log = EventLogWatch()

    response = post(staff_client, cancel(placed_order), {"reason": "Fraud check failed"})

    assert_accepted(response, placed_order.id, version=2)
    assert stock_of(product) == 10
    [event] = log.new_events()
    assert_metadata(event, command="CancelOrder", actor=staff_user)


def test_an_order_for_a_since_discontinued_product_still_gives_its_units_back(
    customer_client, staff_client, placed_order, product
):
    post(staff_client, url("discontinue-product", product.pk))

    response = post(customer_client, cancel(placed_order))

    assert response.status_code == 200
    assert stock_of(product) == 10


@pytest.mark.parametrize("client_fixture", ["customer_client", "staff_client"])
def test_cancelling_a_shipped_order_is_refused(request, shipped_order, product, client_fixture):
    client = request.getfixturevalue(client_fixture)
    log = EventLogWatch()

    response = post(client, cancel(shipped_order))

    assert_refused(response, 409, "illegal_status_change")
    shipped_order.refresh_from_db()
    assert shipped_order.status == OrderStatus.SHIPPED
    assert stock_of(product) == 7
    log.assert_nothing_appended()


def test_cancelling_twice_gives_the_stock_back_once(customer_client, placed_order, product):
    post(customer_client, cancel(placed_order))
    log = EventLogWatch()

    response = post(customer_client, cancel(placed_order))

    assert_refused(response, 409, "illegal_status_change")
    assert stock_of(product) == 10
    log.assert_nothing_appended()


def test_another_customers_order_is_not_found(other_customer_client, placed_order, product):
    log = EventLogWatch()

    response = post(other_customer_client, cancel(placed_order))

    assert_refused(response, 404, "order_not_found")
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.PLACED
    assert stock_of(product) == 7
    log.assert_nothing_appended()


def test_an_overlong_reason_is_refused(customer_client, placed_order):
    response = post(customer_client, cancel(placed_order), {"reason": "r" * 501})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["reason"]
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.PLACED
