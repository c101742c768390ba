"""seed_demo --days: a demo shop with a quarter of history, made through the handlers in time order.

Every order is placed on one of the last 90 days (each day gets one: there are more orders than days),
the log's recorded_at never goes backwards along its positions (the seeder makes its commands in time
order), the sales read model takes its days from the events, and a rebuild gives the same read models.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from commands.demo import MAX_HISTORY_DAYS, DemoError, seed_demo
from commands.models import Order, Product, StoredEvent
from core.routers import READ_PRIMARY
from queries.models import DailySales
from tests.projections.helpers import project_everything, read_models

pytestmark = pytest.mark.django_db(databases="__all__")

DAYS = 90


@pytest.fixture
def quarter():
    """A shop seeded with 95 orders over the last 90 days, every follower caught up."""
    started = timezone.now()
    seed_demo(products=10, customers=4, orders=95, days=DAYS, seed=90)
    project_everything(batch_size=100)
    return started


def last_days(count: int, today) -> set:
    return {today - timedelta(days=back) for back in range(count)}


def test_the_orders_fall_on_every_day_of_the_last_90_and_the_sales_show_them(quarter):
    placed_days = {order.placed_at.date() for order in Order.objects.all()}
    selling_days = set(
        DailySales.objects.using(READ_PRIMARY).filter(orders_placed__gt=0).values_list("date", flat=True)
    )

    assert placed_days == selling_days == last_days(DAYS, quarter.date())
    assert sum(DailySales.objects.using(READ_PRIMARY).values_list("orders_placed", flat=True)) == 95


def test_the_log_is_in_time_order_and_agrees_with_the_write_model(quarter):
    events = list(StoredEvent.objects.order_by("position").values_list("type", "stream_id", "recorded_at"))
    times = [recorded_at for _, _, recorded_at in events]

    assert times == sorted(times), "recorded_at goes backwards along the log's positions"
    assert times[0].date() == quarter.date() - timedelta(days=DAYS - 1)
    assert times[-1] <= timezone.now()
    placed = {stream: at for kind, stream, at in events if kind == "OrderPlaced"}
    assert placed == {order.pk: order.placed_at for order in Order.objects.all()}
    registered = {stream: at for kind, stream, at in events if kind == "ProductRegistered"}
    assert registered == {product.pk: product.created_at for product in Product.objects.all()}


def test_a_rebuild_gives_the_same_read_models(quarter):
    live = read_models()

    call_command("rebuild_projections", "--all", "--batch-size", "37", stdout=StringIO())

    assert read_models() == live


def test_a_history_is_refused_once_the_log_has_newer_events(quarter):
    events = StoredEvent.objects.count()

    with pytest.raises(DemoError, match="leave out --days"):
        seed_demo(products=1, customers=1, orders=1, days=30, seed=1)

    assert StoredEvent.objects.count() == events
    # Without a history, more demo data can still be added: it happens now, after everything else.
    seed_demo(products=1, customers=1, orders=1, seed=1)
    times = list(StoredEvent.objects.order_by("position").values_list("recorded_at", flat=True))
    assert times == sorted(times)


def test_the_command_refuses_a_history_older_than_the_log_and_says_why():
    seed_demo(products=1, customers=0, orders=0)  # the catalog happens now
    events = StoredEvent.objects.count()

    with pytest.raises(CommandError, match="leave out --days"):
        call_command("seed_demo", "--days", "7", "--orders", "1", "--force", stdout=StringIO())

    assert StoredEvent.objects.count() == events


def test_a_history_longer_than_ten_years_is_refused():
    with pytest.raises(DemoError, match=f"at most {MAX_HISTORY_DAYS} days"):
        seed_demo(products=1, customers=1, orders=1, days=MAX_HISTORY_DAYS + 1)

    assert not StoredEvent.objects.exists()
