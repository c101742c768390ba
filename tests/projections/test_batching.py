"""catch_up applies the log in batches: any batch size gives the same read models, each batch in a few queries."""

from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext

from commands.eventlog import head_position
from commands.models import StoredEvent
from core.routers import READ_PRIMARY
from projections.models import Checkpoint
from projections.registry import replayable_projections
from projections.runner import catch_up_projections
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import a_busy_day, project, read_models

pytestmark = pytest.mark.django_db(databases="__all__")


def forget_everything() -> None:
    """Empty every read model and set its checkpoint back to the start of the log."""
    for projection in replayable_projections().values():
        projection.model.objects.using(READ_PRIMARY).all().delete()
    Checkpoint.objects.using(READ_PRIMARY).filter(name__in=replayable_projections()).update(position=0)


def test_small_batches_give_the_same_read_models_as_one_big_batch():
    a_busy_day()
    head = head_position()
    for name in replayable_projections():
        assert project(name, batch_size=3).position == head
    in_small_batches = read_models()

    forget_everything()
    for name in replayable_projections():
        assert project(name, batch_size=1000).position == head

    assert read_models() == in_small_batches
    assert all(in_small_batches.values())


def test_it_reports_every_event_it_applied_across_batches():
    a_busy_day()
    head = head_position()

    result = project("order_summary", batch_size=4)

    assert (result.applied, result.position) == (StoredEvent.objects.count(), head)
    assert project("order_summary", batch_size=4).applied == 0


def queries_to_project(name: str, orders: int, shop) -> int:
    """Place `orders` orders, then count the queries that catch up `name` in one batch."""
    products, customers = shop
    for number in range(orders):
        place_order(customers[number % len(customers)], {products[number % len(products)]: 1})
    with (
        CaptureQueriesContext(connections[READ_PRIMARY]) as on_read,
        CaptureQueriesContext(connections["default"]) as on_default,
    ):
        result = project(name, batch_size=500)
    assert result.applied == orders
    return len(on_read) + len(on_default)


@pytest.mark.parametrize("name", list(replayable_projections()))
def test_a_batch_costs_the_same_queries_for_10_orders_as_for_100(name):
    shop = [ProductFactory(stock=500, price=Decimal("5.00")) for _ in range(5)], [CustomerFactory() for _ in range(3)]
    project(name)

    assert queries_to_project(name, 10, shop) == queries_to_project(name, 100, shop)


def test_one_pass_reads_each_batch_of_the_log_once_for_every_projection():
    a_busy_day()
    head = head_position()

    with CaptureQueriesContext(connections["default"]) as on_default:
        results = catch_up_projections(batch_size=3)

    assert {result.position for result in results.values()} == {head}
    reads = [query for query in on_default.captured_queries if "commands_storedevent" in query["sql"]]
    # Every full batch, and the short one that reached the head.
    assert len(reads) == StoredEvent.objects.count() // 3 + 1
    in_one_pass = read_models()

    forget_everything()
    for name in replayable_projections():
        project(name, batch_size=3)
    assert read_models() == in_one_pass
