"""Under the production web server, requests waiting for a read position hold no worker.

One web process, fifty queries waiting on a position no projection has reached
(no Celery worker runs yet): a plain read is still answered. Then a worker
starts, the projections catch up and announce it, and every wait is answered
with data at that position. Under a server whose workers block while they
wait (gunicorn's sync workers), the plain read would queue behind the waits.
"""

from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.drills.helpers import Shopper
from tests.factories import StaffFactory
from tests.processes import service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

WAITING = 50


def test_fifty_waiting_queries_leave_a_plain_read_answered_and_are_woken_by_the_projection(services):
    _, redis_url = services.redis()
    environment = service_environment(
        redis_url, QUERY_MIN_POSITION_WAIT_SECONDS="60", QUERY_WAITS_PER_CLIENT=str(WAITING)
    )
    base_url = services.web(environment, workers=1)
    staff = Shopper(base_url, StaffFactory())
    registered = staff.command(
        "products/register/", {"sku": "MUG", "name": "Mug", "category": "kitchen", "price": "8.00"}, 201
    )
    position = registered["position"]
    products = f"{base_url}/api/queries/products/"

    with ThreadPoolExecutor(WAITING) as clients:
        waits = [
            clients.submit(requests.get, products, headers={"X-Min-Position": str(position)}, timeout=90)
            for _ in range(WAITING)
        ]
        plain = requests.get(products, timeout=20)
        assert plain.status_code == 200
        assert int(plain.headers["X-Read-Position"]) < position
        assert not any(wait.done() for wait in waits)  # still waiting: no projection has run

        services.worker(environment)
        answers = [wait.result() for wait in waits]

    assert [answer.status_code for answer in answers] == [200] * WAITING
    assert all(int(answer.headers["X-Read-Position"]) >= position for answer in answers)
    assert all(answer.json()["results"][0]["sku"] == "MUG" for answer in answers)
