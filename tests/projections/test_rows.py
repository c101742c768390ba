"""Plain read-model rows (projections.rows): what a batch writes is what the next batch reads, on either backend."""

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from commands.domain.orders import OrderStatus
from core.routers import READ_PRIMARY
from projections.rows import load, new_row, row_type, upsert
from queries.models import OrderSummary
from tests.projections.helpers import row

pytestmark = pytest.mark.django_db(databases="__all__")


def an_order(**values):
    return new_row(
        row_type(OrderSummary),
        uuid.uuid4(),
        customer_id=uuid.uuid4(),
        customer_name="Ada",
        customer_email="ada@example.com",
        status=OrderStatus.PLACED,
        item_count=2,
        total=Decimal("12.50"),
        lines=[{"sku": "KET-1", "quantity": 2, "unit_price": "6.25"}],
        placed_at=datetime(2026, 12, 2, 9, 30, tzinfo=UTC),
        **values,
    )


def test_a_written_row_reads_back_with_every_column_as_it_was():
    order = an_order()

    upsert(row_type(OrderSummary), OrderSummary, [order])

    assert load(row_type(OrderSummary), OrderSummary, [order.order_id]) == {order.order_id: order}
    stored = row(OrderSummary, order.order_id)
    assert (stored.status, stored.total, stored.lines, stored.currency) == (
        "placed",
        Decimal("12.50"),
        [{"sku": "KET-1", "quantity": 2, "unit_price": "6.25"}],
        order.currency,
    )


def test_writing_a_row_again_updates_it_in_place():
    order, other = an_order(), an_order()
    upsert(row_type(OrderSummary), OrderSummary, [order, other])
    order.status, order.paid_at = OrderStatus.PAID, datetime(2026, 12, 2, 10, 0, tzinfo=UTC)

    upsert(row_type(OrderSummary), OrderSummary, [order])

    loaded = load(row_type(OrderSummary), OrderSummary, [order.order_id, other.order_id])
    assert loaded == {order.order_id: order, other.order_id: other}
    assert OrderSummary.objects.using(READ_PRIMARY).count() == 2


def test_keys_without_a_row_are_left_out():
    assert load(row_type(OrderSummary), OrderSummary, [uuid.uuid4()]) == {}
