"""X-Read-Position on every query response, and X-Min-Position: wait for the projection, or 503."""

from contextlib import ExitStack
from decimal import Decimal

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test.utils import CaptureQueriesContext

from core.routers import READ_PRIMARY, replica_aliases
from projections.registry import registry
from projections.runner import catch_up
from queries import waiting
from tests.factories import ProductFactory
from tests.queries.helpers import (
    catalog_rows,
    customer_rows,
    extend_log_to,
    order_rows,
    project,
    read_database,
    set_checkpoint,
)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ORDERS = "/api/queries/orders/"


async def must_not_wait(seconds, *waiting_for):
    pytest.fail("it should not wait")


def place_order_through_the_api(client, product, quantity=1) -> tuple[str, int]:
    """POST the command the way a storefront does; return the order id and its X-Event-Position."""
    response = client.post(
        "/api/commands/orders/place/",
        {"lines": [{"product_id": str(product.pk), "quantity": quantity}]},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()["id"], int(response["X-Event-Position"])


@pytest.fixture
def product(db):
    product = ProductFactory(price=Decimal("5.00"), stock=20)
    project()
    return product


# --- X-Read-Position -------------------------------------------------------------------

POSITIONS = {
    "product_catalog": 11,
    "order_summary": 12,
    "customer_history": 13,
    "daily_sales": 14,
    "notifications": 15,
    "cache": 16,
    "payment_timeout": 17,
    "low_stock": 18,
}


@pytest.mark.parametrize(
    ("client_fixture", "url", "position"),
    [
        ("anonymous_client", "/api/queries/products/", 11),
        ("staff_client", "/api/queries/orders/", 12),
        ("customer_client", "/api/queries/orders/", 12),  # whose orders: also the customer history
        ("staff_client", "/api/queries/customers/", 13),
        ("staff_client", "/api/queries/sales/daily/", 14),
        ("staff_client", "/api/queries/projections/", 11),  # the lowest of all
        ("staff_client", "/api/queries/projections/cache/", 16),
    ],
)
def test_every_response_carries_the_position_of_the_projections_behind_it(request, client_fixture, url, position):
    client = request.getfixturevalue(client_fixture)
    for name, value in POSITIONS.items():
        set_checkpoint(name, value)
    response = client.get(url)
    assert response.status_code == 200
    assert response["X-Read-Position"] == str(position)


def test_the_projection_names_exist():
    assert set(POSITIONS) == set(registry())


def test_a_not_found_answer_carries_the_position_too(anonymous_client):
    set_checkpoint("product_catalog", 7)
    response = anonymous_client.get("/api/queries/products/0b6b6c4e-0000-4000-8000-000000000000/")
    assert (response.status_code, response["X-Read-Position"]) == (404, "7")


@pytest.mark.parametrize(
    ("client_fixture", "url"),
    [
        ("anonymous_client", "/api/queries/products/?search=x&category=books"),
        ("customer_client", "/api/queries/orders/"),
        ("customer_client", "/api/queries/customers/"),
        ("staff_client", "/api/queries/sales/daily/"),
    ],
)
def test_the_position_and_the_data_come_from_the_one_database_the_request_is_pinned_to(request, client_fixture, url):
    client = request.getfixturevalue(client_fixture)
    catalog_rows(2)
    order_rows(2)
    customer_rows(1)
    expected = read_database()
    read_side = [READ_PRIMARY, *replica_aliases()]
    with ExitStack() as stack:
        captures = {alias: stack.enter_context(CaptureQueriesContext(connections[alias])) for alias in read_side}
        assert client.get(url).status_code == 200

    used = {alias for alias, capture in captures.items() if capture.captured_queries}
    assert used == {expected}
    # The checkpoint is read first: the data read after it includes at least that position.
    queries = [query["sql"] for query in captures[expected].captured_queries]
    assert "projections_checkpoint" in queries[0]
    assert not any("projections_checkpoint" in sql for sql in queries[1:])
    if replica_aliases():
        assert expected != READ_PRIMARY  # with replicas configured, reads never fall back to `read`


# --- X-Min-Position ------------------------------------------------------------------------


def test_an_order_placed_through_the_command_api_is_readable_at_its_event_position(
    live_projections, customer, customer_client, product
):
    order_id, position = place_order_through_the_api(customer_client, product, quantity=2)

    response = customer_client.get(f"{ORDERS}{order_id}/", headers={"X-Min-Position": str(position)})

    assert response.status_code == 200, response.content
    assert int(response["X-Read-Position"]) >= position
    assert (response.json()["id"], response.json()["item_count"]) == (order_id, 2)


def test_a_request_waits_while_the_projection_catches_up(
    held_projections, monkeypatch, customer, customer_client, product
):
    order_id, position = place_order_through_the_api(customer_client, product)
    pauses = []

    async def a_projector_runs_meanwhile(seconds, *waiting_for):
        pauses.append(seconds)
        await sync_to_async(project)()

    monkeypatch.setattr(waiting, "pause", a_projector_runs_meanwhile)

    response = customer_client.get(f"{ORDERS}{order_id}/", {"min_position": position})

    assert response.status_code == 200, response.content
    assert len(pauses) == 1
    assert int(response["X-Read-Position"]) >= position


def test_a_projection_that_stays_behind_answers_503_with_retry_after(
    held_projections, settings, customer, customer_client, product
):
    settings.QUERY_MIN_POSITION_WAIT_SECONDS = 0.1
    before = int(customer_client.get(ORDERS)["X-Read-Position"])
    order_id, position = place_order_through_the_api(customer_client, product)

    response = customer_client.get(f"{ORDERS}{order_id}/", headers={"X-Min-Position": str(position)})

    assert response.status_code == 503
    assert response.json() == {"code": "projection_behind", "detail": response.json()["detail"]}
    assert str(position) in response.json()["detail"]
    assert response["Retry-After"] == "1"
    assert response["X-Read-Position"] == str(before)

    project()
    retried = customer_client.get(f"{ORDERS}{order_id}/", headers={"X-Min-Position": str(position)})
    assert retried.status_code == 200


def test_without_a_wait_a_request_behind_is_refused_at_once(settings, anonymous_client, monkeypatch):
    settings.QUERY_MIN_POSITION_WAIT_SECONDS = 0
    extend_log_to(1)
    monkeypatch.setattr(waiting, "pause", must_not_wait)
    response = anonymous_client.get("/api/queries/products/", headers={"X-Min-Position": "1"})
    assert (response.status_code, response["Retry-After"], response["X-Read-Position"]) == (503, "1", "0")


def test_a_customers_orders_wait_for_the_customer_history_too(held_projections, customer, customer_client, product):
    order_id, position = place_order_through_the_api(customer_client, product)
    catch_up(registry()["order_summary"])  # the order is there, but whose it is may not be

    behind = customer_client.get(f"{ORDERS}{order_id}/", headers={"X-Min-Position": str(position)})
    assert behind.status_code == 503

    catch_up(registry()["customer_history"])
    assert customer_client.get(f"{ORDERS}{order_id}/", headers={"X-Min-Position": str(position)}).status_code == 200


def test_a_position_already_reached_is_answered_at_once(anonymous_client, monkeypatch):
    set_checkpoint("product_catalog", 10)
    monkeypatch.setattr(waiting, "pause", must_not_wait)
    response = anonymous_client.get("/api/queries/products/", {"min_position": "10"})
    assert (response.status_code, response["X-Read-Position"]) == (200, "10")


def test_the_larger_of_header_and_parameter_counts(anonymous_client):
    set_checkpoint("product_catalog", 10)
    extend_log_to(11)
    header_larger = anonymous_client.get("/api/queries/products/?min_position=3", headers={"X-Min-Position": "10"})
    assert header_larger.status_code == 200
    both = anonymous_client.get("/api/queries/products/?min_position=11", headers={"X-Min-Position": "3"})
    assert both.status_code == 503


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "", " ", "1e3", "0x10", "\uff11\uff12", str(2**63), "9" * 5000])
def test_a_malformed_min_position_is_a_400(anonymous_client, value):
    as_parameter = anonymous_client.get("/api/queries/products/", {"min_position": value})
    as_header = anonymous_client.get("/api/queries/products/", headers={"X-Min-Position": value})
    for response, name in ((as_parameter, "min_position"), (as_header, "X-Min-Position")):
        assert response.status_code == 400
        body = response.json()
        assert (body["code"], list(body["errors"])) == ("invalid", [name])
