"""The `events_recorded` signal: sent once after a command commits, never for one that rolled back.

These tests commit for real (transaction=True): on-commit hooks only run then.
"""

from decimal import Decimal

import pytest
from django.db import transaction

from commands.commands import ChangePrice, RegisterProduct
from commands.errors import PriceUnchanged
from commands.eventlog import RecordedEvent, read_stream
from commands.handlers import dispatch
from commands.models import Product
from commands.signals import events_recorded
from tests.commands.helpers import post, url
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)


class Abandon(Exception):
    """Raised in a transaction to roll it back on purpose."""


@pytest.fixture
def received():
    """Every `events` list the signal delivered, in order."""
    deliveries: list[list[RecordedEvent]] = []

    def receiver(sender, events, **kwargs):
        deliveries.append(events)

    events_recorded.connect(receiver)
    yield deliveries
    events_recorded.disconnect(receiver)


def register_teapot() -> RegisterProduct:
    return RegisterProduct(sku="TEA-001", name="Teapot", category="kitchen", price=Decimal("24.50"))


def test_it_is_sent_once_with_the_recorded_events(received, staff_user):
    recorded = dispatch(register_teapot(), staff_user)

    assert received == [recorded.events]
    [event] = received[0]
    assert event == read_stream(recorded.aggregate_id)[0]
    assert (event.type, event.position, event.version) == ("ProductRegistered", recorded.position, 1)


def test_it_waits_for_the_outer_transaction_to_commit(received, staff_user):
    with transaction.atomic():
        recorded = dispatch(register_teapot(), staff_user)
        assert received == []

    assert received == [recorded.events]


def test_it_is_not_sent_when_the_transaction_rolls_back(received, staff_user):
    with pytest.raises(Abandon), transaction.atomic():
        recorded = dispatch(register_teapot(), staff_user)
        raise Abandon

    assert received == []
    assert not Product.objects.exists()
    assert read_stream(recorded.aggregate_id) == []


def test_it_is_not_sent_for_a_refused_command(received, staff_user):
    product = ProductFactory(price=Decimal("9.99"))
    received.clear()

    with pytest.raises(PriceUnchanged):
        dispatch(ChangePrice(product_id=product.pk, new_price=Decimal("9.99")), staff_user)

    assert received == []


def test_an_api_command_sends_it_once_and_a_replay_not_again(received, staff_client, staff_user):
    product = ProductFactory(price=Decimal("9.99"))
    received.clear()
    change_price = url("change-price", product.pk)

    first = post(staff_client, change_price, {"new_price": "5.00"}, headers={"Idempotency-Key": "reprice"})
    post(staff_client, change_price, {"new_price": "5.00"}, headers={"Idempotency-Key": "reprice"})

    [[event]] = received
    assert (event.type, event.position) == ("ProductPriceChanged", first.json()["position"])
    assert event.metadata["actor"]["id"] == staff_user.pk
