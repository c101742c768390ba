"""POST /api/commands/orders/place/: a customer orders for themself, staff for anyone; stock is reserved."""

import re
import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from commands.commands import MAX_ORDER_LINES, OrderLineRequest, PlaceOrder
from commands.handlers import dispatch
from commands.models import Order, OrderStatus, Product
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    signed_in,
    url,
)
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db(databases="__all__")

PLACE = url("place-order")


def lines(*quantities) -> dict:
    """The request body for `(product, quantity)` pairs."""
    return {"lines": [{"product_id": str(product.pk), "quantity": quantity} for product, quantity in quantities]}


def stock_of(product) -> int:
    return Product.objects.get(pk=product.pk).stock


def test_a_customer_orders_for_themself(customer_client, customer, product):
    log = EventLogWatch()

    response = post(customer_client, PLACE, lines((product, 3)))

    order = Order.objects.get()
    position = assert_accepted(response, order.id, version=1, status=201)
    assert (order.customer, order.status, order.version) == (customer, OrderStatus.PLACED, 1)
    assert order.total == Decimal("29.97")
    assert [(line.product_id, line.quantity, line.unit_price) for line in order.lines.all()] == [
        (product.id, 3, Decimal("9.99"))
    ]
    assert stock_of(product) == 7
    [event] = log.new_events()
    assert (event.position, event.stream_id, event.version, event.type) == (position, order.id, 1, "OrderPlaced")
    assert event.data == {
        "order_id": str(order.id),
        "customer_id": str(customer.id),
        "customer_name": customer.name,
        "customer_email": customer.email,
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
        "currency": "EUR",
    }
    assert event.schema_version == 2
    assert_metadata(event, command="PlaceOrder", actor=customer.user)


def test_an_order_of_several_products_reserves_each_and_adds_up_the_total(customer_client, product):
    teapot = ProductFactory(price=Decimal("24.50"), stock=2)

    response = post(customer_client, PLACE, lines((product, 2), (teapot, 1)))

    order = Order.objects.get()
    assert_accepted(response, order.id, version=1, status=201)
    assert order.total == Decimal("44.48")
    assert (stock_of(product), stock_of(teapot)) == (8, 1)
    assert order.lines.count() == 2


def test_the_order_keeps_the_price_of_the_day_it_was_placed(customer_client, staff_client, product):
    response = post(customer_client, PLACE, lines((product, 1)))
    post(staff_client, url("change-price", product.pk), {"new_price": "19.99"})

    order = Order.objects.get(pk=response.json()["id"])
    assert order.lines.get().unit_price == Decimal("9.99")
    assert order.total == Decimal("9.99")


def test_a_customer_may_name_themself(customer_client, customer, product):
    response = post(customer_client, PLACE, {"customer_id": str(customer.id), **lines((product, 1))})

    assert_accepted(response, Order.objects.get(customer=customer).id, version=1, status=201)


def test_staff_place_an_order_for_a_customer(staff_client, staff_user, customer, product):
    log = EventLogWatch()

    response = post(staff_client, PLACE, {"customer_id": str(customer.id), **lines((product, 2))})

    order = Order.objects.get()
    assert_accepted(response, order.id, version=1, status=201)
    assert order.customer == customer
    assert stock_of(product) == 8
    [event] = log.new_events()
    assert event.data["customer_id"] == str(customer.id)
    assert_metadata(event, command="PlaceOrder", actor=staff_user)


def test_staff_naming_an_unknown_customer_get_not_found(staff_client, product):
    response = post(staff_client, PLACE, {"customer_id": str(uuid.uuid4()), **lines((product, 1))})

    assert_refused(response, 404, "customer_not_found")
    assert stock_of(product) == 10


def test_a_customer_may_not_order_for_another_customer(customer_client, other_customer, product):
    log = EventLogWatch()

    response = post(customer_client, PLACE, {"customer_id": str(other_customer.id), **lines((product, 1))})

    assert_refused(response, 403, "forbidden")
    assert not Order.objects.exists()
    assert stock_of(product) == 10
    log.assert_nothing_appended()


def test_a_user_who_is_not_a_customer_may_not_order_for_a_customer(plain_user_client, customer, product):
    response = post(plain_user_client, PLACE, {"customer_id": str(customer.id), **lines((product, 1))})

    assert_refused(response, 403, "forbidden")
    assert not Order.objects.exists()


def test_a_user_must_register_as_a_customer_before_ordering(plain_user_client, product):
    response = post(plain_user_client, PLACE, lines((product, 1)))

    assert_refused(response, 409, "not_a_customer")
    assert not Order.objects.exists()
    assert stock_of(product) == 10


def test_staff_who_are_not_customers_must_name_the_customer(staff_client, product):
    response = post(staff_client, PLACE, lines((product, 1)))

    assert_refused(response, 409, "not_a_customer")


def test_ordering_the_last_units_empties_the_stock(customer_client, product):
    response = post(customer_client, PLACE, lines((product, 10)))

    assert response.status_code == 201
    assert stock_of(product) == 0


def test_ordering_more_than_is_in_stock_is_refused(customer_client, product):
    log = EventLogWatch()

    response = post(customer_client, PLACE, lines((product, 11)))

    body = assert_refused(response, 409, "insufficient_stock")
    assert (body["product_id"], body["available"]) == (str(product.id), 10)
    assert stock_of(product) == 10
    assert not Order.objects.exists()
    log.assert_nothing_appended()


def test_stock_never_goes_negative_over_successive_orders(customer_client, other_customer_client, product):
    assert post(customer_client, PLACE, lines((product, 6))).status_code == 201

    response = post(other_customer_client, PLACE, lines((product, 5)))

    assert assert_refused(response, 409, "insufficient_stock")["available"] == 4
    assert stock_of(product) == 4


def test_one_short_line_refuses_the_whole_order(customer_client, product):
    scarce = ProductFactory(stock=1)

    response = post(customer_client, PLACE, lines((product, 2), (scarce, 2)))

    assert_refused(response, 409, "insufficient_stock")
    assert (stock_of(product), stock_of(scarce)) == (10, 1)
    assert not Order.objects.exists()


def test_a_discontinued_product_cannot_be_ordered(customer_client, product, discontinued_product):
    log = EventLogWatch()

    response = post(customer_client, PLACE, lines((product, 1), (discontinued_product, 1)))

    assert_refused(response, 409, "product_unavailable")
    assert (stock_of(product), stock_of(discontinued_product)) == (10, 10)
    log.assert_nothing_appended()


def test_an_unknown_product_is_not_found(customer_client, product):
    missing = uuid.uuid4()
    body = {"lines": [{"product_id": str(product.id), "quantity": 1}, {"product_id": str(missing), "quantity": 1}]}

    response = post(customer_client, PLACE, body)

    assert assert_refused(response, 404, "product_not_found")["missing"] == [str(missing)]
    assert stock_of(product) == 10


def test_an_order_whose_total_no_order_can_hold_is_refused(customer_client):
    # Each line is within the limits; together they exceed what Order.total stores.
    jewel = ProductFactory(price=Decimal("9999999999.99"), stock=100_000)
    log = EventLogWatch()

    response = post(customer_client, PLACE, lines((jewel, 10_000)))

    assert_refused(response, 409, "order_too_large")
    assert stock_of(jewel) == 100_000
    assert not Order.objects.exists()
    log.assert_nothing_appended()


def test_an_order_needs_at_least_one_line(customer_client):
    response = post(customer_client, PLACE, {"lines": []})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["lines"]


def test_an_order_has_at_most_a_hundred_lines(customer_client):
    products = [ProductFactory() for _ in range(MAX_ORDER_LINES + 1)]

    response = post(customer_client, PLACE, lines(*((product, 1) for product in products)))

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["lines"]
    assert not Order.objects.exists()


@pytest.mark.parametrize("quantity", [0, -2, 10_001, "two", None])
def test_each_quantity_must_be_a_whole_number_from_1_to_10000(customer_client, product, quantity):
    response = post(customer_client, PLACE, lines((product, quantity)))

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["lines"]
    assert stock_of(product) == 10


def test_a_product_may_appear_on_one_line_only(customer_client, product):
    response = post(customer_client, PLACE, lines((product, 1), (product, 2)))

    body = assert_refused(response, 400, "invalid")
    assert body["errors"] == {"lines": ["Each product may appear on one line only."]}
    assert stock_of(product) == 10


@pytest.mark.parametrize("body", [{}, {"lines": "3 teapots"}, {"lines": [{"product_id": "teapot", "quantity": 1}]}])
def test_malformed_lines_are_reported(customer_client, body):
    response = post(customer_client, PLACE, body)

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["lines"]


def test_a_malformed_customer_id_is_reported(product):
    response = post(signed_in(StaffFactory()), PLACE, {"customer_id": "Ada", **lines((product, 1))})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["customer_id"]


@pytest.mark.django_db(databases="__all__", transaction=True)
def test_an_order_of_three_products_costs_six_statements(customer):
    """Customer, products locked in one query, stock in one update, order, lines in one insert, the append."""
    products = sorted((ProductFactory(stock=10) for _ in range(3)), key=lambda product: product.pk)
    command = PlaceOrder(
        customer_id=None, lines=tuple(OrderLineRequest(product_id=product.pk, quantity=2) for product in products)
    )
    user = customer.user

    with CaptureQueriesContext(connections["default"]) as statements:
        dispatch(command, user)

    kinds = [_kind(query["sql"]) for query in statements.captured_queries]
    # The transaction's statements: up to its last, the events' insert (what follows is after the commit:
    # the wake-ups, and on the embedded default the projections that run in-process).
    in_transaction = [kind for kind in kinds[: kinds.index("INSERT commands_storedevent") + 1] if kind != "BEGIN"]
    assert in_transaction == [
        "SELECT commands_customer",
        "SELECT commands_product",  # FOR UPDATE (on PostgreSQL), all three, in primary-key order
        "UPDATE commands_product",
        "INSERT commands_order",
        "INSERT commands_orderline",
        *(["SELECT the stream's version"] if connections["default"].vendor == "sqlite" else []),  # one writer: no lock
        "INSERT commands_storedevent",  # on PostgreSQL with the lock and the version check
    ], kinds
    assert [stock_of(product) for product in products] == [8, 8, 8]


def _kind(sql: str) -> str:
    """A statement's verb and first table; the append's one statement on PostgreSQL is its INSERT."""
    if sql.startswith("WITH locked"):
        return "INSERT commands_storedevent"
    if re.search(r"max\(.*commands_storedevent", sql, re.IGNORECASE | re.DOTALL):
        return "SELECT the stream's version"
    verb = sql.split()[0].upper()
    where = {"SELECT": r'FROM\s+"?(\w+)', "INSERT": r'INTO\s+"?(\w+)', "UPDATE": r'UPDATE\s+"?(\w+)'}.get(verb)
    return f"{verb} {re.search(where, sql).group(1)}" if where else verb
