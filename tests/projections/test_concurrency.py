"""Runners for the same follower never apply an event twice: the second gives up at once (PostgreSQL).

catch_up locks the follower's checkpoint row with SELECT ... FOR UPDATE SKIP
LOCKED, so a runner that finds it held returns BUSY instead of queueing.
"""

import threading

import pytest
from django.db import connections

from commands.eventlog import head_position
from core.routers import READ_PRIMARY
from projections.models import Checkpoint
from projections.registry import registry
from projections.runner import Outcome, catch_up, ensure_checkpoints
from projections.tasks import run_follower
from queries.models import OrderSummary, ProductCatalog
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import checkpoint, locked_elsewhere, project, row

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__", transaction=True)]


def checkpoint_held(name: str):
    """Hold `name`'s checkpoint row locked from another connection, as a runner in mid-batch does."""
    return locked_elsewhere(lambda: Checkpoint.objects.using(READ_PRIMARY).select_for_update().get(name=name))


@pytest.fixture
def an_order(customer):
    order = place_order(customer, {ProductFactory(stock=10): 2})
    ensure_checkpoints()
    return order


def test_a_runner_gives_up_at_once_while_another_holds_the_checkpoint(an_order):
    with checkpoint_held("order_summary"):
        result = project("order_summary")

        assert (result.outcome, result.applied) == (Outcome.BUSY, 0)
        assert not OrderSummary.objects.using(READ_PRIMARY).exists()

    assert project("order_summary").position == head_position()
    assert row(OrderSummary, an_order.pk).status == "placed"


def test_other_followers_go_on_while_one_is_held(an_order):
    with checkpoint_held("order_summary"):
        result = project("product_catalog")

    assert (result.outcome, result.position) == (Outcome.CAUGHT_UP, head_position())


def test_a_busy_run_looks_again_once_shortly(an_order, enqueued):
    enqueued.clear()  # the wake-ups of the commands above

    with checkpoint_held("order_summary"):
        outcome = run_follower("order_summary")
        recheck = run_follower("order_summary", recheck=False)

    assert outcome["outcome"] == recheck["outcome"] == Outcome.BUSY.value
    assert enqueued == ["order_summary"]


def test_runners_racing_on_one_projection_apply_each_event_once(customer):
    kettle = ProductFactory(stock=500)
    for _ in range(40):
        place_order(customer, {kettle: 1})
    ensure_checkpoints()
    start = threading.Barrier(4)
    outcomes, errors = [], []

    def run():
        try:
            start.wait(timeout=30)
            outcomes.append(catch_up(registry()["product_catalog"], batch_size=3).outcome)
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    runners = [threading.Thread(target=run) for _ in range(4)]
    for runner in runners:
        runner.start()
    for runner in runners:
        runner.join(timeout=60)

    assert errors == []
    assert Outcome.CAUGHT_UP in outcomes
    project("product_catalog")  # whatever a busy runner left
    listed = row(ProductCatalog, kettle.pk)
    assert (listed.units_sold, listed.stock_available) == (40, 460)
    assert checkpoint("product_catalog").position == head_position()
