"""Losing a database is a clear 503 on its own side only, and loses no event.

The services reach the database under test through a TcpProxy that the drill
cuts (listener and live connections closed: refused connections, dropped
sessions) and restores, so the shared PostgreSQL server is never touched. The
test process itself stays on the real database for its assertions.
"""

from dataclasses import dataclass

import pytest
import requests
from django.db import connections

from commands.eventlog import head_position
from commands.models import Product
from queries.models import OrderSummary
from tests.drills.helpers import (
    METRICS_TOKEN,
    PROBE_HEADERS,
    Shopper,
    assert_read_models_match_a_rebuild,
    positions,
    wait_until_caught_up,
)
from tests.factories import CustomerFactory, ProductFactory, StaffFactory
from tests.processes import TcpProxy, database_url_through, service_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]


@dataclass
class ShopBehindAProxy:
    """The served shop with one database behind `proxy`, a product in stock and a customer's first order placed."""

    proxy: TcpProxy
    base_url: str
    product: Product
    customer: Shopper
    staff: Shopper


@pytest.fixture
def shop_with_a_database_behind_a_proxy(services):
    """shop_with_a_database_behind_a_proxy(alias) -> ShopBehindAProxy; its proxy is stopped at the end of the test."""
    proxies = []

    def serve(alias: str) -> ShopBehindAProxy:
        staff = StaffFactory()
        product = ProductFactory(stock=100, actor=staff)
        customer = CustomerFactory()
        proxies.append(TcpProxy(int(connections[alias].settings_dict["PORT"] or 5432)).start())
        setting = {"default": "DATABASE_URL", "read": "READ_DATABASE_URL"}[alias]
        _, redis_url = services.redis()
        base_url = services.shop(
            service_environment(
                redis_url, METRICS_TOKEN=METRICS_TOKEN, **{setting: database_url_through(alias, proxies[-1])}
            )
        )
        shop = ShopBehindAProxy(
            proxies[-1], base_url, product, Shopper(base_url, customer.user), Shopper(base_url, staff)
        )
        assert shop.customer.place_order(product).status_code == 201
        return shop

    yield serve
    for proxy in proxies:
        proxy.stop()


def _assert_unavailable(response: requests.Response, code: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0


def test_without_the_read_database_commands_succeed_queries_answer_503_and_projections_catch_up(
    shop_with_a_database_behind_a_proxy,
):
    shop = shop_with_a_database_behind_a_proxy("read")
    base_url, as_customer = shop.base_url, shop.customer
    wait_until_caught_up()

    shop.proxy.cut()
    placed = [as_customer.place_order(shop.product) for _ in range(5)]
    restocked = shop.staff.send(f"products/{shop.product.pk}/restock/", {"quantity": 5})
    assert [response.status_code for response in placed] == [201] * 5
    assert restocked.status_code == 200, restocked.text
    _assert_unavailable(requests.get(f"{base_url}/api/queries/products/", timeout=10), "read_database_unavailable")
    _assert_unavailable(as_customer.query("orders/"), "read_database_unavailable")
    readiness = requests.get(f"{base_url}/readyz", headers=PROBE_HEADERS, timeout=10)
    assert readiness.status_code == 503
    assert readiness.json()["checks"]["database:read"].startswith("unreachable")
    assert max(positions().values()) < head_position() == restocked.json()["position"]

    shop.proxy.restore()
    head = wait_until_caught_up(timeout=60)
    assert OrderSummary.objects.using("read").count() == 6
    assert_read_models_match_a_rebuild()
    after = as_customer.query("orders/")
    assert after.status_code == 200
    assert int(after.headers["X-Read-Position"]) == head


def test_without_the_write_database_commands_answer_503_and_queries_serve_the_read_side(
    shop_with_a_database_behind_a_proxy,
):
    shop = shop_with_a_database_behind_a_proxy("default")
    base_url, as_customer, product = shop.base_url, shop.customer, shop.product
    head = wait_until_caught_up()

    shop.proxy.cut()
    for _ in range(3):
        _assert_unavailable(as_customer.place_order(product), "write_database_unavailable")
    # The catalog is public: answering it needs nothing from the write database (tokens live there).
    catalog = requests.get(f"{base_url}/api/queries/products/", timeout=10)
    detail = requests.get(f"{base_url}/api/queries/products/{product.pk}/", timeout=10)
    assert catalog.status_code == detail.status_code == 200
    assert [row["id"] for row in catalog.json()["results"]] == [str(product.pk)]
    assert detail.json()["units_sold"] == 1
    assert int(catalog.headers["X-Read-Position"]) == head
    assert head_position() == head  # nothing was recorded while refused

    shop.proxy.restore()
    assert as_customer.place_order(product).status_code == 201
    wait_until_caught_up(timeout=60)
    assert OrderSummary.objects.using("read").count() == 2
    assert_read_models_match_a_rebuild()
