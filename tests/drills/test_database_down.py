"""Losing a database is a clear 503 on its own side only, and loses no event.

The services reach the database under test through a TcpProxy that the drill
cuts (listener and live connections closed: refused connections, dropped
sessions) and restores, so the shared PostgreSQL server is never touched. The
test process itself stays on the real database for its assertions.
"""

import pytest
import requests
from django.db import connections

from commands.eventlog import head_position
from queries.models import OrderSummary
from tests.drills.helpers import assert_read_models_match_a_rebuild, positions, wait_until_caught_up
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.processes import TcpProxy, database_url_through, service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

PASSWORD = "correct horse battery staple"
METRICS_TOKEN = "database-drill-token"
PROBE_HEADERS = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # /readyz names the failed check only to its bearer


@pytest.fixture
def proxy_to():
    """proxy_to(alias): a started TcpProxy in front of that database's server; stopped at the end of the test."""
    started = []

    def start(alias: str) -> TcpProxy:
        started.append(TcpProxy(int(connections[alias].settings_dict["PORT"] or 5432)).start())
        return started[-1]

    yield start
    for proxy in started:
        proxy.stop()


def _token(base_url: str, user) -> dict[str, str]:
    response = requests.post(f"{base_url}/api/auth/token/", json={"username": user.username, "password": PASSWORD})
    response.raise_for_status()
    return {"Authorization": f"Token {response.json()['token']}"}


def _place(base_url: str, headers, product) -> requests.Response:
    return requests.post(
        f"{base_url}/api/commands/orders/place/",
        json={"lines": [{"product_id": str(product.pk), "quantity": 1}]},
        headers=headers,
        timeout=10,
    )


def _restock(base_url: str, headers, product) -> requests.Response:
    return requests.post(
        f"{base_url}/api/commands/products/{product.pk}/restock/", json={"quantity": 5}, headers=headers, timeout=10
    )


def _assert_unavailable(response: requests.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0


def test_without_the_read_database_commands_succeed_queries_answer_503_and_projections_catch_up(services, proxy_to):
    staff = StaffFactory()
    product = ProductFactory(stock=100, actor=staff)
    customer = CustomerFactory()
    proxy = proxy_to("read")
    _, redis_url = services.redis()
    environment = service_environment(
        redis_url, READ_DATABASE_URL=database_url_through("read", proxy), METRICS_TOKEN=METRICS_TOKEN
    )
    base_url = services.web(environment)
    services.worker(environment)
    services.beat(environment)
    customer_headers, staff_headers = _token(base_url, customer.user), _token(base_url, staff)
    assert _place(base_url, customer_headers, product).status_code == 201
    wait_until_caught_up()

    proxy.cut()
    placed = [_place(base_url, customer_headers, product) for _ in range(5)]
    restocked = _restock(base_url, staff_headers, product)
    assert [response.status_code for response in placed] == [201] * 5
    assert restocked.status_code == 200, restocked.text
    _assert_unavailable(requests.get(f"{base_url}/api/queries/products/", timeout=10), "read_database_unavailable")
    orders = requests.get(f"{base_url}/api/queries/orders/", headers=customer_headers, timeout=10)
    _assert_unavailable(orders, "read_database_unavailable")
    readiness = requests.get(f"{base_url}/readyz", headers=PROBE_HEADERS, timeout=10)
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["database:read"].startswith("unreachable")
    assert max(positions().values()) < head_position() == restocked.json()["position"]

    proxy.restore()
    head = wait_until_caught_up(timeout=60)
    assert OrderSummary.objects.using("read").count() == 6
    assert_read_models_match_a_rebuild()
    after = requests.get(f"{base_url}/api/queries/orders/", headers=customer_headers, timeout=10)
    assert after.status_code == 200
    assert int(after.headers["X-Read-Position"]) == head


def test_without_the_write_database_commands_answer_503_and_queries_serve_the_read_side(services, proxy_to):
    staff = StaffFactory()
    product = ProductFactory(stock=100, actor=staff)
    customer = CustomerFactory()
    proxy = proxy_to("default")
    _, redis_url = services.redis()
    environment = service_environment(redis_url, DATABASE_URL=database_url_through("default", proxy))
    base_url = services.web(environment)
    services.worker(environment)
    services.beat(environment)
    headers = _token(base_url, customer.user)
    assert _place(base_url, headers, product).status_code == 201
    head = wait_until_caught_up()

    proxy.cut()
    for _ in range(3):
        _assert_unavailable(_place(base_url, headers, product), "write_database_unavailable")
    # The catalog is public: answering it needs nothing from the write database (tokens live there).
    catalog = requests.get(f"{base_url}/api/queries/products/", timeout=10)
    detail = requests.get(f"{base_url}/api/queries/products/{product.pk}/", timeout=10)
    assert catalog.status_code == detail.status_code == 200
    assert [row["id"] for row in catalog.json()["results"]] == [str(product.pk)]
    assert detail.json()["units_sold"] == 1
    assert int(catalog.headers["X-Read-Position"]) == head
    assert head_position() == head  # nothing was recorded while refused

    proxy.restore()
    assert _place(base_url, headers, product).status_code == 201
    wait_until_caught_up(timeout=60)
    assert OrderSummary.objects.using("read").count() == 2
    assert_read_models_match_a_rebuild()
