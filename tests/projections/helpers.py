"""What the projection tests share: drive the write side through its handlers, run followers, read rows."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.db import connections, transaction

from commands.commands import CancelOrder, ChangePrice, DiscontinueProduct, PayOrder, RestockProduct, ShipOrder
from commands.handlers import Recorded, dispatch
from core.routers import READ_PRIMARY
from projections.models import Checkpoint
from projections.registry import registry, replayable_projections
from projections.runner import CatchUpResult, catch_up
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order

# --- The write side ------------------------------------------------------------


def pay(order) -> Recorded:
    """The customer pays their order."""
    return dispatch(PayOrder(order_id=order.pk), order.customer.user)


def ship(order) -> Recorded:
    return dispatch(ShipOrder(order_id=order.pk), StaffFactory())


def cancel(order, reason: str = "") -> Recorded:
    """The customer cancels their order."""
    return dispatch(CancelOrder(order_id=order.pk, reason=reason), order.customer.user)


def change_price(product, new_price: str) -> Recorded:
    return dispatch(ChangePrice(product_id=product.pk, new_price=Decimal(new_price)), StaffFactory())


def restock(product, quantity: int) -> Recorded:
    return dispatch(RestockProduct(product_id=product.pk, quantity=quantity), StaffFactory())


def discontinue(product) -> Recorded:
    return dispatch(DiscontinueProduct(product_id=product.pk), StaffFactory())


def a_busy_day() -> None:
    """Orders of several products by several customers, with every kind of event in between."""
    kettle, mugs, teapot = (ProductFactory(stock=20) for _ in range(3))
    alice, bob = CustomerFactory(), CustomerFactory()
    first = place_order(alice, {kettle: 2, mugs: 1})
    pay(first)
    second = place_order(bob, {mugs: 3})
    change_price(mugs, "15.00")
    third = place_order(alice, {mugs: 2, teapot: 1})
    pay(second)
    ship(first)
    cancel(second)
    restock(mugs, 10)
    cancel(third)
    discontinue(teapot)
    pay(place_order(bob, {kettle: 1}))


def orders_across_products(orders: int = 30) -> None:
    """A busy day, then `orders` orders of two products each out of six, every third one paid."""
    a_busy_day()
    products = [ProductFactory(stock=100) for _ in range(6)]
    customers = [CustomerFactory() for _ in range(4)]
    for number in range(orders):
        order = place_order(customers[number % 4], {products[number % 6]: 1, products[(number + 2) % 6]: 2})
        if number % 3 == 0:
            pay(order)


# --- Followers -----------------------------------------------------------------


def project(name: str, **options) -> CatchUpResult:
    """Catch the follower `name` up to the head of the log, as its Celery task would."""
    return catch_up(registry()[name], **options)


def project_everything(**options) -> dict[str, CatchUpResult]:
    return {name: catch_up(follower, **options) for name, follower in registry().items()}


@contextmanager
def broken(name: str, event_type: str, *, at: int, times: int | None = None):
    """Make `name`'s handler of `event_type` raise on the event at position `at` (`times` times, or always).

    Yields the positions the broken handler was called with.
    """
    projection = replayable_projections().get(name) or registry()[name]  # every partition of a projection breaks
    handler = projection.handlers[event_type]
    calls: list[int] = []

    def apply(self, rows, event, recorded):
        calls.append(recorded.position)
        if recorded.position == at and (times is None or calls.count(at) <= times):
            raise RuntimeError(f"{name} broke on purpose")
        return handler.apply(self, rows, event, recorded)

    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(type(projection).handlers, event_type, dataclasses.replace(handler, apply=apply))
        yield calls


@contextmanager
def locked_elsewhere(lock: Callable[[], object]):
    """Run `lock` (a SELECT ... FOR UPDATE on `read`) from another connection, holding its rows until the block ends."""
    locked, release = threading.Event(), threading.Event()
    errors = []

    def hold():
        try:
            with transaction.atomic(using=READ_PRIMARY):
                lock()
                locked.set()
                release.wait(timeout=30)  # whoever queued on the lock would wait this long
        except Exception as error:
            errors.append(error)
        finally:
            locked.set()
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(timeout=30)
    try:
        yield
    finally:
        release.set()
        holder.join(timeout=30)
    assert errors == []


def checkpoint(name: str) -> Checkpoint:
    return Checkpoint.objects.using(READ_PRIMARY).get(name=name)


# --- The read side -------------------------------------------------------------


def rows(model) -> list[dict]:
    """Every row of a read model on the read primary, as dicts, in primary-key order."""
    return list(model.objects.using(READ_PRIMARY).order_by("pk").values())


def read_models() -> dict[str, list[dict]]:
    """Every read model's rows, by projection name."""
    return {name: rows(projection.model) for name, projection in replayable_projections().items()}


def row(model, pk):
    return model.objects.using(READ_PRIMARY).get(pk=pk)
