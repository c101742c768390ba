"""Query endpoints read from the streaming replica, and never from the read primary, while it answers."""

from contextlib import ExitStack
from datetime import date

import pytest
import requests
from django.db import connections
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from core.routers import READ_PRIMARY
from tests.factories import CustomerFactory, ProductFactory, place_order
from tests.replica.helpers import REPLICA, queries_of, web_environment

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, databases="__all__")]

READ_SIDE_TABLES = ("queries_", "projections_checkpoint")


@pytest.fixture
def shop(settings):
    """A product and a customer's order, projected as each command commits."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    product = ProductFactory(name="Replicated teapot", stock=10)
    customer = CustomerFactory()
    place_order(customer, {product: 2})
    return product, customer


@pytest.fixture
def customer_client_of_the_order(shop):
    client = APIClient()
    client.force_authenticate(shop[1].user)
    return client


def test_the_replica_alias_is_a_hot_standby_on_its_own_server(streaming_replica):
    with connections[REPLICA].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery(), inet_server_port()")
        in_recovery, port = cursor.fetchone()
    primary_port = int(connections[READ_PRIMARY].settings_dict["PORT"] or 5432)
    assert in_recovery is True
    assert port == streaming_replica.port != primary_port
    receiver = streaming_replica.sql("SELECT status, sender_port FROM pg_stat_wal_receiver")
    assert receiver == [("streaming", primary_port)]


@pytest.mark.parametrize(
    ("client_fixture", "url"),
    [
        ("anonymous_client", "/api/queries/products/?search=teapot"),
        ("customer_client_of_the_order", "/api/queries/orders/"),
        ("staff_client", f"/api/queries/sales/daily/?date_after={date.today():%Y-%m-%d}"),
    ],
)
def test_query_endpoints_read_only_from_the_replica(request, streaming_replica, shop, client_fixture, url):
    client = request.getfixturevalue(client_fixture)
    with ExitStack() as stack:
        on_replica = stack.enter_context(CaptureQueriesContext(connections[REPLICA]))
        on_primary = stack.enter_context(CaptureQueriesContext(connections[READ_PRIMARY]))
        response = client.get(url)

    assert response.status_code == 200, response.content
    assert response.json()["results"], "the replica has the projected rows"
    assert any(table in query["sql"] for query in on_replica.captured_queries for table in READ_SIDE_TABLES)
    assert on_primary.captured_queries == []


def test_a_served_request_shows_up_on_the_replica_not_the_primary(streaming_replica, services, shop):
    """The web process, as deployed: its connections are told apart by application_name in pg_stat_activity."""
    _redis, redis_url = services.redis()
    base_url = services.web(web_environment(redis_url, streaming_replica))

    response = requests.get(f"{base_url}/api/queries/products/?search=teapot", timeout=10)

    assert response.status_code == 200, response.text
    assert [row["name"] for row in response.json()["results"]] == ["Replicated teapot"]
    replica_queries = queries_of(REPLICA, "test-web-replica")
    assert any("queries_productcatalog" in query for query in replica_queries), replica_queries
    assert queries_of(READ_PRIMARY, "test-web-read") == [], "the web process read the read primary"
