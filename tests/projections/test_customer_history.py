"""CustomerOrderHistoryProjection: per customer, how many orders, what they are worth, and the latest."""

from decimal import Decimal

import pytest

from commands.eventlog import read_stream
from queries.models import CustomerOrderHistory
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import cancel, pay, project, row, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle(db):
    return ProductFactory(price=Decimal("40.00"), stock=50)


def history(customer) -> CustomerOrderHistory:
    project("customer_history")
    return row(CustomerOrderHistory, customer.pk)


def test_a_registered_customer_has_an_empty_history(customer):
    registered = history(customer)

    assert (registered.user_id, registered.name, registered.email) == (customer.user_id, customer.name, customer.email)
    assert (registered.order_count, registered.lifetime_value, registered.last_order_at) == (0, Decimal(0), None)


def test_placing_orders_counts_them_but_only_payment_adds_value(customer, kettle):
    place_order(customer, {kettle: 1})
    second = place_order(customer, {kettle: 2})
    pay(second)

    customer_history = history(customer)

    assert (customer_history.order_count, customer_history.lifetime_value) == (2, Decimal("80.00"))


def test_shipping_a_paid_order_keeps_its_value(customer, kettle):
    order = place_order(customer, {kettle: 3})
    pay(order)
    ship(order)

    assert history(customer).lifetime_value == Decimal("120.00")


def test_cancelling_a_paid_order_refunds_its_value(customer, kettle):
    kept = place_order(customer, {kettle: 1})
    refunded = place_order(customer, {kettle: 2})
    pay(kept)
    pay(refunded)
    cancel(refunded)

    customer_history = history(customer)

    assert customer_history.lifetime_value == Decimal("40.00")
    assert customer_history.order_count == 2  # orders placed, cancelled ones included


def test_cancelling_an_unpaid_order_takes_nothing_back(customer, kettle):
    paid = place_order(customer, {kettle: 1})
    pay(paid)
    unpaid = place_order(customer, {kettle: 2})
    cancel(unpaid)

    assert history(customer).lifetime_value == Decimal("40.00")


def test_the_last_order_is_the_latest_one_placed(customer, kettle):
    place_order(customer, {kettle: 1})
    latest = place_order(customer, {kettle: 1})
    pay(latest)

    [placed, _paid] = read_stream(latest.pk)
    assert history(customer).last_order_at == placed.recorded_at


def test_customers_are_kept_apart(customer, other_customer, kettle):
    pay(place_order(customer, {kettle: 1}))
    pay(place_order(other_customer, {kettle: 3}))

    assert history(customer).lifetime_value == Decimal("40.00")
    assert history(other_customer).lifetime_value == Decimal("120.00")
