"""verify_projections: rebuild each read model into a scratch table at its checkpoint and compare row by row."""

import datetime as dt
import re
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections

from commands.eventlog import head_position
from core.routers import READ_PRIMARY
from projections.rebuild import verify
from projections.registry import replayable_projections
from queries.models import DailySales, OrderSummary, ProductCatalog
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import a_busy_day, project_everything, read_models

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def caught_up(db):
    a_busy_day()
    project_everything()
    return read_models()


def verify_projections(*names: str) -> str:
    out = StringIO()
    try:
        call_command("verify_projections", *names, stdout=out)
    except CommandError as drift:
        raise AssertionError(out.getvalue()) from drift
    return out.getvalue()


def drift_reported(*names: str) -> tuple[str, str]:
    """Run verify_projections expecting drift; return (what it printed, the error it exits with)."""
    out = StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("verify_projections", *names, stdout=out)
    return out.getvalue(), str(failure.value)


def matching(printed: str) -> list[str]:
    """The projections verify_projections found in step with a rebuild."""
    return re.findall(r"^(\w+): \d+ rows match a rebuild", printed, re.MULTILINE)


def test_a_healthy_read_model_matches_a_rebuild(caught_up):
    printed = verify_projections()

    head = head_position()
    for name, rows in caught_up.items():
        assert f"{name}: {len(rows)} rows match a rebuild at #{head}" in printed
    assert read_models() == caught_up


def test_it_changes_nothing_and_leaves_no_scratch_table(caught_up):
    verify_projections()

    assert read_models() == caught_up
    scratch = [table for table in connections[READ_PRIMARY].introspection.table_names() if table.endswith("_verify")]
    assert scratch == []


def test_a_tampered_column_is_reported_with_both_values(caught_up):
    listed = ProductCatalog.objects.using(READ_PRIMARY).order_by("pk").first()
    ProductCatalog.objects.using(READ_PRIMARY).filter(pk=listed.pk).update(units_sold=listed.units_sold + 40)

    printed, error = drift_reported()

    assert error == "Drift found in product_catalog."
    assert "product_catalog: 1 difference(s) at #" in printed
    assert (
        f"product_catalog {listed.pk}: units_sold is {listed.units_sold + 40}, a rebuild gives {listed.units_sold}"
        in printed
    )
    assert matching(printed) == ["order_summary", "customer_history", "daily_sales"]


def test_a_deleted_row_is_reported_missing(caught_up):
    gone = OrderSummary.objects.using(READ_PRIMARY).order_by("pk").values_list("pk", flat=True).last()
    OrderSummary.objects.using(READ_PRIMARY).filter(pk=gone).delete()

    printed, error = drift_reported("order_summary")

    assert error == "Drift found in order_summary."
    assert f"order_summary {gone}: missing from the live read model" in printed


def test_a_stray_row_is_reported(caught_up):
    DailySales.objects.using(READ_PRIMARY).create(date=dt.date(2000, 1, 1), orders_placed=1, revenue=Decimal(9))

    printed, error = drift_reported("daily_sales")

    assert error == "Drift found in daily_sales."
    assert "daily_sales 2000-01-01: in the live read model, not in a rebuild" in printed


def test_every_drifted_projection_is_named(caught_up):
    ProductCatalog.objects.using(READ_PRIMARY).update(stock_available=0)
    DailySales.objects.using(READ_PRIMARY).all().delete()

    printed, error = drift_reported()

    assert error == "Drift found in product_catalog, daily_sales."
    assert re.findall(r"^(\w+): \d+ difference", printed, re.MULTILINE) == ["product_catalog", "daily_sales"]
    assert matching(printed) == ["order_summary", "customer_history"]


def test_only_the_named_projections_are_checked(caught_up):
    ProductCatalog.objects.using(READ_PRIMARY).update(stock_available=0)

    printed = verify_projections("order_summary", "customer_history")

    assert matching(printed) == ["order_summary", "customer_history"]


def test_events_not_yet_projected_are_not_drift(caught_up, customer):
    place_order(customer, {ProductFactory(): 1})  # committed, not yet caught up

    drifts = [verify(projection) for projection in replayable_projections().values()]

    assert [drift.total for drift in drifts] == [0, 0, 0, 0]
    assert all(drift.position < head_position() for drift in drifts)


def test_subscribers_cannot_be_verified(db):
    with pytest.raises(CommandError, match="subscribers are never replayed"):
        call_command("verify_projections", "notifications", stdout=StringIO())
