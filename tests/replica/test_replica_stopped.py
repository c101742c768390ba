"""A stopped replica: queries fall back to the read primary, and go back to the replica once it returns.

Through a real web process (gunicorn, connections kept open between requests),
because how a dead replica is noticed depends on the request cycle: the open
connection is health-checked at the first read of each request.
"""

import pytest
import requests

from core.routers import READ_PRIMARY
from tests.factories import ProductFactory
from tests.processes import wait_until
from tests.replica.helpers import REPLICA, queries_of, web_environment

pytestmark = [pytest.mark.exclusive, pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

METRICS_TOKEN = "replica-drill-token"
PRODUCTS = "/api/queries/products/?search=lantern"


def _catalog(base_url: str) -> tuple[list[str], int]:
    response = requests.get(f"{base_url}{PRODUCTS}", timeout=10)
    assert response.status_code == 200, response.text
    return [row["name"] for row in response.json()["results"]], int(response.headers["X-Read-Position"])


def _read_the_read_side(queries: list[str]) -> bool:
    """Whether a connection's last query read the catalog or its checkpoint (a cached page reads only that)."""
    return any(table in query for query in queries for table in ("queries_productcatalog", "projections_checkpoint"))


def _readiness(base_url: str) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # the checks' results are not public
    response = requests.get(f"{base_url}/readyz", headers=headers, timeout=10)
    return response.status_code, response.json()["checks"][f"database:{REPLICA}"]


def test_queries_fall_back_to_the_read_primary_and_return_to_the_replica(
    settings, streaming_replica, replication_lag, services, tmp_path
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    ProductFactory(name="Storm lantern")
    streaming_replica.wait_until_replayed()
    _redis, redis_url = services.redis()
    environment = web_environment(redis_url, streaming_replica)
    environment.update(
        READ_REPLICA_RETRY_SECONDS="1",
        METRICS_TOKEN=METRICS_TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path),  # /metrics adds up both gunicorn workers
        CELERY_TASK_ALWAYS_EAGER="true",  # /readyz: no worker in this test, and no broker to check
    )
    base_url = services.web(environment)
    expected = _catalog(base_url)
    assert expected[0] == ["Storm lantern"]
    assert _read_the_read_side(queries_of(REPLICA, "test-web-replica"))

    streaming_replica.stop()

    for _ in range(6):  # both gunicorn workers, each with its open connection to the stopped replica
        assert _catalog(base_url) == expected
    assert _read_the_read_side(queries_of(READ_PRIMARY, "test-web-read"))
    status, replica_check = _readiness(base_url)
    assert status == 200, "a stopped replica must not take the web process out of service"
    assert replica_check.startswith("degraded: unreachable"), replica_check
    metrics = requests.get(f"{base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)
    assert f'shop_read_replica_unreachable_total{{replica="{REPLICA}"}}' in metrics.text

    streaming_replica.start()

    def served_by_the_replica_again() -> bool:
        return _catalog(base_url) == expected and _read_the_read_side(queries_of(REPLICA, "test-web-replica"))

    wait_until(served_by_the_replica_again, timeout=30, interval=0.3, what="queries to return to the replica")
    assert _readiness(base_url) == (200, "ok")
