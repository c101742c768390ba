"""Exactly once: a worker SIGKILLed mid-batch, then restarted, double-counts nothing and loses nothing."""

import signal

import psycopg
import pytest
from django.db import connections
from django.db.models import Sum
from django.test import override_settings

from commands.eventlog import head_position
from queries.models import OrderSummary, ProductCatalog
from tests.drills.helpers import assert_read_models_match_a_rebuild, positions, wait_until_caught_up
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.processes import ALL_QUEUES, service_environment, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

ORDERS = 600
READ_MODELS = ("product_catalog", "order_summary", "customer_history", "daily_sales")


def _place_orders(count: int) -> None:
    products = [ProductFactory(stock=10_000) for _ in range(5)]
    customers = [CustomerFactory() for _ in range(10)]
    for number in range(count):
        place_order(customers[number % 10], {products[number % 5]: 1, products[(number + 1) % 5]: 2})


def _read_backends(condition: str) -> int:
    with connections["read"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            f"AND pid <> pg_backend_pid() AND {condition}"
        )
        return cursor.fetchone()[0]


def _assert_everything_projected_exactly_once(orders: int) -> None:
    wait_until_caught_up()
    assert OrderSummary.objects.using("read").count() == orders
    assert ProductCatalog.objects.using("read").aggregate(sold=Sum("units_sold"))["sold"] == orders * 3
    assert_read_models_match_a_rebuild()


def test_a_worker_killed_while_its_batch_is_blocked_mid_write_applies_it_once_after_restart(services):
    _place_orders(ORDERS)
    _, redis_url = services.redis()
    environment = service_environment(redis_url, PROJECTION_BATCH_SIZE="50")
    read = connections["read"].settings_dict
    # Hold the order summaries locked: the projector's batch will stop inside its transaction, mid-write.
    with psycopg.connect(dbname=read["NAME"], user=read["USER"], host=read["HOST"], port=read["PORT"]) as blocker:
        blocker.execute("LOCK TABLE queries_ordersummary IN ACCESS EXCLUSIVE MODE")
        services.beat(environment)
        worker = services.worker(environment)
        wait_until(lambda: _read_backends("wait_event_type = 'Lock'") > 0, timeout=60, what="a projector blocked")
        worker.kill(signal.SIGKILL)
        stuck_at = positions()["order_summary"]
        blocker.rollback()
    assert stuck_at < head_position()

    services.worker(environment)
    _assert_everything_projected_exactly_once(ORDERS)


def _kill_three_times_mid_batch(start_worker, head: int) -> None:
    """Start a worker, SIGKILL it while a projector is mid-batch, before the head; three times over."""
    for _ in range(3):
        worker = start_worker()
        before = positions()
        wait_until(
            lambda before=before: (
                positions() != before and _read_backends("xact_start IS NOT NULL AND state <> 'idle'")
            ),
            timeout=60,
            interval=0.005,
            what="a projector mid-batch",
        )
        worker.kill(signal.SIGKILL)
        assert min(positions().values()) < head, "the drill must kill the worker before it finishes"


def test_a_worker_killed_at_random_moments_mid_batch_applies_everything_once(services):
    _place_orders(ORDERS)
    _, redis_url = services.redis()
    environment = service_environment(redis_url, PROJECTION_BATCH_SIZE="10")
    services.beat(environment)

    _kill_three_times_mid_batch(lambda: services.worker(environment), head_position())

    services.worker(environment)
    _assert_everything_projected_exactly_once(ORDERS)


def test_a_partition_worker_killed_at_random_moments_mid_batch_applies_everything_once(services):
    """Two worker processes share the read models two ways, and are killed mid-batch three times."""
    with override_settings(PROJECTION_PARTITIONS=dict.fromkeys(READ_MODELS, 2)):
        _place_orders(ORDERS)
        _, redis_url = services.redis()
        environment = service_environment(
            redis_url,
            PROJECTION_BATCH_SIZE="10",
            PROJECTION_PARTITIONS=",".join(f"{name}=2" for name in READ_MODELS),
        )
        services.beat(environment)
        services.worker(environment, queues=ALL_QUEUES.replace("projections,", ""), name="subscribers")

        # Two pool processes: each runs its own lane of partitions, both killed with their worker.
        def projector():
            return services.worker(environment, queues="projections", concurrency=2, name="projector")

        _kill_three_times_mid_batch(projector, head_position())
        assert {name for name in positions() if "of2" in name} == {f"{n}.{i}of2" for n in READ_MODELS for i in (1, 2)}

        projector()
        _assert_everything_projected_exactly_once(ORDERS)
