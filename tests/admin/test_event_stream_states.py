"""An aggregate's stream page shows its read-model state after each event, and what each event changed."""

from decimal import Decimal

import pytest

from commands.models import StoredEvent
from core.admin import stream_url
from core.routers import READ_PRIMARY
from projections.history import row_values
from queries.models import OrderSummary, ProductCatalog
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import change_price, pay, project_everything

pytestmark = pytest.mark.django_db(databases="__all__")


def shown_events(client, stream_id) -> list[tuple]:
    response = client.get(stream_url(stream_id))
    assert response.status_code == 200
    return response.context["events"]


def test_each_event_of_an_order_shows_the_order_after_it_and_what_changed(viewer_client):
    order = place_order(CustomerFactory(), {ProductFactory(price=Decimal("4.00")): 2})
    pay(order)
    project_everything()

    (_, _, _, placed), (_, _, _, paid) = shown_events(viewer_client, order.pk)

    assert placed.state["status"] == "placed" and placed.state["total"] == Decimal("8.00")
    assert ("status", None, "placed") in placed.changes
    assert [(name, before) for name, before, _ in paid.changes] == [("status", "placed"), ("paid_at", None)]
    assert paid.state == row_values(OrderSummary.objects.using(READ_PRIMARY).get(pk=order.pk))


def test_a_products_changes_are_each_events_own_though_orders_move_its_stock_in_between(viewer_client):
    kettle = ProductFactory(price=Decimal("20.00"), stock=10)
    place_order(CustomerFactory(), {kettle: 3})
    change_price(kettle, "25.00")
    project_everything()

    (_, _, _, registered), (_, _, _, repriced) = shown_events(viewer_client, kettle.pk)

    assert registered.state["stock_available"] == 10
    assert {name for name, _, _ in repriced.changes} == {"price", "updated_at"}
    assert repriced.state["stock_available"] == 7
    assert repriced.state == row_values(ProductCatalog.objects.using(READ_PRIMARY).get(pk=kettle.pk))


def test_the_page_shows_the_changes_and_the_state(viewer_client):
    order = place_order(CustomerFactory(), {ProductFactory(): 1})
    pay(order)

    page = viewer_client.get(stream_url(order.pk)).content.decode()

    assert page.count("What changed in the read model") == 2
    assert page.count("state after this event") == 2
    assert "<td>status</td><td>placed</td><td>paid</td>" in page


def test_an_old_event_is_shown_as_code_reads_it_upcast_with_its_stored_version(viewer_client, settings):
    settings.SHOP_CURRENCY = "GBP"
    order = place_order(CustomerFactory(), {ProductFactory(): 1})
    stored = StoredEvent.objects.get(stream_id=order.pk)
    v1 = {name: value for name, value in stored.data.items() if name != "currency"}
    StoredEvent.objects.filter(pk=stored.pk).update(data=v1, schema_version=1)

    page = viewer_client.get(stream_url(order.pk)).content.decode()

    assert "schema v1" in page
    assert "&quot;currency&quot;: &quot;GBP&quot;" in page
    (_, _, _, placed) = shown_events(viewer_client, order.pk)[0]
    assert placed.state["currency"] == "GBP"


def test_an_event_newer_than_the_code_is_shown_as_stored_without_states(viewer_client):
    order = place_order(CustomerFactory(), {ProductFactory(): 1})
    StoredEvent.objects.filter(stream_id=order.pk).update(schema_version=99)

    response = viewer_client.get(stream_url(order.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert "schema v99" in page
    assert "What changed in the read model" not in page
    assert "OrderPlaced v99 is newer than this code" in page
