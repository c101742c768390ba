"""The production web server does not pile up database connections, whatever CONN_MAX_AGE says.

Under ASGI each request runs its synchronous code on a thread of its own, so a
connection kept for the next request (CONN_MAX_AGE > 0) is never reused: every
request left one open, and a few minutes of load used up PostgreSQL's
max_connections ("too many clients": found by the soak, python -m soak).
scripts/serve turns persistent connections off for the web server (workers keep theirs), and
gives each web process a bounded pool (DATABASE_POOL_SIZE): with or without the pool, the
connections a web process holds do not grow with the requests it has served.
"""

import pytest
import requests
from django.db import connections

from tests.processes import service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

REQUESTS = 40


def web_connections() -> int:
    """Connections to the read database other than this test's own (no worker runs: they are the web's)."""
    with connections["read"].cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


@pytest.mark.parametrize(("pool_size", "most_connections"), [("0", 1), ("2", 2)])
def test_requests_leave_no_database_connections_behind_even_with_conn_max_age_set(
    services, pool_size, most_connections
):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, CONN_MAX_AGE="60", DATABASE_POOL_SIZE=pool_size)
    base_url = services.web(environment, workers=1)

    for _ in range(REQUESTS):
        response = requests.get(f"{base_url}/api/queries/products/", timeout=10)
        assert response.status_code == 200, response.text

    assert web_connections() <= most_connections
