"""Concurrent orders never sell more stock than there is, and never deadlock (PostgreSQL).

place_order locks the ordered products (SELECT ... FOR UPDATE, in primary-key
order) before checking and reserving stock, so concurrent orders queue on the
product rows instead of all reading the same stock and overselling it.
"""

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from commands.commands import OrderLineRequest, PlaceOrder
from commands.errors import InsufficientStock
from commands.handlers import Recorded, dispatch
from commands.models import Order, OrderLine, Product, StoredEvent
from tests.factories import CustomerFactory, ProductFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(attempts: list[Callable[[], Recorded]], *, watch: Product | None = None) -> tuple[list, list[int]]:
    """Run `attempts` in threads released together; return each one's result or error.

    While they run, sample the stock of `watch` from another connection.
    """
    barrier = threading.Barrier(len(attempts))
    outcomes: list = [None] * len(attempts)
    racing = threading.Event()
    racing.set()
    samples: list[int] = []

    def attempt(index: int) -> None:
        try:
            connection.ensure_connection()  # connect first, so the barrier releases real contenders
            barrier.wait(timeout=30)
            outcomes[index] = attempts[index]()
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    def sample_stock() -> None:
        try:
            while racing.is_set():
                samples.append(Product.objects.values_list("stock", flat=True).get(pk=watch.pk))
                time.sleep(0.001)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(index,)) for index in range(len(attempts))]
    sampler = threading.Thread(target=sample_stock) if watch else None
    for thread in [*threads, *([sampler] if sampler else [])]:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    racing.clear()
    if sampler:
        sampler.join(timeout=10)
    assert not any(thread.is_alive() for thread in threads), "an order is stuck"
    return outcomes, samples


def order(customer, quantities: dict[Product, int]) -> Callable[[], Recorded]:
    lines = tuple(OrderLineRequest(product_id=p.pk, quantity=q) for p, q in quantities.items())
    return lambda: dispatch(PlaceOrder(customer_id=None, lines=lines), customer.user)


def split(outcomes: list) -> tuple[list[Recorded], list[InsufficientStock]]:
    placed = [outcome for outcome in outcomes if isinstance(outcome, Recorded)]
    refused = [outcome for outcome in outcomes if isinstance(outcome, InsufficientStock)]
    unexpected = [outcome for outcome in outcomes if not isinstance(outcome, Recorded | InsufficientStock)]
    assert unexpected == [], f"orders ended otherwise than placed or refused: {unexpected!r}"
    return placed, refused


def test_twenty_single_unit_orders_for_five_units_place_exactly_five():
    product = ProductFactory(stock=5, price=Decimal("10.00"))
    customers = CustomerFactory.create_batch(20)

    outcomes, samples = race([order(customer, {product: 1}) for customer in customers], watch=product)

    placed, refused = split(outcomes)
    assert len(placed) == 5, f"{len(placed)} orders were placed for 5 units"
    assert len(refused) == 15
    assert all(error.extra["available"] == 0 for error in refused)
    product.refresh_from_db()
    assert product.stock == 0
    assert samples and 0 <= min(samples) <= max(samples) <= 5
    placed_events = StoredEvent.objects.filter(type="OrderPlaced")
    assert {event.stream_id for event in placed_events} == {recorded.aggregate_id for recorded in placed}
    assert placed_events.count() == 5
    assert Order.objects.count() == 5
    assert OrderLine.objects.filter(product=product).aggregate(units=Sum("quantity"))["units"] == 5


def test_two_unit_orders_racing_for_five_units_place_two_and_leave_one():
    product = ProductFactory(stock=5)
    customers = CustomerFactory.create_batch(10)

    outcomes, samples = race([order(customer, {product: 2}) for customer in customers], watch=product)

    placed, refused = split(outcomes)
    assert len(placed) == 2, f"{len(placed)} orders of 2 were placed for 5 units"
    assert len(refused) == 8
    assert all(error.extra["available"] == 1 for error in refused)
    product.refresh_from_db()
    assert product.stock == 1
    assert samples and set(samples) <= {5, 3, 1}
    assert StoredEvent.objects.filter(type="OrderPlaced").count() == 2
    assert OrderLine.objects.filter(product=product).aggregate(units=Sum("quantity"))["units"] == 4


def test_orders_listing_the_same_two_products_in_opposite_order_do_not_deadlock():
    first, second = ProductFactory(stock=100), ProductFactory(stock=100)
    customers = CustomerFactory.create_batch(8)
    rounds = 5

    for _ in range(rounds):
        outcomes, _ = race(
            [
                order(customer, {first: 1, second: 1} if index % 2 else {second: 1, first: 1})
                for index, customer in enumerate(customers)
            ]
        )
        placed, _ = split(outcomes)
        assert len(placed) == len(customers)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.stock == second.stock == 100 - rounds * len(customers)
