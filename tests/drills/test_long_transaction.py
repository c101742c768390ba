"""A long transaction holding an unprojected position open: later commands wait their turn, nothing is skipped.

A transaction in the test process runs a command (its event appended, so it
holds the event log's append lock and its position) and stays open. Commands
sent over HTTP meanwhile queue on the append lock: they wait, and get
positions after the held one, so a projector can never pass over it.

The visible log does not move meanwhile (the held event is not committed, and
every later append is blocked behind it), so no follower lags in events or
seconds: /readyz sees the stall in the lock itself, a transaction that has held
the append lock longer than READY_MAX_LAG_SECONDS (1 s here), and answers 503
naming it. Once the transaction ends everything commits and catches up, and
/readyz is ready again.
"""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests
from django.db import connections, transaction

from commands.commands import RegisterProduct
from commands.eventlog import head_position
from commands.handlers import dispatch
from core.routers import WRITE_DATABASE
from queries.models import OrderSummary, ProductCatalog
from tests.drills.helpers import (
    METRICS_TOKEN,
    PROBE_HEADERS,
    Shopper,
    assert_read_models_match_a_rebuild,
    positions,
    wait_until_caught_up,
)
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.processes import service_environment, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

READY_MAX_LAG_SECONDS = 1


def _register_a_product_and_hold(staff, held: threading.Event, release: threading.Event) -> int:
    """Run RegisterProduct inside a transaction that stays open until `release`; return its event's position."""
    try:
        with transaction.atomic(using=WRITE_DATABASE):
            # The handler's own atomic block becomes a savepoint: its append lock lasts until this block ends.
            recorded = dispatch(
                RegisterProduct(sku="HELD-1", name="Held", price=Decimal("5.00"), category="toys", stock=10), staff
            )
            held.set()
            release.wait(timeout=30)
        return recorded.position
    finally:
        connections.close_all()  # this thread's connections, before the test database is flushed


def _waiting_for_the_append_lock() -> int:
    with connections[WRITE_DATABASE].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        return cursor.fetchone()[0]


def test_commands_queue_behind_a_long_transaction_and_projections_skip_nothing(services):
    staff = StaffFactory()
    products = [ProductFactory(stock=100, actor=staff) for _ in range(2)]  # two rows: only the append lock is shared
    customer = CustomerFactory()
    _, redis_url = services.redis()
    environment = service_environment(
        redis_url, READY_MAX_LAG_SECONDS=str(READY_MAX_LAG_SECONDS), METRICS_TOKEN=METRICS_TOKEN
    )
    shopper = Shopper(services.shop(environment), customer.user)
    probe_url = services.web(environment)  # its own gunicorn: the waiting commands hold every worker of the first
    before = wait_until_caught_up()

    held, release = threading.Event(), threading.Event()
    with ThreadPoolExecutor(3) as pool:
        holder = pool.submit(_register_a_product_and_hold, staff, held, release)
        assert held.wait(timeout=10), "the long transaction did not start"
        try:
            orders = [pool.submit(shopper.place_order, product) for product in products]
            wait_until(lambda: _waiting_for_the_append_lock() == 2, timeout=20, what="both commands at the lock")
            time.sleep(READY_MAX_LAG_SECONDS + 0.5)
            assert not any(order.done() for order in orders), "the commands must wait, not go around the lock"
            assert head_position() == before  # the visible log stands still...
            assert set(positions().values()) == {before}  # ...and no follower has moved past the held position
            readiness = requests.get(f"{probe_url}/readyz", headers=PROBE_HEADERS, timeout=10)
            assert readiness.status_code == 503, readiness.json()
            stalled = {name: result for name, result in readiness.json()["checks"].items() if result != "ok"}
            assert list(stalled) == ["event_log"], stalled
            assert stalled["event_log"].startswith("stalled: a transaction (pid "), stalled
        finally:
            release.set()
        held_position = holder.result(timeout=10)
        responses = [order.result(timeout=30) for order in orders]

    assert [response.status_code for response in responses] == [201, 201]
    placed = sorted(response.json()["position"] for response in responses)
    assert before < held_position < placed[0]
    assert wait_until_caught_up(timeout=60) == placed[-1]
    assert ProductCatalog.objects.using("read").filter(sku="HELD-1").exists()
    assert OrderSummary.objects.using("read").count() == 2
    assert_read_models_match_a_rebuild()
    assert requests.get(f"{probe_url}/readyz", timeout=10).status_code == 200
