"""/api/queries/products/: the public catalog, its filters, search, ordering and pages."""

from decimal import Decimal

import pytest
from django.db import connections

from commands.commands import ChangePrice, DiscontinueProduct
from commands.handlers import dispatch
from tests.factories import ProductFactory, place_order
from tests.queries.helpers import catalog_rows, ids, project, results

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

URL = "/api/queries/products/"


def test_anyone_may_browse_the_catalog(anonymous_client):
    product = ProductFactory(sku="MUG-1", name="Blue mug", category="kitchen", price=Decimal("7.50"), stock=12)
    project()

    response = anonymous_client.get(URL)

    assert results(response) == [
        {
            "id": str(product.pk),
            "sku": "MUG-1",
            "name": "Blue mug",
            "description": product.description,
            "category": "kitchen",
            "price": "7.50",
            "stock_available": 12,
            "units_sold": 0,
            "status": "active",
            "updated_at": response.json()["results"][0]["updated_at"],
        }
    ]


def test_the_catalog_reflects_orders_price_changes_and_discontinuation(anonymous_client, customer, staff_user):
    product = ProductFactory(price=Decimal("9.99"), stock=10)
    place_order(customer, {product: 3})
    dispatch(ChangePrice(product_id=product.pk, new_price=Decimal("12.00")), staff_user)
    dispatch(DiscontinueProduct(product_id=product.pk), staff_user)
    project()

    body = anonymous_client.get(f"{URL}{product.pk}/").json()

    assert (body["price"], body["stock_available"], body["units_sold"], body["status"]) == (
        "12.00",
        7,
        3,
        "discontinued",
    )


def test_a_product_is_found_by_its_id(anonymous_client):
    (row,) = catalog_rows(1, name="Teapot")
    response = anonymous_client.get(f"{URL}{row.pk}/")
    assert response.status_code == 200
    assert response.json()["name"] == "Teapot"


@pytest.mark.parametrize("product_id", ["7d4e3a41-0000-4000-8000-000000000000", "not-a-uuid"])
def test_an_unknown_product_is_not_found(anonymous_client, product_id):
    catalog_rows(1)
    response = anonymous_client.get(f"{URL}{product_id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Filters -------------------------------------------------------------------


def test_it_filters_by_category(anonymous_client):
    kitchen = catalog_rows(2, category="kitchen")
    catalog_rows(2, category="garden")
    assert set(ids(anonymous_client.get(URL, {"category": "kitchen"}))) == {str(row.pk) for row in kitchen}


def test_it_filters_by_price_range_inclusive(anonymous_client):
    cheap, middle, dear = (catalog_rows(1, price=Decimal(price))[0] for price in ("4.99", "10.00", "20.01"))
    assert ids(anonymous_client.get(URL, {"min_price": "5", "max_price": "20"})) == [str(middle.pk)]
    assert ids(anonymous_client.get(URL, {"min_price": "10.00", "max_price": "10.00"})) == [str(middle.pk)]
    assert set(ids(anonymous_client.get(URL, {"max_price": "10"}))) == {str(cheap.pk), str(middle.pk)}
    assert set(ids(anonymous_client.get(URL, {"min_price": "10.01"}))) == {str(dear.pk)}


def test_it_filters_by_stock(anonymous_client):
    (stocked,) = catalog_rows(1, stock_available=3)
    (sold_out,) = catalog_rows(1, stock_available=0)
    assert ids(anonymous_client.get(URL, {"in_stock": "true"})) == [str(stocked.pk)]
    assert ids(anonymous_client.get(URL, {"in_stock": "false"})) == [str(sold_out.pk)]


def test_it_filters_by_status(anonymous_client):
    (active,) = catalog_rows(1)
    (discontinued,) = catalog_rows(1, status="discontinued")
    assert ids(anonymous_client.get(URL, {"status": "active"})) == [str(active.pk)]
    assert ids(anonymous_client.get(URL, {"status": "discontinued"})) == [str(discontinued.pk)]


def test_filters_combine(anonymous_client):
    (wanted,) = catalog_rows(1, category="toys", price=Decimal("15.00"), stock_available=1)
    catalog_rows(1, category="toys", price=Decimal("15.00"), stock_available=0)
    catalog_rows(1, category="toys", price=Decimal("50.00"), stock_available=1)
    catalog_rows(1, category="books", price=Decimal("15.00"), stock_available=1)
    query = {"category": "toys", "max_price": "20", "in_stock": "true", "status": "active"}
    assert ids(anonymous_client.get(URL, query)) == [str(wanted.pk)]


# --- Search ----------------------------------------------------------------------


def test_search_finds_products_by_name_and_description(anonymous_client):
    kettle = ProductFactory(name="Copper kettle", description="Boils water on any stove", category="kitchen")
    ProductFactory(name="Garden hose", description="Twenty metres", category="garden")
    project()

    assert ids(anonymous_client.get(URL, {"search": "kettle"})) == [str(kettle.pk)]
    assert ids(anonymous_client.get(URL, {"search": "stove"})) == [str(kettle.pk)]
    assert ids(anonymous_client.get(URL, {"search": "trampoline"})) == []


@pytest.mark.postgres
def test_search_on_postgresql_uses_web_search_syntax_and_ranks_the_best_match_first(anonymous_client):
    # Name weighs more than category, which weighs more than description.
    in_description = ProductFactory(name="Plain box", category="storage", description="Fits a lamp inside")
    in_name = ProductFactory(name="Desk lamp", category="lighting", description="Bright")
    ProductFactory(name="Floor lamp", category="lighting", description="Cordless")
    project()

    found = ids(anonymous_client.get(URL, {"search": "lamp -cordless"}))
    assert found == [str(in_name.pk), str(in_description.pk)]
    either = ids(anonymous_client.get(URL, {"search": '"desk lamp" or storage'}))
    assert either == [str(in_name.pk), str(in_description.pk)]


@pytest.mark.postgres
def test_an_explicit_ordering_overrides_the_search_rank(anonymous_client):
    in_description = ProductFactory(
        name="Plain box", category="storage", description="Lamp inside", price=Decimal("1.00")
    )
    in_name = ProductFactory(name="Desk lamp", category="lighting", description="Bright", price=Decimal("2.00"))
    project()
    found = ids(anonymous_client.get(URL, {"search": "lamp", "ordering": "price"}))
    assert found == [str(in_description.pk), str(in_name.pk)]


def test_search_on_sqlite_matches_substrings_of_name_sku_category_and_description(anonymous_client):
    if connections["read"].vendor != "sqlite":
        pytest.skip("the substring fallback is what SQLite uses; PostgreSQL has full-text search")
    (by_sku,) = catalog_rows(1, sku="ZX-81")
    (by_name,) = catalog_rows(1, name="A zx-81 clone")
    (by_category,) = catalog_rows(1, category="zx-81 parts")
    (by_description,) = catalog_rows(1, description="Fits the ZX-81.")
    catalog_rows(1, name="Spectrum")
    found = set(ids(anonymous_client.get(URL, {"search": "ZX-81"})))
    assert found == {str(row.pk) for row in (by_sku, by_name, by_category, by_description)}


# --- Ordering and pages ------------------------------------------------------------


def test_it_is_ordered_by_name_unless_told_otherwise(anonymous_client):
    rows = [catalog_rows(1, name=name)[0] for name in ("Cup", "Apple", "Bowl")]
    assert ids(anonymous_client.get(URL)) == [str(rows[i].pk) for i in (1, 2, 0)]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("price", ["b", "a", "c"]),
        ("-price", ["c", "a", "b"]),
        ("-units_sold", ["a", "c", "b"]),
        ("units_sold", ["b", "c", "a"]),
        ("-name", ["c", "b", "a"]),
    ],
)
def test_it_orders_by_the_columns_shoppers_sort_by(anonymous_client, ordering, expected):
    rows = {
        "a": catalog_rows(1, name="a", price=Decimal("5.00"), units_sold=30)[0],
        "b": catalog_rows(1, name="b", price=Decimal("1.00"), units_sold=1)[0],
        "c": catalog_rows(1, name="c", price=Decimal("9.00"), units_sold=20)[0],
    }
    assert ids(anonymous_client.get(URL, {"ordering": ordering})) == [str(rows[key].pk) for key in expected]


def test_equal_prices_keep_one_order_across_pages(anonymous_client):
    rows = catalog_rows(7, price=Decimal("3.00"))
    pages = [ids(anonymous_client.get(URL, {"ordering": "price", "page_size": 3, "page": page})) for page in (1, 2, 3)]
    seen = [product_id for page in pages for product_id in page]
    assert sorted(seen) == sorted(str(row.pk) for row in rows)


def test_pages_have_the_requested_size_up_to_the_cap(anonymous_client, settings):
    settings.QUERY_PAGE_SIZE = 4
    settings.QUERY_MAX_PAGE_SIZE = 6
    catalog_rows(10)

    default = anonymous_client.get(URL).json()
    assert (default["count"], len(default["results"])) == (10, 4)
    assert len(results(anonymous_client.get(URL, {"page_size": 2}))) == 2
    assert len(results(anonymous_client.get(URL, {"page_size": 1000000}))) == 6


def test_the_next_link_leads_to_the_following_page(anonymous_client):
    rows = catalog_rows(5)
    first = anonymous_client.get(URL, {"page_size": 3}).json()
    second = anonymous_client.get(first["next"]).json()
    assert [row["id"] for row in first["results"] + second["results"]] == [str(row.pk) for row in rows]
    assert second["next"] is None


def test_a_page_past_the_end_is_not_found(anonymous_client):
    catalog_rows(2)
    assert anonymous_client.get(URL, {"page": 5}).status_code == 404
    assert ids(anonymous_client.get(URL, {"page": "last", "page_size": 1})) == ids(
        anonymous_client.get(URL, {"page": 2, "page_size": 1})
    )
