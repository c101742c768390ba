"""Past states: /api/queries/orders/<id>/history/ and ?as_of= on the order and product details.

A past state is the aggregate's events folded through the projection's own
handlers, so the newest one must equal the live read model's row, as the
detail endpoint serializes it; and every earlier one what the detail said then.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from commands.eventlog import head_position
from commands.models import StoredEvent
from tests.factories import ProductFactory, StaffFactory, place_order
from tests.projections.helpers import cancel, change_price, pay, restock, ship
from tests.queries.helpers import project

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

ORDERS = "/api/queries/orders/"
PRODUCTS = "/api/queries/products/"


@pytest.fixture
def kettle(db):
    return ProductFactory(price=Decimal("20.00"), stock=10)


@pytest.fixture
def shipped_order(customer, kettle):
    """An order placed, paid and shipped, with the detail as it was projected after each step."""
    order = place_order(customer, {kettle: 2})
    seen = []
    for step in (None, pay, ship):
        if step:
            step(order)
        project()
        seen.append(detail_now(order))
    return order, seen


def detail_now(order) -> dict:
    """The order's detail as staff see it now."""
    client = APIClient()
    client.force_authenticate(StaffFactory())
    return client.get(f"{ORDERS}{order.pk}/").json()


def positions_of(stream_id) -> list[int]:
    return list(StoredEvent.objects.filter(stream_id=stream_id).order_by("version").values_list("position", flat=True))


# --- History ------------------------------------------------------------------------


def test_an_orders_history_lists_its_state_after_each_event_as_the_detail_showed_it(customer_client, shipped_order):
    order, seen = shipped_order

    response = customer_client.get(f"{ORDERS}{order.pk}/history/")

    assert response.status_code == 200
    history = response.json()
    assert [entry["type"] for entry in history] == ["OrderPlaced", "OrderPaid", "OrderShipped"]
    assert [entry["position"] for entry in history] == positions_of(order.pk)
    assert [entry["state"] for entry in history] == seen
    events = StoredEvent.objects.filter(stream_id=order.pk).order_by("version")
    assert [entry["recorded_at"] for entry in history] == [
        event.recorded_at.isoformat().replace("+00:00", "Z") for event in events
    ]
    assert response.has_header("X-Read-Position")


def test_a_cancelled_orders_history_ends_cancelled(staff_client, customer, kettle):
    order = place_order(customer, {kettle: 1})
    cancel(order, reason="changed my mind")
    project()

    history = staff_client.get(f"{ORDERS}{order.pk}/history/").json()

    assert [entry["state"]["status"] for entry in history] == ["placed", "cancelled"]
    assert history[-1]["state"] == staff_client.get(f"{ORDERS}{order.pk}/").json()


# --- as_of ----------------------------------------------------------------------


def test_an_order_as_of_a_position_is_the_order_after_that_event(customer_client, shipped_order):
    order, seen = shipped_order
    placed, paid, _ = positions_of(order.pk)

    assert customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": placed}).json() == seen[0]
    assert customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": paid}).json() == seen[1]
    # Between two of its events, the order is as the earlier one left it.
    assert customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": head_position()}).json() == seen[2]


def test_an_order_as_of_a_moment_is_the_order_after_the_events_recorded_by_then(customer_client, shipped_order):
    order, _ = shipped_order
    events = list(StoredEvent.objects.filter(stream_id=order.pk).order_by("version"))
    # Spread the events out so that a moment falls clearly between two of them.
    for days, event in zip((3, 2, 1), events, strict=True):
        StoredEvent.objects.filter(pk=event.pk).update(recorded_at=event.recorded_at - timedelta(days=days))
    between_paid_and_shipped = events[0].recorded_at - timedelta(hours=36)

    body = customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": between_paid_and_shipped.isoformat()}).json()

    assert (body["status"], body["shipped_at"]) == ("paid", None)


def test_a_moment_without_an_offset_is_read_as_utc(customer_client, shipped_order):
    order, _ = shipped_order
    placed = StoredEvent.objects.filter(stream_id=order.pk, version=1).get().recorded_at
    naive = placed.replace(tzinfo=None).isoformat()

    assert customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": naive}).json()["status"] == "placed"


def test_before_the_order_existed_it_is_not_found(customer_client, shipped_order):
    order, _ = shipped_order
    before = StoredEvent.objects.get(stream_id=order.pk, version=1)

    by_position = customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": before.position - 1})
    by_moment = customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": "2001-01-01T00:00:00Z"})

    assert (by_position.status_code, by_moment.status_code) == (404, 404)
    assert "did not exist yet" in by_position.json()["detail"]


@pytest.mark.parametrize("as_of", ["yesterday", "-1", "1.5", "2026-13-01", "", "१२"])
def test_a_malformed_as_of_is_a_400_that_says_what_it_wants(customer_client, shipped_order, as_of):
    order, _ = shipped_order

    response = customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": as_of})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "event position" in response.json()["errors"]["as_of"][0]


@pytest.mark.parametrize("beyond", [1, 10**30])
def test_a_position_past_the_head_of_the_log_is_a_400(customer_client, shipped_order, beyond):
    order, _ = shipped_order

    response = customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": head_position() + beyond})

    assert response.status_code == 400
    assert "past the head of the event log" in response.json()["errors"]["as_of"][0]


# --- Who may see it -------------------------------------------------------------


def test_another_customer_sees_neither_the_history_nor_a_past_state(other_customer_client, shipped_order):
    order, _ = shipped_order

    assert other_customer_client.get(f"{ORDERS}{order.pk}/history/").status_code == 404
    assert other_customer_client.get(f"{ORDERS}{order.pk}/", {"as_of": head_position()}).status_code == 404


def test_anonymous_visitors_must_sign_in_for_the_past_too(anonymous_client, shipped_order):
    order, _ = shipped_order

    assert anonymous_client.get(f"{ORDERS}{order.pk}/history/").status_code == 401
    assert anonymous_client.get(f"{ORDERS}{order.pk}/", {"as_of": 1}).status_code == 401


def test_an_unknown_order_has_no_history(staff_client, shipped_order):
    assert staff_client.get(f"{ORDERS}00000000-0000-0000-0000-000000000000/history/").status_code == 404


# --- Products -----------------------------------------------------------------------


def test_a_product_as_of_each_point_is_what_its_detail_showed_then(anonymous_client, customer, kettle):
    """A product's row moves with its own events and with the orders for it (stock, units sold)."""
    seen = {}
    project()
    seen[head_position()] = anonymous_client.get(f"{PRODUCTS}{kettle.pk}/").json()
    order = place_order(customer, {kettle: 3, ProductFactory(): 1})
    for step in (
        lambda: None,
        lambda: change_price(kettle, "25.00"),
        lambda: restock(kettle, 4),
        lambda: cancel(order),
    ):
        step()
        project()
        seen[head_position()] = anonymous_client.get(f"{PRODUCTS}{kettle.pk}/").json()

    past = {position: anonymous_client.get(f"{PRODUCTS}{kettle.pk}/", {"as_of": position}).json() for position in seen}

    assert past == seen
    assert [state["stock_available"] for state in past.values()] == [10, 7, 7, 11, 14]


def test_a_product_before_it_was_registered_is_not_found(anonymous_client, kettle):
    project()
    registered = StoredEvent.objects.get(stream_id=kettle.pk).position

    assert anonymous_client.get(f"{PRODUCTS}{kettle.pk}/", {"as_of": registered - 1}).status_code == 404


# --- The schema (what the fuzzer in test_schema_fuzz.py generates requests from) -----------------


def test_the_schema_documents_as_of_and_the_history():
    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]

    for detail in ("/api/queries/orders/{id}/", "/api/queries/products/{id}/"):
        assert ("query", "as_of") in {(p["in"], p["name"]) for p in paths[detail]["get"]["parameters"]}
    history = paths["/api/queries/orders/{id}/history/"]["get"]["responses"]
    assert history["200"]["content"]["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/OrderPastState"
    }
    state = schema["components"]["schemas"]["OrderPastState"]["properties"]
    assert set(state) == {"position", "recorded_at", "type", "state"}
    assert {"404", "400", "401"} <= set(history)
