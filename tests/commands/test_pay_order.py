"""POST /api/commands/orders/{id}/pay/: the order's customer or staff pay a placed order."""

import uuid
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


def pay(order) -> str:
    return url("pay-order", order.pk)


def test_the_customer_pays_their_order(customer_client, customer, placed_order, product):
    log = EventLogWatch()

    response = post(customer_client, pay(placed_order))

    position = assert_accepted(response, placed_order.id, version=2)
    placed_order.refresh_from_db()
    assert (placed_order.status, placed_order.version) == (OrderStatus.PAID, 2)
    assert Product.objects.get(pk=product.pk).stock == 7  # paying neither takes nor gives back stock
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("OrderPaid", placed_order.id, 2)
    assert event.position == position
    assert event.data == {
        "order_id": str(placed_order.id),
        "customer_id": str(customer.id),
        "amount": "29.97",
    }
    assert_metadata(event, command="PayOrder", actor=customer.user)


def test_staff_pay_a_customers_order(staff_client, staff_user, placed_order):
    log = EventLogWatch()

    response = post(staff_client, pay(placed_order))

    assert_accepted(response, placed_order.id, version=2)
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.PAID
    [event] = log.new_events()
    assert_metadata(event, command="PayOrder", actor=staff_user)


def test_paying_twice_is_refused(customer_client, paid_order):
    log = EventLogWatch()

    response = post(customer_client, pay(paid_order))

    assert_refused(response, 409, "illegal_status_change")
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.version) == (OrderStatus.PAID, 2)
    log.assert_nothing_appended()


def test_a_cancelled_order_cannot_be_paid(customer_client, placed_order):
    post(customer_client, url("cancel-order", placed_order.pk))

    response = post(customer_client, pay(placed_order))

    assert_refused(response, 409, "illegal_status_change")
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.CANCELLED


def test_a_shipped_order_cannot_be_paid_again(staff_client, shipped_order):
    response = post(staff_client, pay(shipped_order))

    assert_refused(response, 409, "illegal_status_change")


def test_another_customers_order_is_not_found(other_customer_client, placed_order):
    log = EventLogWatch()

    response = post(other_customer_client, pay(placed_order))

    assert_refused(response, 404, "order_not_found")
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.PLACED
    log.assert_nothing_appended()


def test_a_user_who_is_not_a_customer_finds_no_order(plain_user_client, placed_order):
    response = post(plain_user_client, pay(placed_order))

    assert_refused(response, 404, "order_not_found")


def test_someone_elses_order_and_a_missing_order_answer_alike(other_customer_client, placed_order):
    theirs = post(other_customer_client, pay(placed_order))
    missing = post(other_customer_client, url("pay-order", uuid.uuid4()))

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json()["code"] == missing.json()["code"] == "order_not_found"


def test_the_amount_paid_is_the_orders_total(staff_client, customer):
    order = place_order(customer, {ProductFactory(price=Decimal("3.00")): 4})
    log = EventLogWatch()

    post(staff_client, pay(order))

    [event] = log.new_events()
    assert event.data["amount"] == "12.00"
