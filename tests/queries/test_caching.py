"""Cached list responses (catalog, daily sales): hits, invalidation, and never older than they claim."""

from decimal import Decimal

import pytest
from django.db import connections

from commands.commands import ChangePrice
from commands.handlers import dispatch
from projections.registry import registry
from projections.runner import catch_up
from queries import caching
from tests.factories import ProductFactory
from tests.queries.helpers import (
    catalog_rows,
    extend_log_to,
    project,
    read_database,
    results,
    sales_rows,
    set_checkpoint,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PRODUCTS = "/api/queries/products/"
SALES = "/api/queries/sales/daily/"


def prices(response) -> list[str]:
    return [row["price"] for row in results(response)]


def test_a_repeated_request_is_answered_from_the_cache(anonymous_client, django_assert_num_queries):
    catalog_rows(3)
    assert anonymous_client.get(PRODUCTS)["X-Cache"] == "miss"

    # Only the checkpoint is read: the page and its count come from the cache.
    with django_assert_num_queries(1, connection=connections[read_database()]):
        hit = anonymous_client.get(PRODUCTS)

    assert hit["X-Cache"] == "hit"
    assert len(results(hit)) == 3
    assert hit["X-Read-Position"] == "0"


def test_staff_sales_are_cached_too(staff_client):
    sales_rows(2)
    assert staff_client.get(SALES)["X-Cache"] == "miss"
    assert staff_client.get(SALES)["X-Cache"] == "hit"


def test_everyone_shares_the_catalogs_entries(anonymous_client, customer_client):
    catalog_rows(1)
    assert anonymous_client.get(PRODUCTS)["X-Cache"] == "miss"
    assert customer_client.get(PRODUCTS)["X-Cache"] == "hit"


def test_each_query_has_its_own_entry_whatever_the_parameter_order(anonymous_client):
    catalog_rows(1, category="books")
    assert anonymous_client.get(PRODUCTS + "?category=books&in_stock=true")["X-Cache"] == "miss"
    assert anonymous_client.get(PRODUCTS + "?in_stock=true&category=books")["X-Cache"] == "hit"
    assert anonymous_client.get(PRODUCTS + "?category=toys&in_stock=true")["X-Cache"] == "miss"
    assert results(anonymous_client.get(PRODUCTS + "?category=toys&in_stock=true")) == []


def test_orders_customers_and_details_are_not_cached(staff_client):
    (row,) = catalog_rows(1)
    for url in ("/api/queries/orders/", "/api/queries/customers/", f"{PRODUCTS}{row.pk}/"):
        staff_client.get(url)
        assert "X-Cache" not in staff_client.get(url)


def test_invalidating_the_family_makes_the_next_request_a_miss(anonymous_client):
    catalog_rows(1)
    anonymous_client.get(PRODUCTS)

    caching.invalidate({"products"})

    assert anonymous_client.get(PRODUCTS)["X-Cache"] == "miss"


def test_the_cache_subscriber_invalidates_the_catalog_when_a_price_changes(
    held_projections, anonymous_client, staff_user
):
    product = ProductFactory(price=Decimal("10.00"))
    project()
    assert prices(anonymous_client.get(PRODUCTS)) == ["10.00"]
    generation = caching.generation("products")

    dispatch(ChangePrice(product_id=product.pk, new_price=Decimal("12.00")), staff_user)
    project()

    assert caching.generation("products") > generation
    fresh = anonymous_client.get(PRODUCTS)
    assert (fresh["X-Cache"], prices(fresh)) == ("miss", ["12.00"])


def test_an_entry_is_never_older_than_the_position_it_claims(held_projections, anonymous_client, staff_user):
    """Even when the cache subscriber has not run (yet), an advanced checkpoint never meets an old entry."""
    product = ProductFactory(price=Decimal("10.00"))
    project()
    before = anonymous_client.get(PRODUCTS)

    dispatch(ChangePrice(product_id=product.pk, new_price=Decimal("12.00")), staff_user)
    catch_up(registry()["product_catalog"])  # the read model moves on; the cache subscriber does not

    after = anonymous_client.get(PRODUCTS)
    assert int(after["X-Read-Position"]) > int(before["X-Read-Position"])
    assert (after["X-Cache"], prices(after)) == ("miss", ["12.00"])


def test_a_cached_response_is_never_served_below_the_requested_min_position(anonymous_client):
    catalog_rows(1)
    set_checkpoint("product_catalog", 5)
    extend_log_to(6)
    anonymous_client.get(PRODUCTS)

    satisfied = anonymous_client.get(PRODUCTS, {"min_position": 5})
    ahead = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "6"})

    assert (satisfied.status_code, satisfied["X-Cache"]) == (200, "hit")
    assert ahead.status_code == 503
    set_checkpoint("product_catalog", 6)
    caught_up = anonymous_client.get(PRODUCTS, headers={"X-Min-Position": "6"})
    assert (caught_up.status_code, caught_up["X-Cache"], caught_up["X-Read-Position"]) == (200, "miss", "6")


def test_a_cache_outage_costs_a_miss_not_a_failed_request(anonymous_client, monkeypatch, unreachable_cache):
    catalog_rows(2)
    anonymous_client.get(PRODUCTS)
    monkeypatch.setattr(caching, "cache", unreachable_cache)
    responses = [anonymous_client.get(PRODUCTS) for _ in range(2)]
    assert [(r.status_code, r["X-Cache"], len(results(r))) for r in responses] == [(200, "miss", 2)] * 2
