"""Asynchronous commands over HTTP (gunicorn) run by real Celery workers and beat, on PostgreSQL and Redis.

Each test provokes what its guarantee is about: a worker SIGKILLed in the middle
of a command, a broker that loses the tasks, a younger command whose task comes
first, a client that sends the same command twice.
"""

import psycopg
import pytest
import redis
import requests
from django.db import connection

from commands.models import InboxCommand, Product, StoredEvent
from tests.factories import ProductFactory, StaffFactory
from tests.processes import database_url, service_environment, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "correct horse battery staple"
# Beat looks every second for commands accepted over a second ago whose task never ran.
FAST_SWEEP = {"COMMAND_SWEEP_SECONDS": "1", "COMMAND_SWEEP_AFTER_SECONDS": "1"}


class AsyncClient:
    """Sends commands with Prefer: respond-async over HTTP, signed in with a token."""

    def __init__(self, base_url: str, user):
        self.base_url = base_url
        response = requests.post(f"{base_url}/api/auth/token/", json={"username": user.username, "password": PASSWORD})
        response.raise_for_status()
        self.headers = {"Authorization": f"Token {response.json()['token']}", "Prefer": "respond-async"}

    def restock(self, product, quantity: int, **headers: str) -> requests.Response:
        response = requests.post(
            f"{self.base_url}/api/commands/products/{product.pk}/restock/",
            json={"quantity": quantity},
            headers={**self.headers, **headers},
            timeout=30,
        )
        assert response.status_code == 202, response.text
        return response

    def status(self, accepted: requests.Response) -> dict:
        return requests.get(f"{self.base_url}{accepted.headers['Location']}", headers=self.headers, timeout=30).json()

    def wait_until_finished(self, accepted: requests.Response, timeout: float = 60) -> dict:
        wait_until(lambda: self.status(accepted)["status"] != "accepted", timeout=timeout, what="the command to run")
        return self.status(accepted)


def restocked_quantities(product) -> list[int]:
    events = StoredEvent.objects.filter(stream_id=product.pk, type="ProductRestocked").order_by("position")
    return [event.data["quantity"] for event in events]


def backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_a_command_whose_worker_is_killed_mid_command_runs_exactly_once(services):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, **FAST_SWEEP)
    client = AsyncClient(services.web(environment), StaffFactory())
    kettle = ProductFactory(stock=10)
    doomed = services.worker(environment)

    # The test holds the product's row lock: the worker claims the command and waits inside its handler.
    with psycopg.connect(database_url("default")) as holder:
        holder.execute("SELECT 1 FROM commands_product WHERE id = %s FOR UPDATE", [kettle.pk])
        accepted = client.restock(kettle, 5)
        wait_until(lambda: backends_waiting_for_a_lock() == 1, timeout=30, what="the worker inside the handler")
        doomed.kill()  # SIGKILL, pool children and all: its transaction never commits
        holder.rollback()
    assert client.status(accepted)["status"] == "accepted"

    services.worker(environment)
    services.beat(environment)
    status = client.wait_until_finished(accepted)

    assert status["status"] == "succeeded"
    assert restocked_quantities(kettle) == [5]
    assert Product.objects.get(pk=kettle.pk).stock == 15
    event = StoredEvent.objects.get(stream_id=kettle.pk, type="ProductRestocked")
    assert event.metadata["command_id"] == accepted.json()["command_id"]
    assert status["result"] == {"id": str(kettle.pk), "version": event.version, "position": event.position}


def test_the_sweep_runs_a_command_whose_task_the_broker_lost(services):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, **FAST_SWEEP)
    client = AsyncClient(services.web(environment), StaffFactory())
    kettle = ProductFactory(stock=10)

    accepted = client.restock(kettle, 3)  # no worker yet: its task waits in Redis
    redis.Redis.from_url(redis_url).flushall()  # ... and is lost
    services.worker(environment)
    services.beat(environment)

    assert client.wait_until_finished(accepted)["status"] == "succeeded"
    assert restocked_quantities(kettle) == [3]


def test_two_commands_on_one_product_run_in_the_order_they_were_accepted(services):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, **FAST_SWEEP)
    client = AsyncClient(services.web(environment), StaffFactory())
    kettle = ProductFactory(stock=10)

    first = client.restock(kettle, 1)
    redis.Redis.from_url(redis_url).flushall()  # the first one's task is lost: the second one's comes first
    second = client.restock(kettle, 2)
    services.worker(environment)
    services.beat(environment)

    assert client.wait_until_finished(second)["status"] == "succeeded"
    assert client.wait_until_finished(first)["status"] == "succeeded"
    assert restocked_quantities(kettle) == [1, 2]


def test_an_idempotency_key_replay_returns_the_first_202_and_status(services):
    _, redis_url = services.redis()
    environment = service_environment(redis_url, **FAST_SWEEP)
    client = AsyncClient(services.web(environment), StaffFactory())
    kettle = ProductFactory(stock=10)
    services.worker(environment)

    first = client.restock(kettle, 4, **{"Idempotency-Key": "restock-kettle-1"})
    first_status = client.wait_until_finished(first)
    replay = client.restock(kettle, 4, **{"Idempotency-Key": "restock-kettle-1"})

    assert replay.json() == first.json() == {"command_id": first.json()["command_id"], "status": "accepted"}
    assert replay.headers["Location"] == first.headers["Location"]
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert client.status(replay) == first_status
    assert first_status["status"] == "succeeded"
    assert restocked_quantities(kettle) == [4]
    assert InboxCommand.objects.count() == 1
