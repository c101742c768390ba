"""DailySalesProjection: per day (UTC), orders placed, items, revenue, and what was cancelled."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from commands import eventlog
from queries.models import DailySales
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import cancel, pay, project, rows, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle(db):
    return ProductFactory(price=Decimal("40.00"), stock=50)


@pytest.fixture
def clock(monkeypatch):
    """Set the time events are recorded at: clock("2030-03-01 12:00").

    The handlers take the write model's times from Django's clock, and PostgreSQL's
    append records its events by the database's: both are set.
    """
    append = eventlog.append

    def set_to(moment: str) -> None:
        now = dt.datetime.fromisoformat(moment).replace(tzinfo=dt.UTC)
        monkeypatch.setattr(timezone, "now", lambda: now)

        def append_now(*args, recorded_at=None, **kwargs):
            return append(*args, recorded_at=recorded_at or now, **kwargs)

        monkeypatch.setattr(eventlog, "append", append_now)

    return set_to


def sales() -> dict[dt.date, tuple]:
    project("daily_sales")
    return {
        day["date"]: (
            day["orders_placed"],
            day["items_sold"],
            day["revenue"],
            day["orders_cancelled"],
            day["revenue_cancelled"],
        )
        for day in rows(DailySales)
    }


def test_a_days_orders_add_up_to_its_sales(clock, customer, kettle):
    clock("2030-03-01 09:00")
    place_order(customer, {kettle: 1})
    place_order(customer, {kettle: 3})

    assert sales() == {dt.date(2030, 3, 1): (2, 4, Decimal("160.00"), 0, Decimal(0))}


def test_paying_and_shipping_do_not_count_as_new_sales(clock, customer, kettle):
    clock("2030-03-01 09:00")
    order = place_order(customer, {kettle: 2})
    pay(order)
    ship(order)

    assert sales() == {dt.date(2030, 3, 1): (1, 2, Decimal("80.00"), 0, Decimal(0))}


def test_a_cancellation_counts_on_the_day_it_happens(clock, customer, kettle):
    clock("2030-03-01 09:00")
    order = place_order(customer, {kettle: 2})
    pay(order)
    clock("2030-03-03 10:00")
    cancel(order)

    assert sales() == {
        dt.date(2030, 3, 1): (1, 2, Decimal("80.00"), 0, Decimal(0)),
        dt.date(2030, 3, 3): (0, 0, Decimal(0), 1, Decimal("80.00")),
    }


def test_an_unpaid_cancellation_is_counted_too(clock, customer, kettle):
    clock("2030-03-01 09:00")
    order = place_order(customer, {kettle: 1})
    cancel(order)

    assert sales() == {dt.date(2030, 3, 1): (1, 1, Decimal("40.00"), 1, Decimal("40.00"))}


def test_days_are_cut_at_midnight_utc(clock, customer, kettle):
    clock("2030-03-01 23:59:59")
    place_order(customer, {kettle: 1})
    clock("2030-03-02 00:00:01")
    place_order(customer, {kettle: 2})

    assert sales() == {
        dt.date(2030, 3, 1): (1, 1, Decimal("40.00"), 0, Decimal(0)),
        dt.date(2030, 3, 2): (1, 2, Decimal("80.00"), 0, Decimal(0)),
    }


def test_later_batches_add_to_the_days_row(clock, customer, kettle):
    clock("2030-03-01 09:00")
    place_order(customer, {kettle: 1})
    sales()
    clock("2030-03-01 17:00")
    place_order(customer, {kettle: 1})

    assert sales() == {dt.date(2030, 3, 1): (2, 2, Decimal("80.00"), 0, Decimal(0))}
