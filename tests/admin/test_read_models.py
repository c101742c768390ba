"""The read models in the admin: listed, filtered, searched and shown, never changed, read from the replica."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.utils.html import escape

from core.admin import stream_url
from core.routers import pinned_replica
from projections.models import Checkpoint, LagSample, OutgoingEmail, RebuildRun, SkippedEvent
from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog
from tests.admin.helpers import project
from tests.factories import CustomerFactory, ProductFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

READ_MODELS = [ProductCatalog, OrderSummary, CustomerOrderHistory, DailySales]


@pytest.fixture
def shop():
    """A kettle and a mug, Ada who ordered both, Bob who ordered a mug; everything projected."""
    kettle = ProductFactory(sku="KETTLE", name="Copper kettle")
    mug = ProductFactory(sku="MUG", name="Blue mug")
    ada = CustomerFactory(name="Ada Lovelace")
    bob = CustomerFactory(name="Bob Babbage")
    first = place_order(ada, {kettle: 1, mug: 2})
    second = place_order(bob, {mug: 1})
    project()
    return {"kettle": kettle, "mug": mug, "ada": ada, "bob": bob, "first": first, "second": second}


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def change(model, pk) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda model: model.__name__)
def test_each_read_model_is_listed_and_each_row_shown(viewer_client, shop, model):
    row = model.objects.first()

    listing = viewer_client.get(changelist(model))
    page = viewer_client.get(change(model, row.pk))

    assert listing.status_code == 200
    assert listing.context["cl"].result_count == model.objects.count() > 0
    assert page.status_code == 200
    assert page.context["title"].startswith("View")  # a read-only page, without a save button
    assert b'name="_save"' not in page.content


@pytest.mark.parametrize("model", READ_MODELS, ids=lambda model: model.__name__)
def test_nobody_adds_changes_or_deletes_a_read_model_row_in_the_admin(signed_in, shop, model, django_user_model):
    superuser = signed_in(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    row = model.objects.first()
    count = model.objects.count()

    assert superuser.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")).status_code == 403
    assert superuser.post(change(model, row.pk), {}).status_code == 403
    delete = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_delete", args=[row.pk])
    assert superuser.post(delete, {"post": "yes"}).status_code == 403
    assert model.objects.count() == count


@pytest.mark.parametrize(
    "model",
    [*READ_MODELS, Checkpoint, SkippedEvent, OutgoingEmail, RebuildRun],
    ids=lambda model: model.__name__,
)
def test_the_admin_reads_the_read_side_from_the_replica_the_request_is_pinned_to(operator, model):
    request = RequestFactory().get("/admin/")
    request.user = operator
    model_admin = admin.site._registry[model]

    with pinned_replica("read_replica_7"):
        queryset = model_admin.get_queryset(request)
        assert queryset.db == "read_replica_7"  # not forced onto `read` or `default`


def test_lag_samples_are_not_in_the_admin():
    assert LagSample not in admin.site._registry  # they are the dashboard's chart


def test_order_summaries_are_filtered_by_status_and_searched_by_customer_or_id(viewer_client, shop):
    url = changelist(OrderSummary)

    def found(**query) -> set:
        return {row.pk for row in viewer_client.get(url, query).context["cl"].result_list}

    assert found(q="Lovelace") == {shop["first"].pk}
    assert found(q=str(shop["second"].pk)) == {shop["second"].pk}
    assert found(status="placed") == {shop["first"].pk, shop["second"].pk}
    assert found(status="paid") == set()


def test_the_catalog_is_filtered_and_searched(viewer_client, shop):
    url = changelist(ProductCatalog)

    def found(**query) -> set:
        return {row.sku for row in viewer_client.get(url, query).context["cl"].result_list}

    assert found(q="kettle") == {"KETTLE"}
    assert found(q=str(shop["mug"].pk)) == {"MUG"}
    assert found(status="active") == {"KETTLE", "MUG"}


def test_read_model_pages_link_to_the_aggregates_event_history(viewer_client, shop):
    order, ada, kettle = shop["first"], shop["ada"], shop["kettle"]

    assert stream_url(order.pk) in viewer_client.get(changelist(OrderSummary)).content.decode()
    order_page = viewer_client.get(change(OrderSummary, order.pk)).content.decode()
    assert stream_url(order.pk) in order_page
    assert stream_url(ada.pk) in order_page  # the customer's history, too
    assert stream_url(ada.pk) in viewer_client.get(change(CustomerOrderHistory, ada.pk)).content.decode()
    assert stream_url(kettle.pk) in viewer_client.get(change(ProductCatalog, kettle.pk)).content.decode()


def test_an_order_summary_shows_its_lines(viewer_client, shop):
    page = viewer_client.get(change(OrderSummary, shop["first"].pk)).content.decode()

    assert "<td>KETTLE</td><td>Copper kettle</td><td>1</td>" in page
    assert "<td>MUG</td><td>Blue mug</td><td>2</td>" in page


def test_an_outgoing_email_shows_when_it_was_claimed_and_its_message_id(viewer_client, shop):
    confirmation = OutgoingEmail.objects.using("read").order_by("position").first()  # Ada's order's

    page = viewer_client.get(change(OutgoingEmail, confirmation.pk)).content.decode()

    assert "Claimed at" in page
    assert escape(f"<order_confirmation.{confirmation.position}@localhost>") in page


def test_the_read_side_lists_use_a_date_hierarchy(viewer_client, shop):
    response = viewer_client.get(changelist(OrderSummary))

    assert response.context["cl"].date_hierarchy == "placed_at"
    assert b'<nav class="toplinks">' in response.content


def test_staff_without_the_view_permission_cannot_see_a_read_model(bare_staff_client, shop):
    assert bare_staff_client.get(changelist(OrderSummary)).status_code == 403
