"""The cache subscriber: after each batch commits, it bumps the cache generation of every family it made stale."""

import pytest

from commands.eventlog import head_position
from projections.runner import Outcome
from queries.caching import FAMILIES, generation
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import pay, project, restock, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle(db):
    return ProductFactory(stock=50)


def generations() -> dict[str, int]:
    return {family: generation(family) for family in FAMILIES}


def made_stale(step) -> set[str]:
    """The families whose generation moves when `step` runs and the cache subscriber catches up."""
    project("cache")
    before = generations()
    step()
    project("cache")
    after = generations()
    return {family for family in FAMILIES if after[family] != before[family]}


def test_an_order_makes_orders_customers_sales_and_products_stale(customer, kettle):
    assert made_stale(lambda: place_order(customer, {kettle: 1})) == {"orders", "customers", "sales", "products"}


def test_a_payment_makes_orders_and_customers_stale(customer, kettle):
    order = place_order(customer, {kettle: 1})

    assert made_stale(lambda: pay(order)) == {"orders", "customers"}


def test_shipping_makes_only_orders_stale(customer, kettle):
    order = place_order(customer, {kettle: 1})
    pay(order)

    assert made_stale(lambda: ship(order)) == {"orders"}


def test_a_restock_makes_only_products_stale(kettle):
    assert made_stale(lambda: restock(kettle, 5)) == {"products"}


def test_a_new_customer_makes_only_customers_stale(db):
    assert made_stale(CustomerFactory) == {"customers"}


def test_a_batch_bumps_each_family_once(kettle):
    project("cache")
    before = generation("products")
    for _ in range(5):
        restock(kettle, 1)

    project("cache")

    assert generation("products") == before + 1


def test_a_cache_outage_does_not_stop_the_subscriber(kettle, monkeypatch, caplog, unreachable_cache):
    monkeypatch.setattr("queries.caching.cache", unreachable_cache)
    restock(kettle, 5)

    result = project("cache")

    assert (result.outcome, result.position) == (Outcome.CAUGHT_UP, head_position())
    assert "Exception ignored" in caplog.text  # the cache backend logs the outage it ignores
