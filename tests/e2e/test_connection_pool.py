"""A burst of requests far beyond a web process's connection pool queues for it; PostgreSQL never runs out.

Under ASGI each request in flight runs its sync code on a thread of its own, so
without a pool one web process opens as many connections as it has requests in
flight: a burst exhausted max_connections and answered 503
write_database_unavailable. Here one web process with a pool of 2 per database
takes 80 concurrent commands and queries. Every one is answered, and the
connections it holds, sampled throughout from pg_stat_activity, never exceed
2 per database. Without the pool the sampler sees dozens.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from django.db import connections

from tests.drills.helpers import Shopper
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.processes import database_url, service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

POOL_SIZE = 2
ORDERS = 30
QUERIES = 50


class ConnectionSampler:
    """Counts, until stopped, the backends on the test databases that are not in `known` (the test's own)."""

    def __init__(self, known: set[int]):
        self.known = known
        self.most = 0
        self.samples = 0
        self._stop = threading.Event()
        self._names = [connections[alias].settings_dict["NAME"] for alias in ("default", "read")]
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "ConnectionSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        with psycopg.connect(database_url("default"), autocommit=True) as sampling:
            while not self._stop.is_set():
                row = sampling.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = ANY(%s) "
                    "AND pid <> pg_backend_pid() AND NOT pid = ANY(%s)",
                    [self._names, list(self.known)],
                ).fetchone()
                self.most = max(self.most, row[0])
                self.samples += 1


def _own_backends() -> set[int]:
    """The pids of every backend on the test databases now: this test process's own connections."""
    names = [connections[alias].settings_dict["NAME"] for alias in ("default", "read")]
    with psycopg.connect(database_url("default"), autocommit=True) as probe:
        return {pid for (pid,) in probe.execute("SELECT pid FROM pg_stat_activity WHERE datname = ANY(%s)", [names])}


def test_a_burst_far_beyond_the_pool_is_answered_within_its_connections(services):
    staff = StaffFactory()
    product = ProductFactory(stock=ORDERS, actor=staff)
    customer = CustomerFactory()
    _, redis_url = services.redis()
    known = _own_backends()
    # The pool timeout is generous: this shared machine may be slow, and the bound is what is tested here.
    environment = service_environment(
        redis_url, DATABASE_POOL_SIZE=str(POOL_SIZE), DATABASE_POOL_TIMEOUT="60", THROTTLE_USER_RATE="100000/minute"
    )
    base_url = services.web(environment, workers=1)
    shopper = Shopper(base_url, customer.user)

    with ConnectionSampler(known) as sampler, ThreadPoolExecutor(ORDERS + QUERIES) as clients:
        placed = [clients.submit(shopper.place_order, product) for _ in range(ORDERS)]
        queried = [clients.submit(shopper.query, "orders/") for _ in range(QUERIES)]
        answers = [future.result() for future in placed + queried]

    assert [a.status_code for a in answers[:ORDERS]] == [201] * ORDERS, {
        a.text for a in answers if a.status_code >= 300
    }
    assert [a.status_code for a in answers[ORDERS:]] == [200] * QUERIES
    assert sampler.samples > 0
    # One web process, two databases (default and read; no replica configured for the services).
    assert 0 < sampler.most <= 2 * POOL_SIZE
