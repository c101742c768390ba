"""Live rows (projections.live): a cold LiveRows loads rows from the read models, not from their whole history,
and sends exactly what folding every row's whole history sends: from any position, in batches of any size,
with the read model behind the events or ahead of them, and when the read model cannot be trusted.

Transactional: the rows are read from the replica when one is configured, which sees only committed rows.
"""

import pytest
from django.db import OperationalError, connections
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from commands.eventlog import head_position, read_events
from core.routers import READ_PRIMARY, WRITE_DATABASE, pinned_replica
from projections import live
from projections.history import past_states, row_values, state_at
from projections.live import ROW_TOPICS, Change, LiveRows
from projections.models import Checkpoint
from queries.models import OrderSummary, ProductCatalog
from queries.stream import change_messages
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.projections.helpers import cancel, change_price, pay, project, restock, ship

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

STREAMED = ("product_catalog", "order_summary")


def a_day(products, customers) -> None:
    """Orders sharing products, each product changed several times in a row, and every kind of change."""
    kettle, mugs, teapot = products
    mugs.refresh_from_db()
    alice, bob = customers
    first = place_order(alice, {kettle: 2, mugs: 1})
    second = place_order(bob, {mugs: 3, teapot: 1})
    pay(first)
    change_price(mugs, str(mugs.price + 1))
    third = place_order(alice, {kettle: 1, mugs: 2, teapot: 1})
    ship(first)
    cancel(second)
    restock(teapot, 5)
    pay(third)


@pytest.fixture
def shop():
    products = ProductFactory.create_batch(3, stock=50)
    customers = CustomerFactory.create_batch(2)
    return products, customers


@pytest.fixture(params=["the first day", "the head"])
def two_days(request, shop):
    """Two days of the shop, the streamed read models projected up to the end of the first day or to the head."""
    a_day(*shop)
    if request.param == "the first day":
        project_streamed()
    a_day(*shop)
    if request.param == "the head":
        project_streamed()


def project_streamed() -> None:
    for name in STREAMED:
        project(name)


def folded_whole(events) -> list[Change]:
    """What the stream sends for `events`: each row as folding its whole history leaves it after each event."""
    changes = []
    for recorded in events:
        for topic in ROW_TOPICS:
            handler = live._projection(topic).handlers.get(recorded.type)
            for key in handler.rows(recorded.event, recorded) if handler else ():
                row = state_at(past_states(topic, key), position=recorded.position).row
                changes.append(Change(topic, key, recorded.position, row))
    return changes


def from_cold(after: int, *, page: int = 500) -> list[Change]:
    """What a LiveRows starting cold sends for the log after `after`, read `page` events at a time."""
    rows, changes, position = LiveRows(), [], after
    while events := read_events(position, page):
        changes += rows.changes(events)
        position = events[-1].position
    return changes


def shown(changes: list[Change]) -> list[tuple]:
    return [(change.topic, str(change.key), change.position, row_values(change.row)) for change in changes]


def whole_log() -> list[Change]:
    return folded_whole(read_events(0, 1_000))


def every_position() -> list[int]:
    """0 and each event's position: reading after a position between two events is reading after the lower.

    Not range(head_position()): a transactional test's flush leaves the sequence where earlier tests took it.
    """
    return [0, *(event.position for event in read_events(0, 1_000))]


# --- The same changes as the whole history's ---------------------------------------------------------------------


@pytest.mark.parametrize("page", [1, 4, 500])
def test_a_cold_process_sends_what_the_whole_history_gives_from_every_position(two_days, page):
    expected = whole_log()

    for after in every_position():
        assert shown(from_cold(after, page=page)) == shown([c for c in expected if c.position > after]), after


def test_the_rows_go_on_the_wire_byte_for_byte_as_the_whole_historys(two_days):
    expected = whole_log()
    after = expected[len(expected) // 2].position

    assert [message.wire for message in change_messages(from_cold(after))] == [
        message.wire for message in change_messages([c for c in expected if c.position > after])
    ]


# --- A read model that cannot be trusted is passed over ----------------------------------------------------------


def spoil_the_read_models() -> None:
    """Rows that are not what the log gives: a process that trusted them would send them."""
    ProductCatalog.objects.using(READ_PRIMARY).update(stock_available=999, units_sold=999)
    OrderSummary.objects.using(READ_PRIMARY).update(status="shipped", item_count=99)


@pytest.mark.parametrize(
    "checkpoint",
    [
        {"state": Checkpoint.State.FAILED},
        {"state": Checkpoint.State.REBUILDING},
        {"version": 0},  # built by another version of the projection's handlers
    ],
    ids=["failed", "rebuilding", "another version"],
)
def test_a_read_model_that_is_not_live_or_of_another_version_is_not_read(shop, checkpoint):
    a_day(*shop)
    project_streamed()
    a_day(*shop)
    expected = whole_log()
    spoil_the_read_models()
    Checkpoint.objects.using(READ_PRIMARY).filter(name__in=STREAMED).update(**checkpoint)

    for after in (0, expected[len(expected) // 2].position, expected[-1].position - 1):
        assert shown(from_cold(after)) == shown([c for c in expected if c.position > after])


def test_a_row_missing_from_the_read_model_is_folded_from_its_history(shop):
    a_day(*shop)
    project_streamed()
    kettle = shop[0][0]
    order = place_order(shop[1][0], {kettle: 1})
    pay(order)
    project_streamed()
    expected = whole_log()
    ProductCatalog.objects.using(READ_PRIMARY).filter(pk=kettle.pk).delete()
    OrderSummary.objects.using(READ_PRIMARY).filter(pk=order.pk).delete()

    for after in every_position():
        assert shown(from_cold(after)) == shown([c for c in expected if c.position > after]), after


def test_a_read_database_that_cannot_answer_leaves_the_rows_to_their_histories(two_days, monkeypatch):
    def unreachable(topic, keys):
        raise OperationalError("the read database is away")

    monkeypatch.setattr(live, "_read_model", unreachable)
    expected = whole_log()

    for after in (0, expected[len(expected) // 2].position):
        assert shown(from_cold(after)) == shown([c for c in expected if c.position > after])


# --- What loading costs ------------------------------------------------------------------------------------------


def test_a_cold_batch_reads_its_rows_from_the_read_models_in_one_query_and_no_history(shop):
    products, customers = shop
    for _ in range(4):
        a_day(products, customers)
    more = ProductFactory.create_batch(9, stock=50)
    project_streamed()
    after = head_position()
    for number, product in enumerate(more):
        place_order(customers[number % 2], {product: 1, products[number % 3]: 1})
    events = read_events(after, 100)

    with (
        pinned_replica() as pin,
        CaptureQueriesContext(connections[pin.alias]) as read,
        CaptureQueriesContext(connections[WRITE_DATABASE]) as written,
    ):
        changes = LiveRows().changes(events)

    assert shown(changes) == shown(folded_whole(events))
    # The twelve products' rows with their projection's checkpoint, in one query; new orders have nothing to load.
    assert len(read.captured_queries) == 1
    # And no history is read from the log.
    assert written.captured_queries == []


@override_settings(PROJECTION_PARTITIONS=dict.fromkeys(STREAMED, 2))
def test_a_cold_process_reads_each_partitions_rows_at_that_partitions_own_checkpoint(shop):
    a_day(*shop)
    for name in STREAMED:
        project(f"{name}.1of2")
    a_day(*shop)
    for name in STREAMED:
        project(f"{name}.2of2")  # partition 2 at the head, partition 1 a day behind it
    expected = whole_log()

    for after in every_position():
        assert shown(from_cold(after, page=4)) == shown([c for c in expected if c.position > after]), after
