"""A database that cannot be reached is a 503 naming the side that is down, with Retry-After; never a 500."""

import pytest
from django.db import InterfaceError, OperationalError, connections
from rest_framework.authentication import TokenAuthentication

from config.api import DATABASE_RETRY_AFTER_SECONDS

pytestmark = pytest.mark.django_db(databases="__all__")

DATABASE_ERRORS = pytest.mark.parametrize("error", [OperationalError, InterfaceError])
PRODUCT = {"sku": "SKU-DOWN", "name": "Lamp", "price": "9.99", "category": "garden"}


def _raise(error):
    def fail(*args, **kwargs):
        raise error("connection to server at 127.0.0.1 failed: Connection refused")

    return fail


def _assert_unavailable(response, code: str) -> None:
    assert response.status_code == 503, response.content
    assert response.json() == {"code": code, "detail": response.json()["detail"]}
    assert "cannot be reached" in response.json()["detail"]
    assert response["Retry-After"] == str(DATABASE_RETRY_AFTER_SECONDS)


@DATABASE_ERRORS
def test_a_command_that_cannot_reach_its_database_is_a_503_naming_the_write_database(
    error, catalog_manager_client, monkeypatch
):
    monkeypatch.setattr("commands.api.base.dispatch", _raise(error))
    response = catalog_manager_client.post("/api/commands/products/register/", PRODUCT, format="json")
    _assert_unavailable(response, "write_database_unavailable")


@DATABASE_ERRORS
def test_a_query_that_cannot_reach_its_database_is_a_503_naming_the_read_database(error, client, monkeypatch):
    monkeypatch.setattr("queries.consistency.read_position", _raise(error))
    _assert_unavailable(client.get("/api/queries/products/"), "read_database_unavailable")


def test_a_query_whose_token_cannot_be_checked_names_the_write_database(client, customer, monkeypatch):
    """Tokens live on the write database: the connection that raised decides, not the view's side."""

    def write_database_down(self, key):
        monkeypatch.setattr(connections["default"], "errors_occurred", True)  # as Django flags a failed call
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")

    monkeypatch.setattr(TokenAuthentication, "authenticate_credentials", write_database_down)
    response = client.get("/api/queries/orders/", HTTP_AUTHORIZATION="Token 0123456789abcdef")
    _assert_unavailable(response, "write_database_unavailable")


def test_other_errors_still_propagate(catalog_manager_client, monkeypatch):
    monkeypatch.setattr("commands.api.base.dispatch", _raise(RuntimeError))
    with pytest.raises(RuntimeError):
        catalog_manager_client.post("/api/commands/products/register/", PRODUCT, format="json")
