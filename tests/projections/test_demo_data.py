"""The demo shop: after seeding and live projection, a rebuild gives identical read models and verify finds no drift.

The demo story has every kind of event (price changes mid-way, restocks,
discontinued products, orders paid, shipped and cancelled before and after
paying), so it exercises every handler on realistic data.
"""

from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command

from commands.demo import seed_demo
from commands.eventlog import head_position
from commands.events import EVENT_TYPES
from commands.models import Order, Product, StoredEvent
from core.routers import READ_PRIMARY
from projections.runner import Outcome
from queries.models import CustomerOrderHistory, OrderSummary, ProductCatalog
from tests.projections.helpers import checkpoint, project_everything, read_models

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def demo_shop(db):
    """A seeded shop, every follower caught up live, in batches smaller than the log."""
    seed_demo(products=20, customers=6, orders=60, seed=20260101)
    results = project_everything(batch_size=50)
    assert {result.outcome for result in results.values()} == {Outcome.CAUGHT_UP}
    return read_models()


def test_the_demo_has_every_kind_of_event(demo_shop):
    assert set(StoredEvent.objects.values_list("type", flat=True)) == set(EVENT_TYPES)


def test_the_read_models_agree_with_the_write_model(demo_shop):
    catalog = ProductCatalog.objects.using(READ_PRIMARY).in_bulk()
    for product in Product.objects.all():
        listed = catalog[product.pk]
        assert (listed.price, listed.stock_available) == (product.price, product.stock)
        assert (listed.status == "discontinued") == product.discontinued
    summaries = OrderSummary.objects.using(READ_PRIMARY).in_bulk()
    assert {order.pk: order.status for order in Order.objects.all()} == {
        pk: summary.status for pk, summary in summaries.items()
    }
    orders_per_customer = Counter(Order.objects.values_list("customer_id", flat=True))
    for history in CustomerOrderHistory.objects.using(READ_PRIMARY).all():
        assert history.order_count == orders_per_customer[history.customer_id]


def test_rebuilding_the_demo_shop_gives_identical_read_models(demo_shop):
    call_command("rebuild_projections", "--all", "--batch-size", "13", stdout=StringIO())

    assert read_models() == demo_shop
    assert {name: checkpoint(name).position for name in demo_shop} == dict.fromkeys(demo_shop, head_position())


def test_verify_finds_no_drift_in_the_demo_shop(demo_shop):
    out = StringIO()

    call_command("verify_projections", "--batch-size", "13", stdout=out)

    assert out.getvalue().count("rows match a rebuild") == 4
    assert "difference" not in out.getvalue()
