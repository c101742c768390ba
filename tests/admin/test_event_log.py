"""The event log in the admin: a read-only list with filters and search, pretty payloads, and each stream's history."""

import json
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from commands.models import Customer, Order, Product, StoredEvent
from core.admin import stream_url
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import pay

pytestmark = pytest.mark.django_db(databases="__all__")

EVENTS = reverse("admin:commands_storedevent_changelist")


@pytest.fixture
def history():
    """A product, a customer, and an order of theirs that was placed and paid."""
    product = ProductFactory(sku="KETTLE", name="Copper <kettle>")
    customer = CustomerFactory(name="Ada Lovelace")
    order = place_order(customer, {product: 2})
    pay(order)
    return {"product": product, "customer": customer, "order": order}


def listed(client, **query) -> list[StoredEvent]:
    response = client.get(EVENTS, query)
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def test_the_event_log_lists_events_newest_first(viewer_client, history):
    events = listed(viewer_client)

    assert [event.type for event in events] == ["OrderPaid", "OrderPlaced", "CustomerRegistered", "ProductRegistered"]


def test_events_are_filtered_by_type(viewer_client, history):
    assert [event.type for event in listed(viewer_client, type="OrderPlaced")] == ["OrderPlaced"]


def test_every_event_type_is_offered_as_a_filter(viewer_client, history):
    page = viewer_client.get(EVENTS).content.decode()

    for event_type in ("ProductRegistered", "OrderCancelled", "OrderShipped"):
        assert f"?type={event_type}" in page


def test_events_are_filtered_by_date(viewer_client, history):
    today = timezone.localdate()
    StoredEvent.objects.filter(type="ProductRegistered").update(recorded_at=timezone.now() - timedelta(days=40))

    # What the date filter's "Today" link asks for.
    recent = listed(
        viewer_client,
        recorded_at__gte=f"{today} 00:00:00+00:00",
        recorded_at__lt=f"{today + timedelta(days=1)} 00:00:00+00:00",
    )
    this_year = listed(viewer_client, recorded_at__year=str(today.year))

    assert "ProductRegistered" not in {event.type for event in recent}
    assert len(recent) == 3
    assert len(this_year) >= 3


def test_events_are_searched_by_stream_id_or_position(viewer_client, history):
    order = history["order"]
    placed = StoredEvent.objects.get(type="OrderPlaced")

    assert [event.version for event in listed(viewer_client, q=str(order.pk))] == [2, 1]
    assert [event.position for event in listed(viewer_client, q=f"#{placed.position}")] == [placed.position]
    assert listed(viewer_client, q="no such stream") == []


def test_the_stream_id_filter_narrows_the_list_to_one_aggregate(viewer_client, history):
    events = listed(viewer_client, stream_id=str(history["product"].pk))

    assert [event.type for event in events] == ["ProductRegistered"]


def test_an_event_shows_its_payload_and_metadata_pretty_printed(viewer_client, history):
    placed = StoredEvent.objects.get(type="OrderPlaced")

    page = viewer_client.get(reverse("admin:commands_storedevent_change", args=[placed.position])).content.decode()

    assert '<pre class="json">' in page
    assert "  &quot;customer_name&quot;: &quot;Ada Lovelace&quot;" in page  # indented, escaped
    assert "Copper &lt;kettle&gt;" in page
    assert "&quot;command&quot;: &quot;PlaceOrder&quot;" in page
    assert stream_url(history["order"].pk) in page


def test_the_event_log_cannot_be_changed_in_the_admin(signed_in, history, django_user_model):
    superuser = signed_in(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    event = StoredEvent.objects.first()

    assert superuser.get(reverse("admin:commands_storedevent_add")).status_code == 403
    assert (
        superuser.post(reverse("admin:commands_storedevent_change", args=[event.pk]), {"type": "X"}).status_code == 403
    )
    assert (
        superuser.post(reverse("admin:commands_storedevent_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert StoredEvent.objects.get(pk=event.pk).type == event.type


def test_a_stream_page_tells_an_aggregates_history_oldest_first(viewer_client, history):
    order = history["order"]

    response = viewer_client.get(stream_url(order.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("v1 &middot; OrderPlaced") < page.index("v2 &middot; OrderPaid")
    assert "&quot;total&quot;: &quot;" in page
    assert reverse("admin:commands_order_change", args=[order.pk]) in page
    assert f"?stream_id={order.pk}" in page
    assert f"by {history['customer'].user.username}" in page


def test_an_unknown_stream_is_not_found(viewer_client):
    assert viewer_client.get(stream_url(uuid.uuid4())).status_code == 404


def test_a_stream_needs_the_event_log_view_permission(bare_staff_client, non_staff_client, client, history):
    url = stream_url(history["order"].pk)

    assert bare_staff_client.get(url).status_code == 403
    assert non_staff_client.get(url).status_code == 302
    assert client.get(url)["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("model", [Order, Product, Customer], ids=lambda model: model.__name__)
def test_write_model_pages_link_to_their_event_stream(viewer_client, history, model):
    aggregate = model.objects.get()
    name = model._meta.model_name

    listing = viewer_client.get(reverse(f"admin:commands_{name}_changelist")).content.decode()
    page = viewer_client.get(reverse(f"admin:commands_{name}_change", args=[aggregate.pk])).content.decode()

    assert stream_url(aggregate.pk) in listing
    assert stream_url(aggregate.pk) in page
    assert viewer_client.get(stream_url(aggregate.pk)).status_code == 200


def test_a_stream_page_payload_is_valid_json(viewer_client, history):
    """What the page shows is the stored payload, indented: it parses back to the same data."""
    event = StoredEvent.objects.get(type="ProductRegistered")
    page = viewer_client.get(stream_url(event.stream_id)).content.decode()

    shown = page.split('<pre class="json">', 1)[1].split("</pre>", 1)[0]
    unescaped = shown.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&#x27;", "'")
    assert json.loads(unescaped.replace("&amp;", "&")) == event.data
