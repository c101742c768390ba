"""Structured logs: one JSON object per line, with the command's correlation id carried into the projectors'."""

import json
import logging

import pytest

from commands.commands import RestockProduct
from commands.handlers import dispatch
from core.logging import JsonFormatter
from projections.registry import registry
from projections.runner import catch_up
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def _json_lines(caplog) -> list[dict]:
    formatter = JsonFormatter()
    return [json.loads(formatter.format(record)) for record in caplog.records]


def test_a_log_line_is_one_json_object_with_its_context_fields():
    record = logging.LogRecord("shop", logging.WARNING, __file__, 1, "hello %s", ("world",), None)
    record.correlation_id = "abc"
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "hello world"
    assert (entry["level"], entry["logger"], entry["correlation_id"]) == ("WARNING", "shop", "abc")


def test_the_correlation_id_of_a_command_reaches_the_projector_and_subscriber_log_lines(caplog):
    caplog.set_level(logging.INFO)
    kettle = ProductFactory()
    dispatch(RestockProduct(product_id=kettle.pk, quantity=3, correlation_id="checkout-42"), StaffFactory())
    for follower in registry().values():
        catch_up(follower)

    lines = _json_lines(caplog)
    command_lines = [line for line in lines if line.get("correlation_id") == "checkout-42"]
    assert any("RestockProduct recorded 1 event(s)" in line["message"] for line in command_lines)
    followers = {line["follower"] for line in lines if "checkout-42" in line.get("correlation_ids", [])}
    assert followers == set(registry())


def test_command_responses_echo_the_correlation_id(staff_client):
    kettle = ProductFactory()
    response = staff_client.post(
        f"/api/commands/products/{kettle.pk}/restock/", {"quantity": 1}, format="json", HTTP_X_CORRELATION_ID="trace-7"
    )
    assert response.status_code == 200
    assert response["X-Correlation-ID"] == "trace-7"
