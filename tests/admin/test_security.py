"""Who gets in: the admin is for signed-in staff; everyone else is sent to the login page and changes nothing."""

import pytest
from django.urls import reverse

from commands.models import Order
from core.admin import stream_url
from projections.models import RebuildRun
from tests.admin.helpers import project, run_action
from tests.factories import CustomerFactory, ProductFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

PAGES = [
    reverse("admin:dashboard"),
    reverse("admin:dashboard_status"),
    reverse("admin:dashboard_sales"),
    reverse("admin:dashboard_skip", args=["product_catalog"]),
    reverse("admin:commands_storedevent_changelist"),
    reverse("admin:commands_order_changelist"),
    reverse("admin:queries_ordersummary_changelist"),
    reverse("admin:projections_checkpoint_changelist"),
    reverse("admin:commands_operatoraction_changelist"),
]
ACTIONS = [
    reverse("admin:dashboard_rebuild"),
    reverse("admin:dashboard_retry", args=["product_catalog"]),
    reverse("admin:dashboard_skip", args=["product_catalog"]),
]


def sent_to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))


@pytest.mark.parametrize("url", PAGES)
def test_signed_in_users_who_are_not_staff_are_sent_to_the_login_page(non_staff_client, url):
    assert sent_to_login(non_staff_client.get(url))


@pytest.mark.parametrize("url", PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(client, url):
    assert sent_to_login(client.get(url))


@pytest.mark.parametrize("url", ACTIONS)
def test_actions_from_users_who_are_not_staff_do_nothing(non_staff_client, client, url):
    ProductFactory()
    project()

    assert sent_to_login(non_staff_client.post(url, {"name": "product_catalog", "position": "1"}))
    assert sent_to_login(client.post(url, {"name": "product_catalog", "position": "1"}))
    assert not RebuildRun.objects.exists()


def test_admin_actions_from_users_who_are_not_staff_do_nothing(non_staff_client):
    order = place_order(CustomerFactory(), {ProductFactory(): 1})

    assert sent_to_login(run_action(non_staff_client, Order, "cancel", [order]))
    assert Order.objects.get(pk=order.pk).status == "placed"


def test_event_streams_are_for_staff_only(client):
    product = ProductFactory()

    assert sent_to_login(client.get(stream_url(product.pk)))
