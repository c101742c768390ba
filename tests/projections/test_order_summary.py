"""OrderSummaryProjection: one row per order, with its customer and lines as they were when ordered."""

from decimal import Decimal

import pytest

from queries.models import OrderSummary
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import cancel, change_price, pay, project, row, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle(db):
    return ProductFactory(sku="KIT-0001", name="Copper Kettle", price=Decimal("39.90"), stock=10)


@pytest.fixture
def mugs(db):
    return ProductFactory(sku="KIT-0002", name="Stoneware Mugs", price=Decimal("12.00"), stock=10)


def summary(order) -> OrderSummary:
    project("order_summary")
    return row(OrderSummary, order.pk)


def test_a_placed_order_is_summarised_with_its_customer_and_lines(customer, kettle, mugs):
    order = place_order(customer, {kettle: 1, mugs: 4})

    summarised = summary(order)

    assert (summarised.customer_id, summarised.customer_name, summarised.customer_email) == (
        customer.pk,
        customer.name,
        customer.email,
    )
    assert (summarised.status, summarised.item_count, summarised.total) == ("placed", 5, Decimal("87.90"))
    assert sorted(summarised.lines, key=lambda line: line["sku"]) == [
        {
            "product_id": str(kettle.pk),
            "sku": "KIT-0001",
            "product_name": "Copper Kettle",
            "quantity": 1,
            "unit_price": "39.90",
        },
        {
            "product_id": str(mugs.pk),
            "sku": "KIT-0002",
            "product_name": "Stoneware Mugs",
            "quantity": 4,
            "unit_price": "12.00",
        },
    ]
    assert (summarised.paid_at, summarised.shipped_at, summarised.cancelled_at) == (None, None, None)


def test_the_summary_follows_the_order_to_paid_and_shipped(customer, kettle):
    order = place_order(customer, {kettle: 2})
    paid = pay(order)
    shipped = ship(order)

    summarised = summary(order)

    assert summarised.status == "shipped"
    assert summarised.paid_at == paid.events[0].recorded_at
    assert summarised.shipped_at == shipped.events[0].recorded_at
    assert summarised.cancelled_at is None


def test_an_order_paid_then_cancelled_is_shown_cancelled_with_both_times(customer, kettle):
    order = place_order(customer, {kettle: 2})
    paid = pay(order)
    cancelled = cancel(order, reason="Changed my mind.")

    summarised = summary(order)

    assert summarised.status == "cancelled"
    assert summarised.paid_at == paid.events[0].recorded_at
    assert summarised.cancelled_at == cancelled.events[0].recorded_at
    assert (summarised.item_count, summarised.total) == (2, Decimal("79.80"))


def test_each_order_keeps_the_price_of_the_day_it_was_placed(customer, kettle):
    before = place_order(customer, {kettle: 1})
    change_price(kettle, "29.90")
    after = place_order(customer, {kettle: 1})

    project("order_summary")

    assert row(OrderSummary, before.pk).lines[0]["unit_price"] == "39.90"
    assert row(OrderSummary, before.pk).total == Decimal("39.90")
    assert row(OrderSummary, after.pk).lines[0]["unit_price"] == "29.90"
    assert row(OrderSummary, after.pk).total == Decimal("29.90")


def test_a_later_price_change_does_not_touch_existing_summaries(customer, kettle):
    order = place_order(customer, {kettle: 3})
    project("order_summary")
    placed = row(OrderSummary, order.pk)

    change_price(kettle, "49.90")
    project("order_summary")

    assert row(OrderSummary, order.pk).lines == placed.lines
    assert row(OrderSummary, order.pk).total == Decimal("119.70")


def test_orders_placed_in_one_batch_get_one_row_each(customer, kettle, mugs):
    orders = [place_order(customer, {kettle: 1}), place_order(customer, {mugs: 2}), place_order(customer, {kettle: 1})]
    pay(orders[1])

    project("order_summary")

    assert OrderSummary.objects.using("read").count() == 3
    assert [row(OrderSummary, order.pk).status for order in orders] == ["placed", "paid", "placed"]
