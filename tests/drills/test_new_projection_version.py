"""A new version of a projection, with a new column, deployed while orders keep coming (real workers).

Version 1 projects while the shop takes orders; the deploy adds the new
column (its migration) and starts workers with version 2, which notice the
change and rebuild the customer history into a shadow table while readers
keep reading the old one; then it is swapped in. No read fails, none sees a
half-built table, and the result equals a fresh rebuild.
"""

import threading

import pytest
from django.db import connections
from django.db.models import Max
from rest_framework.test import APIClient

from commands.domain.orders import Order
from core.routers import READ_PRIMARY
from projections.models import RebuildRun
from projections.rebuild import verify
from projections.registry import registry, replayable_projections
from tests.drills.helpers import wait_until_caught_up
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order
from tests.processes import ALL_QUEUES, celery_worker, service_environment, wait_until
from tests.projections.blue_green import CustomerOrderHistoryVersion2, CustomerOrderHistoryVersion2Projection
from tests.projections.helpers import checkpoint

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__", transaction=True)]

TABLE = CustomerOrderHistoryVersion2._meta.db_table
VERSION_2 = "tests.projections.blue_green_settings"


class Shop(threading.Thread):
    """Places orders until stopped, as the storefront would."""

    def __init__(self):
        super().__init__(daemon=True)
        self.products = [ProductFactory(stock=100_000) for _ in range(4)]
        self.customers = [CustomerFactory() for _ in range(12)]
        self.stopping, self.placed, self.errors = threading.Event(), 0, []

    def run(self):
        try:
            while not self.stopping.is_set():
                number = self.placed
                place_order(self.customers[number % 12], {self.products[number % 4]: 1 + number % 5})
                self.placed += 1
        except Exception as error:
            self.errors.append(error)
        finally:
            connections.close_all()


class Reader(threading.Thread):
    """Reads the customer history (the API and the table) until stopped; records what each read saw."""

    def __init__(self, client):
        super().__init__(daemon=True)
        self.client, self.stopping = client, threading.Event()
        self.seen: list[tuple[int, int, int]] = []  # (rows, rows with the new column filled, orders counted)
        self.errors: list[str] = []

    def run(self):
        try:
            while not self.stopping.is_set():
                response = self.client.get("/api/queries/customers/")
                if response.status_code != 200:
                    self.errors.append(f"{response.status_code}: {response.content[:300]!r}")
                with connections[READ_PRIMARY].cursor() as cursor:
                    cursor.execute(f"SELECT count(*), count(largest_order), coalesce(sum(order_count), 0) FROM {TABLE}")
                    self.seen.append(cursor.fetchone())
        except Exception as error:
            self.errors.append(repr(error))
        finally:
            connections.close_all()


@pytest.fixture
def the_new_column():
    """The deploy's migration: the new column, nullable, on the live table (dropped again afterwards)."""
    field = CustomerOrderHistoryVersion2._meta.get_field("largest_order")

    def migrate():
        with connections[READ_PRIMARY].schema_editor() as editor:  # one transaction, committed at once
            editor.add_field(CustomerOrderHistoryVersion2, field)

    yield migrate
    with connections[READ_PRIMARY].schema_editor() as editor:
        editor.remove_field(CustomerOrderHistoryVersion2, field)


def test_a_new_version_with_a_new_column_is_swapped_in_while_orders_keep_coming(services, the_new_column):
    shop = Shop()
    _, redis_url = services.redis()
    version_1 = service_environment(redis_url, PROJECTION_BATCH_SIZE="20")
    version_2 = {**version_1, "DJANGO_SETTINGS_MODULE": VERSION_2}
    services.beat(version_1)
    old_worker = services.worker(version_1)
    shop.start()
    wait_until(lambda: shop.placed >= 30, timeout=60, what="orders")
    wait_until(lambda: checkpoint("customer_history").position > 0, timeout=60, what="version 1 projecting")

    the_new_column()
    client = APIClient()
    client.force_authenticate(StaffFactory(is_superuser=True))
    reader = Reader(client)
    reader.start()
    new_workers = [  # both notice the change
        celery_worker(version_2, services.log_dir, queues=ALL_QUEUES, concurrency=2, name=f"worker-v2-{number}")
        for number in (1, 2)
    ]
    for worker in new_workers:
        services.started.append(worker.start())
    for worker in new_workers:
        worker.wait_for_log("ready.", timeout=240)  # a loaded machine takes its time
    old_worker.stop()
    wait_until(lambda: checkpoint("customer_history").version == 2, timeout=300, what="version 2 swapped in")
    swapped_at = checkpoint("customer_history").position
    wait_until(lambda: checkpoint("customer_history").position > swapped_at + 20, timeout=60, what="more orders")
    shop.stopping.set()
    shop.join(timeout=30)
    wait_until_caught_up(timeout=120)
    reader.stopping.set()
    reader.join(timeout=30)

    assert shop.errors == [] and reader.errors == []
    # Never a half-built table: the new column is empty everywhere (version 1's table) or filled everywhere.
    assert all(filled in (0, rows) for rows, filled, _ in reader.seen), reader.seen
    assert any(filled == 0 for _, filled, _ in reader.seen) and any(filled > 0 for _, filled, _ in reader.seen)
    orders_counted = [orders for _, _, orders in reader.seen]
    assert orders_counted == sorted(orders_counted), "a read saw fewer orders than an earlier one"
    runs = RebuildRun.objects.using(READ_PRIMARY).filter(name="customer_history")
    assert [(run.version, run.state) for run in runs] == [(2, "done")], [
        (run.pk, run.requested_by, run.state, run.error[-300:]) for run in runs
    ]
    assert sum("queued the upgrade" in worker.log() for worker in new_workers) <= 1
    _assert_equal_to_a_fresh_rebuild(shop.placed)


def _assert_equal_to_a_fresh_rebuild(orders: int) -> None:
    assert verify(CustomerOrderHistoryVersion2Projection()).total == 0
    for name, projection in replayable_projections().items():
        if name != "customer_history":
            assert verify(projection).total == 0, name
    live = CustomerOrderHistoryVersion2.objects.using(READ_PRIMARY)
    assert sum(live.values_list("order_count", flat=True)) == orders
    largest = dict(
        Order.objects.values("customer_id").annotate(largest=Max("total")).values_list("customer_id", "largest")
    )
    assert dict(live.filter(order_count__gt=0).values_list("customer_id", "largest_order")) == largest
    assert registry()["customer_history"].version == 1  # this process still runs version 1: it read on
