"""Guarantee 1: a command commits its write-model change and its events together, or nothing.

Each test lets the append to the event log fail, the last step of every handler,
and checks that the aggregate rows the handler had already changed roll back too.
These tests commit for real (transaction=True), as a command in production does.
"""

from decimal import Decimal

import pytest
from django.db import DatabaseError, transaction

from commands import eventlog
from commands.commands import CancelOrder, OrderLineRequest, PlaceOrder, RegisterProduct
from commands.events import OrderShipped, ProductDiscontinued
from commands.handlers import dispatch
from commands.models import IdempotencyRecord, Order, OrderLine, OrderStatus, Product
from tests.commands.helpers import EventLogWatch, assert_refused, post, url

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


@pytest.fixture
def event_log_outage(monkeypatch):
    """Call `.start()` to make inserts into the event log fail, as a full disk would; `.end()` to recover."""

    def failing_insert(*args, **kwargs):
        raise DatabaseError("the event log is unavailable")

    class Outage:
        def start(self):
            # The append's insert on either database (PostgreSQL's one statement, SQLite's ORM insert).
            monkeypatch.setattr(eventlog, "_insert_under_lock", failing_insert)
            monkeypatch.setattr(eventlog, "_insert_through_orm", failing_insert)

        def end(self):
            monkeypatch.undo()

    return Outage()


def concurrent_append(stream_id, event) -> None:
    """Another writer appends to the stream and commits first, without touching the aggregate's row."""
    with transaction.atomic():
        current = len(eventlog.read_stream(stream_id))
        eventlog.append(stream_id, [event], expected_version=current, metadata={"actor": "elsewhere"})


def stock_of(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_an_order_whose_event_cannot_be_stored_reserves_no_stock(event_log_outage, customer, product):
    log = EventLogWatch()
    event_log_outage.start()
    command = PlaceOrder(customer_id=None, lines=(OrderLineRequest(product_id=product.pk, quantity=3),))

    with pytest.raises(DatabaseError):
        dispatch(command, customer.user)

    assert stock_of(product) == 10
    assert not Order.objects.exists()
    assert not OrderLine.objects.exists()
    log.assert_nothing_appended()


def test_a_cancel_whose_event_cannot_be_stored_gives_no_stock_back(event_log_outage, placed_order, product):
    event_log_outage.start()

    with pytest.raises(DatabaseError):
        dispatch(CancelOrder(order_id=placed_order.pk), placed_order.customer.user)

    placed_order.refresh_from_db()
    assert (placed_order.status, placed_order.version) == (OrderStatus.PLACED, 1)
    assert stock_of(product) == 7


def test_a_registration_whose_event_cannot_be_stored_leaves_the_sku_free(event_log_outage, staff_user):
    command = RegisterProduct(sku="TEA-001", name="Teapot", category="kitchen", price=Decimal("24.50"))
    event_log_outage.start()

    with pytest.raises(DatabaseError):
        dispatch(command, staff_user)
    assert not Product.objects.exists()

    event_log_outage.end()
    recorded = dispatch(command, staff_user)
    assert Product.objects.get().pk == recorded.aggregate_id


def test_a_command_that_failed_to_store_its_event_can_be_retried_with_its_key(
    event_log_outage, customer_client, product
):
    customer_client.raise_request_exception = False
    body = {"lines": [{"product_id": str(product.pk), "quantity": 3}]}
    event_log_outage.start()

    failed = post(customer_client, url("place-order"), body, headers={"Idempotency-Key": "basket-1"})

    assert failed.status_code == 500
    assert not IdempotencyRecord.objects.exists()
    assert stock_of(product) == 10

    event_log_outage.end()
    retry = post(customer_client, url("place-order"), body, headers={"Idempotency-Key": "basket-1"})
    assert retry.status_code == 201
    assert "Idempotent-Replayed" not in retry
    assert stock_of(product) == 7


def test_a_cancel_that_loses_the_race_to_the_log_changes_nothing(customer_client, placed_order, product):
    concurrent_append(placed_order.pk, OrderShipped(order_id=placed_order.pk, customer_id=placed_order.customer_id))

    response = post(customer_client, url("cancel-order", placed_order.pk))

    assert assert_refused(response, 409, "version_conflict")["current_version"] == 2
    placed_order.refresh_from_db()
    assert (placed_order.status, placed_order.version) == (OrderStatus.PLACED, 1)
    assert stock_of(product) == 7
    assert [event.type for event in eventlog.read_stream(placed_order.pk)] == ["OrderPlaced", "OrderShipped"]


def test_a_price_change_that_loses_the_race_to_the_log_changes_nothing(staff_client, product):
    concurrent_append(product.pk, ProductDiscontinued(product_id=product.pk))

    response = post(staff_client, url("change-price", product.pk), {"new_price": "1.00"})

    assert_refused(response, 409, "version_conflict")
    product.refresh_from_db()
    assert (product.price, product.version) == (Decimal("9.99"), 1)
