"""When a command happens: dispatch's `at`, which only seed_demo sets; everything else happens now.

The handlers record that time on the events (`recorded_at`) and on the aggregate's own timestamps, in
the command's one transaction, so the write model and the log agree without any row being rewritten.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from commands.commands import OrderLineRequest, PayOrder, PlaceOrder, RegisterCustomer, RegisterProduct
from commands.handlers import dispatch
from commands.models import Customer, Order, Product, StoredEvent
from tests.commands.helpers import post, url
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

LAST_SPRING = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)


def register_kettle(staff_user, **at) -> Product:
    command = RegisterProduct(sku="KIT-0001", name="Kettle", category="kitchen", price=Decimal("20.00"), stock=5)
    return Product.objects.get(pk=dispatch(command, staff_user, **at).aggregate_id)


def test_a_command_dispatched_at_a_past_time_is_recorded_then(staff_user):
    product = register_kettle(staff_user, at=LAST_SPRING)

    assert StoredEvent.objects.get(stream_id=product.pk).recorded_at == LAST_SPRING
    assert product.created_at == LAST_SPRING


def test_an_order_placed_in_the_past_has_that_time_in_the_write_model_and_the_log(staff_user):
    product = register_kettle(staff_user, at=LAST_SPRING)
    shopper = UserFactory()
    dispatch(RegisterCustomer(user_id=shopper.pk, name="Ada", email="ada@example.com"), shopper, at=LAST_SPRING)
    placed_at, paid_at = LAST_SPRING + timedelta(days=3), LAST_SPRING + timedelta(days=4)

    order_id = dispatch(
        PlaceOrder(customer_id=None, lines=(OrderLineRequest(product_id=product.pk, quantity=1),)),
        shopper,
        at=placed_at,
    ).aggregate_id
    dispatch(PayOrder(order_id=order_id), shopper, at=paid_at)

    assert Customer.objects.get(user=shopper).created_at == LAST_SPRING
    assert Order.objects.get(pk=order_id).placed_at == placed_at
    events = StoredEvent.objects.filter(stream_id=order_id).order_by("version")
    assert [(event.type, event.recorded_at) for event in events] == [("OrderPlaced", placed_at), ("OrderPaid", paid_at)]


def test_without_a_time_a_command_happens_now(staff_user):
    before = timezone.now()

    product = register_kettle(staff_user)

    recorded_at = StoredEvent.objects.get(stream_id=product.pk).recorded_at
    assert before <= recorded_at <= timezone.now()
    assert before <= product.created_at <= timezone.now()


def test_an_api_client_cannot_set_the_time(customer_client, customer, product):
    before = timezone.now()
    body = {"lines": [{"product_id": str(product.pk), "quantity": 1}]}

    response = post(
        customer_client,
        url("place-order"),
        {**body, "at": LAST_SPRING.isoformat(), "recorded_at": LAST_SPRING.isoformat()},
    )

    assert response.status_code == 201, response.content
    order = Order.objects.get()
    assert before <= order.placed_at <= timezone.now()
    assert before <= StoredEvent.objects.get(stream_id=order.pk).recorded_at <= timezone.now()
