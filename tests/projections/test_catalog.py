"""ProductCatalogProjection: what the shop sells, its price, the stock still available and units sold."""

from decimal import Decimal

import pytest
from django.contrib.postgres.search import SearchQuery
from django.db import connections

from commands.eventlog import read_stream
from commands.models import Product
from core.routers import READ_PRIMARY
from queries.models import ProductCatalog
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import cancel, change_price, discontinue, pay, project, restock, row, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle(db):
    return ProductFactory(
        sku="KIT-0001",
        name="Copper Kettle",
        description="Whistles when the water boils.",
        category="kitchen",
        price=Decimal("39.90"),
        stock=10,
    )


def catalog_row(product) -> ProductCatalog:
    project("product_catalog")
    return row(ProductCatalog, product.pk)


def test_a_registered_product_is_listed_with_its_price_and_stock(kettle):
    listed = catalog_row(kettle)

    assert (listed.sku, listed.name, listed.category) == ("KIT-0001", "Copper Kettle", "kitchen")
    assert listed.description == "Whistles when the water boils."
    assert (listed.price, listed.stock_available, listed.units_sold) == (Decimal("39.90"), 10, 0)
    assert listed.status == ProductCatalog.Status.ACTIVE
    [registered] = read_stream(kettle.pk)
    assert listed.updated_at == registered.recorded_at


def test_an_order_takes_its_units_out_of_stock_and_counts_them_sold(kettle, customer):
    place_order(customer, {kettle: 3})
    place_order(CustomerFactory(), {kettle: 2})

    listed = catalog_row(kettle)

    assert (listed.stock_available, listed.units_sold) == (5, 5)


def test_paying_and_shipping_leave_stock_and_sales_alone(kettle, customer):
    order = place_order(customer, {kettle: 3})
    pay(order)
    ship(order)

    listed = catalog_row(kettle)

    assert (listed.stock_available, listed.units_sold) == (7, 3)


def test_cancelling_a_paid_order_releases_its_stock_and_unsells_its_units(kettle, customer):
    kept = place_order(customer, {kettle: 1})
    cancelled = place_order(customer, {kettle: 4})
    pay(kept)
    pay(cancelled)
    cancel(cancelled)

    listed = catalog_row(kettle)

    assert (listed.stock_available, listed.units_sold) == (9, 1)
    assert listed.stock_available == Product.objects.get(pk=kettle.pk).stock


def test_a_price_change_shows_the_new_price(kettle, customer):
    place_order(customer, {kettle: 1})
    change_price(kettle, "34.50")

    listed = catalog_row(kettle)

    assert listed.price == Decimal("34.50")
    assert (listed.stock_available, listed.units_sold) == (9, 1)


def test_a_restock_after_orders_adds_to_what_is_left(kettle, customer):
    place_order(customer, {kettle: 6})
    place_order(customer, {kettle: 4})
    restock(kettle, 25)
    place_order(customer, {kettle: 5})

    listed = catalog_row(kettle)

    assert (listed.stock_available, listed.units_sold) == (20, 15)
    assert listed.stock_available == Product.objects.get(pk=kettle.pk).stock


def test_a_discontinued_product_stays_listed_as_discontinued(kettle, customer):
    place_order(customer, {kettle: 2})
    discontinue(kettle)

    listed = catalog_row(kettle)

    assert listed.status == ProductCatalog.Status.DISCONTINUED
    assert (listed.price, listed.stock_available, listed.units_sold) == (Decimal("39.90"), 8, 2)


def test_the_row_carries_the_time_of_the_last_event_that_changed_it(kettle, customer):
    place_order(customer, {kettle: 1})
    recorded = restock(kettle, 5)

    listed = catalog_row(kettle)

    assert listed.updated_at == recorded.events[-1].recorded_at


def test_an_order_of_several_products_changes_each_of_them(customer):
    kettle, teapot = ProductFactory(stock=10), ProductFactory(stock=10)
    order = place_order(customer, {kettle: 1, teapot: 2})
    cancel(order)
    place_order(customer, {teapot: 3})

    project("product_catalog")

    assert (row(ProductCatalog, kettle.pk).stock_available, row(ProductCatalog, kettle.pk).units_sold) == (10, 0)
    assert (row(ProductCatalog, teapot.pk).stock_available, row(ProductCatalog, teapot.pk).units_sold) == (7, 3)


@pytest.mark.postgres
def test_a_new_product_can_be_found_by_its_words(kettle):
    ProductFactory(name="Garden Hose", description="Twenty metres.", category="garden")

    listed = catalog_row(kettle)

    assert listed.search_vector is not None
    found = ProductCatalog.objects.using(READ_PRIMARY).filter(search_vector=SearchQuery("kettle", config="english"))
    assert list(found.values_list("pk", flat=True)) == [kettle.pk]
    by_description = ProductCatalog.objects.using(READ_PRIMARY).filter(
        search_vector=SearchQuery("boil", config="english")
    )
    assert list(by_description.values_list("pk", flat=True)) == [kettle.pk]


@pytest.mark.skipif(
    connections["default"].vendor != "sqlite",
    reason="on PostgreSQL the vector is filled: see test_a_new_product_can_be_found_by_its_words",
)
def test_the_search_vector_stays_empty_on_sqlite(kettle):
    assert catalog_row(kettle).search_vector is None
