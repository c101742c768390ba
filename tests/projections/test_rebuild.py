"""Rebuilding read models from the whole log: the same rows as live projection, never a half-built table.

A rebuild pauses live projection, replays the log into a scratch table, then
swaps the rows in one transaction and resumes live projection at the head.
Subscribers are never replayed.
"""

import datetime as dt
import re
import threading
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connections
from django.db.models import Count, F, Sum

from commands.eventlog import head_position
from commands.models import StoredEvent
from core.routers import READ_PRIMARY
from projections import rebuild as rebuilding
from projections.base import HandlerFailed
from projections.models import Checkpoint
from projections.rebuild import RebuildRefused, rebuild
from projections.registry import registry, replayable_projections
from projections.runner import Outcome
from queries.caching import FAMILIES, generation
from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import (
    a_busy_day,
    broken,
    checkpoint,
    pay,
    project,
    project_everything,
    read_models,
    row,
    rows,
)

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def caught_up(db):
    """A busy day's events, every follower caught up; returns the read models."""
    a_busy_day()
    project_everything()
    return read_models()


def test_a_rebuild_gives_the_same_rows_as_live_projection(caught_up):
    head, events = head_position(), StoredEvent.objects.count()

    results = [rebuild(projection, batch_size=4) for projection in replayable_projections().values()]

    assert read_models() == caught_up
    assert {(result.position, result.events) for result in results} == {(head, events)}
    assert {(checkpoint(name).state, checkpoint(name).position) for name in caught_up} == {("live", head)}


def test_a_rebuild_repairs_rows_that_drifted_from_the_log(caught_up):
    ProductCatalog.objects.using(READ_PRIMARY).update(units_sold=F("units_sold") + 7)
    OrderSummary.objects.using(READ_PRIMARY).filter(status="cancelled").delete()

    for name in ("product_catalog", "order_summary"):
        rebuild(registry()[name])

    assert read_models() == caught_up


def test_rebuild_projections_shows_progress_and_the_rate(caught_up):
    out = StringIO()
    head, events = head_position(), StoredEvent.objects.count()

    call_command("rebuild_projections", "--all", "--batch-size", "7", stdout=out)

    text = out.getvalue()
    # One pass over the log rebuilds them all: one progress bar.
    label = f"{len(replayable_projections())} projections"
    assert re.search(rf"^\r?{label} +\[#{{30}}\] +{events:,} events +[\d,]+/s +ETA +0s$", text, re.MULTILINE)
    for name in replayable_projections():
        assert re.search(
            rf"^{name}: {events} events in \d+\.\ds \([\d,]+ events/s\), live at #{head}$", text, re.MULTILINE
        )
    assert read_models() == caught_up


def test_live_projection_resumes_after_a_rebuild(caught_up, customer):
    kettle = ProductFactory()
    rebuild(registry()["order_summary"])
    order = place_order(customer, {kettle: 1})

    result = project("order_summary")

    assert (result.outcome, result.applied, result.position) == (Outcome.CAUGHT_UP, 1, head_position())
    assert row(OrderSummary, order.pk).status == "placed"


def test_live_projection_waits_while_a_rebuild_runs(caught_up):
    seen = []

    def run_live_projection(done, position, head):
        seen.append(project("order_summary").outcome)

    rebuild(registry()["order_summary"], batch_size=5, progress=run_live_projection)

    assert seen and set(seen) == {Outcome.PAUSED}
    assert checkpoint("order_summary").state == "live"


def test_an_order_placed_as_the_rebuild_finishes_is_in_the_rebuilt_rows(caught_up, customer, monkeypatch):
    placed = []
    replay = rebuilding.replay_together

    def replay_then_order(*args, **kwargs):
        replayed = replay(*args, **kwargs)
        if not placed:  # between the replay into the scratch table and the swap
            placed.append(place_order(customer, {ProductFactory(): 2}))
        return replayed

    monkeypatch.setattr(rebuilding, "replay_together", replay_then_order)
    result = rebuild(registry()["order_summary"])

    assert result.position == head_position() == checkpoint("order_summary").position
    assert result.events == StoredEvent.objects.count()
    assert row(OrderSummary, placed[0].pk).item_count == 2


def test_a_second_rebuild_is_refused_while_one_runs(caught_up):
    refusals = []

    def start_another(done, position, head):
        with pytest.raises(RebuildRefused, match="order_summary is already being rebuilt"):
            rebuild(registry()["order_summary"])
        refusals.append(position)

    rebuild(registry()["order_summary"], batch_size=5, progress=start_another)

    assert refusals
    assert read_models() == caught_up


def test_an_abandoned_rebuild_is_taken_over_only_with_force(caught_up):
    Checkpoint.objects.using(READ_PRIMARY).filter(name="order_summary").update(state="rebuilding")

    with pytest.raises(RebuildRefused):
        rebuild(registry()["order_summary"])
    with pytest.raises(CommandError, match="order_summary is already being rebuilt; pass force to take over"):
        call_command("rebuild_projections", "order_summary", stdout=StringIO())
    call_command("rebuild_projections", "order_summary", "--force", stdout=StringIO())

    assert (checkpoint("order_summary").state, checkpoint("order_summary").position) == ("live", head_position())
    assert read_models() == caught_up


def test_a_rebuild_that_fails_leaves_the_live_rows_and_resumes_live_projection(caught_up, customer):
    payment = pay(place_order(customer, {ProductFactory(): 1})).position
    project("customer_history")
    live = rows(CustomerOrderHistory)

    with broken("customer_history", "OrderPaid", at=payment), pytest.raises(HandlerFailed):
        rebuild(registry()["customer_history"])

    assert rows(CustomerOrderHistory) == live
    assert (checkpoint("customer_history").state, checkpoint("customer_history").position) == ("live", payment)
    table_names = connections[READ_PRIMARY].introspection.table_names()
    assert "queries_customerorderhistory_rebuild" not in table_names


def test_a_rebuild_leaves_the_subscribers_alone(caught_up):
    subscribers = {name: checkpoint(name) for name in ("notifications", "cache")}
    cached = {family: generation(family) for family in FAMILIES}
    CustomerFactory()  # an event the subscribers have not seen yet

    call_command("rebuild_projections", "--all", stdout=StringIO())

    for name, before in subscribers.items():
        after = checkpoint(name)
        assert (after.position, after.state, after.updated_at) == (before.position, before.state, before.updated_at)
    # The cache subscriber did not run; the rebuild itself made each family's cached responses stale once.
    assert {family: generation(family) for family in FAMILIES} == {family: cached[family] + 1 for family in FAMILIES}


def test_a_rebuild_makes_cached_responses_of_its_read_model_stale(caught_up):
    cached = {family: generation(family) for family in FAMILIES}

    call_command("rebuild_projections", "product_catalog", stdout=StringIO())

    assert generation("products") == cached["products"] + 1
    assert {family: generation(family) for family in FAMILIES if family != "products"} == {
        family: cached[family] for family in FAMILIES if family != "products"
    }


def test_rebuild_projections_refuses_subscribers(db):
    with pytest.raises(CommandError, match=r"notifications: subscribers are never replayed"):
        call_command("rebuild_projections", "notifications", stdout=StringIO())
    with pytest.raises(CommandError, match="Unknown projection cache"):
        call_command("rebuild_projections", "order_summary", "cache", stdout=StringIO())
    with pytest.raises(CommandError, match="Name projections to work on, or pass --all"):
        call_command("rebuild_projections", stdout=StringIO())


# --- Readers during a rebuild (PostgreSQL) --------------------------------------------

# What a reader checks of each read model: its row count and the sum of one column, in one statement.
WATCHED = {
    "product_catalog": (ProductCatalog, "units_sold"),
    "order_summary": (OrderSummary, "total"),
    "customer_history": (CustomerOrderHistory, "lifetime_value"),
    "daily_sales": (DailySales, "revenue"),
}


def observe(name: str) -> tuple[int, Decimal]:
    model, column = WATCHED[name]
    seen = model.objects.using(READ_PRIMARY).aggregate(rows=Count("pk"), total=Sum(column))
    return seen["rows"], seen["total"]


def drift_every_read_model() -> None:
    """Change each live read model, so that a rebuild visibly changes it back."""
    ProductCatalog.objects.using(READ_PRIMARY).update(units_sold=F("units_sold") + 1)
    OrderSummary.objects.using(READ_PRIMARY).filter(status="cancelled").delete()
    CustomerOrderHistory.objects.using(READ_PRIMARY).update(lifetime_value=F("lifetime_value") + 1)
    DailySales.objects.using(READ_PRIMARY).create(date=dt.date(2000, 1, 1), revenue=Decimal("1.00"))


@pytest.mark.postgres
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_readers_never_see_an_empty_or_half_built_read_model():
    products = [ProductFactory(stock=100) for _ in range(5)]
    customers = [CustomerFactory() for _ in range(3)]
    for number in range(60):
        order = place_order(customers[number % 3], {products[number % 5]: 1 + number % 3})
        if number % 4 == 0:
            pay(order)
    a_busy_day()
    project_everything()
    drift_every_read_model()
    before = {name: observe(name) for name in WATCHED}
    observations: dict[str, list] = {name: [] for name in WATCHED}
    started, rebuilt = threading.Event(), threading.Event()
    errors = []

    def read_in_a_loop():
        try:
            while True:
                last_round = rebuilt.is_set()
                for name in WATCHED:
                    observations[name].append(observe(name))
                started.set()
                if last_round:
                    return
        except Exception as error:
            errors.append(error)
        finally:
            started.set()
            connections.close_all()

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    started.wait(timeout=30)
    try:
        for name in WATCHED:
            rebuild(registry()[name], batch_size=25)
    finally:
        rebuilt.set()
        reader.join(timeout=60)

    assert errors == []
    after = {name: observe(name) for name in WATCHED}
    for name in WATCHED:
        assert before[name] != after[name], f"{name}: the rebuild changed nothing, so the test proves nothing"
        assert set(observations[name]) <= {before[name], after[name]}, name
        assert observations[name][0] == before[name]
        assert observations[name][-1] == after[name]
