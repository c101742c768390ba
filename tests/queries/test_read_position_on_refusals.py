"""X-Read-Position on the query API's refusals: not signed in (401), not allowed (403), too many requests (429)."""

import pytest
from django.db import DatabaseError

from queries import consistency
from tests.queries.helpers import set_checkpoint

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

POSITIONS = {"product_catalog": 21, "order_summary": 22, "customer_history": 23, "daily_sales": 24}


@pytest.fixture(autouse=True)
def _checkpoints(anonymous_client, customer_client):
    """Set once the clients' users exist: making a customer runs the projections (eager Celery) past the log's head."""
    for name, position in POSITIONS.items():
        set_checkpoint(name, position)


@pytest.mark.parametrize(
    ("client_fixture", "url", "status", "position"),
    [
        ("anonymous_client", "/api/queries/orders/", 401, "22"),
        ("anonymous_client", "/api/queries/customers/", 401, "23"),
        ("customer_client", "/api/queries/sales/daily/", 403, "24"),
        ("customer_client", "/api/queries/sales/daily/2030-01-01/", 403, "24"),
        ("customer_client", "/api/queries/projections/daily_sales/", 403, "24"),
    ],
)
def test_a_refusal_carries_the_position_of_the_projections_behind_the_endpoint(
    request, client_fixture, url, status, position
):
    response = request.getfixturevalue(client_fixture).get(url)
    assert response.status_code == status
    assert response["X-Read-Position"] == position


def test_a_refused_bad_token_carries_the_position(anonymous_client):
    response = anonymous_client.get("/api/queries/orders/", HTTP_AUTHORIZATION="Token not-a-token")
    assert (response.status_code, response["X-Read-Position"]) == (401, "22")


def test_a_throttled_request_carries_the_position(anonymous_client, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "1/minute"}}
    assert anonymous_client.get("/api/queries/products/").status_code == 200
    response = anonymous_client.get("/api/queries/products/")
    assert (response.status_code, response["X-Read-Position"]) == (429, "21")


def test_a_refusal_stays_a_refusal_when_the_position_cannot_be_read(anonymous_client, monkeypatch):
    def unreachable(*args, **kwargs):
        raise DatabaseError("the read database is down")

    monkeypatch.setattr(consistency, "read_position", unreachable)
    response = anonymous_client.get("/api/queries/orders/")
    assert response.status_code == 401
    assert "X-Read-Position" not in response


def test_the_schema_documents_the_header_on_every_refusal(anonymous_client):
    schema = anonymous_client.get("/api/schema/", {"format": "json"}).json()
    for path, methods in schema["paths"].items():
        if path.startswith("/api/queries/") and path != "/api/queries/stream/":  # it reads the log, not a read model
            responses = methods["get"]["responses"]
            for status in {"401", "403", "429"} & set(responses):
                assert "X-Read-Position" in responses[status]["headers"], (path, status)
