"""Prefer: respond-async: validated at once, answered 202, run by a worker, its outcome in the status resource.

These run on the embedded default's eager Celery (and on PostgreSQL with eager
tasks): the task runs as the request's transaction commits, before the 202.
"""

import json
import uuid
from decimal import Decimal

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from commands import inbox
from commands.commands import (
    CancelOrder,
    OrderLineRequest,
    PlaceOrder,
    RegisterCustomer,
    RegisterProduct,
    RestockProduct,
)
from commands.handlers import HANDLERS
from commands.models import IdempotencyRecord, InboxCommand, Product, StoredEvent
from commands.tasks import run_command
from tests.commands.helpers import post, signed_in, url
from tests.factories import UserFactory

# Real commits, so the command's task runs when the request's transaction commits, as it does in production.
pytestmark = pytest.mark.django_db(databases="__all__", transaction=True)

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture(autouse=True)
def _eager_tasks(settings):
    """Tasks run in-process, as on the embedded default, whatever broker the environment names."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


def restock(client, product, quantity=5, headers=None):
    return post(
        client, url("restock-product", product.pk), {"quantity": quantity}, headers={**ASYNC, **(headers or {})}
    )


def status_of(client, response):
    return client.get(response["Location"]).json()


def test_an_async_command_is_accepted_with_202_and_its_status_url(staff_client, product):
    response = restock(staff_client, product)

    assert response.status_code == 202, response.content
    command_id = response.json()["command_id"]
    assert response.json() == {"command_id": command_id, "status": "accepted"}
    assert response["Location"] == f"/api/commands/status/{command_id}/"
    assert response["Preference-Applied"] == "respond-async"


def test_on_the_embedded_default_it_has_run_before_the_202_returns(staff_client, product):
    response = restock(staff_client, product, quantity=5)

    status = status_of(staff_client, response)
    event = StoredEvent.objects.get(type="ProductRestocked")
    assert status["status"] == "succeeded"
    assert status["result"] == {"id": str(product.pk), "version": event.version, "position": event.position}
    assert event.metadata["command_id"] == response.json()["command_id"]
    assert Product.objects.get(pk=product.pk).stock == 15


def test_a_refused_command_reports_the_body_a_synchronous_refusal_carries(staff_client, product):
    wrong_version = {"quantity": 1, "expected_version": 99}
    synchronous = post(staff_client, url("restock-product", product.pk), wrong_version)
    response = post(staff_client, url("restock-product", product.pk), wrong_version, headers=ASYNC)

    status = status_of(staff_client, response)
    assert status["status"] == "refused"
    assert status["error"] == synchronous.json()
    assert status["error"]["code"] == "version_conflict"
    assert "result" not in status


def test_invalid_input_is_refused_at_once_and_nothing_is_accepted(staff_client, product):
    response = post(staff_client, url("restock-product", product.pk), {"quantity": 0}, headers=ASYNC)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert not InboxCommand.objects.exists()


def test_a_command_the_user_may_never_run_is_refused_at_once(customer_client, product):
    response = restock(customer_client, product)

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not InboxCommand.objects.exists()


def test_an_anonymous_async_command_is_refused_at_once(anonymous_client, product):
    assert restock(anonymous_client, product).status_code == 401


def test_without_prefer_the_command_runs_in_the_request(staff_client, product):
    response = post(
        staff_client, url("restock-product", product.pk), {"quantity": 1}, headers={"Prefer": "return=minimal"}
    )

    assert response.status_code == 200
    assert not InboxCommand.objects.exists()


def test_respond_async_is_found_among_other_preferences(staff_client, product):
    response = restock(staff_client, product, headers={"Prefer": "wait=10, Respond-Async"})

    assert response.status_code == 202


def test_the_status_is_visible_to_its_sender_and_staff_only(customer_client, customer, staff_client, product):
    response = post(
        customer_client, url("place-order"), {"lines": [{"product_id": str(product.pk), "quantity": 1}]}, headers=ASYNC
    )
    location = response["Location"]

    assert customer_client.get(location).json()["status"] == "succeeded"
    assert staff_client.get(location).status_code == 200
    assert signed_in(UserFactory()).get(location).status_code == 404


def test_an_unknown_command_id_is_not_found(staff_client):
    response = staff_client.get(url("command-status", uuid.uuid4()))

    assert response.status_code == 404


def test_an_idempotency_key_replay_returns_the_first_202_and_accepts_nothing_more(staff_client, product):
    first = restock(staff_client, product, headers={"Idempotency-Key": "restock-1"})
    replay = restock(staff_client, product, headers={"Idempotency-Key": "restock-1"})

    assert replay.status_code == 202
    assert replay.json() == first.json()
    assert replay["Location"] == first["Location"]
    assert replay["Idempotent-Replayed"] == "true"
    assert InboxCommand.objects.get().idempotency_key == "restock-1"
    assert IdempotencyRecord.objects.count() == 1
    assert StoredEvent.objects.filter(type="ProductRestocked").count() == 1


def test_a_command_that_raises_unexpectedly_fails_and_runs_again_when_retried(staff_client, product, monkeypatch):
    real_restock = HANDLERS[RestockProduct]

    def broken(command, actor, at):
        raise RuntimeError("the disk is on fire")

    monkeypatch.setitem(HANDLERS, RestockProduct, broken)
    response = restock(staff_client, product, quantity=2)
    status = status_of(staff_client, response)
    assert status["status"] == "failed"
    assert status["error"] == {"code": "internal_error", "detail": "RuntimeError: the disk is on fire"}
    assert not StoredEvent.objects.filter(type="ProductRestocked").exists()

    monkeypatch.setitem(HANDLERS, RestockProduct, real_restock)
    assert inbox.retry(InboxCommand.objects.get())

    assert status_of(staff_client, response)["status"] == "succeeded"
    assert Product.objects.get(pk=product.pk).stock == 12


def test_running_a_finished_command_again_does_nothing(staff_client, product):
    response = restock(staff_client, product, quantity=2)

    assert inbox.run(uuid.UUID(response.json()["command_id"])) == 0
    assert StoredEvent.objects.filter(type="ProductRestocked").count() == 1


def test_commands_of_one_aggregate_run_oldest_first_whichever_task_comes(staff_client, product, monkeypatch):
    monkeypatch.setattr(inbox, "enqueue", lambda command_id: None)  # the broker loses every task
    first = restock(staff_client, product, quantity=1)
    second = restock(staff_client, product, quantity=2)

    assert inbox.run(uuid.UUID(second.json()["command_id"])) == 2  # the second's task runs both, oldest first

    quantities = [event.data["quantity"] for event in StoredEvent.objects.filter(type="ProductRestocked")]
    assert quantities == [1, 2]
    assert status_of(staff_client, first)["status"] == status_of(staff_client, second)["status"] == "succeeded"


def test_a_command_that_creates_its_aggregate_runs_alone_in_one_claim(staff_client, monkeypatch):
    monkeypatch.setattr(inbox, "enqueue", lambda command_id: None)
    response = post(
        staff_client,
        url("register-product"),
        {"sku": "MUG", "name": "Mug", "category": "kitchen", "price": "8.50", "stock": 3},
        headers=ASYNC,
    )
    command_id = uuid.UUID(response.json()["command_id"])
    assert InboxCommand.objects.get().ordering_key == command_id  # no aggregate yet: a key of its own

    with CaptureQueriesContext(connections["default"]) as ran:
        assert inbox.run(command_id) == 1

    # A claim reads the inbox row with its actor (SQLite has no FOR UPDATE to tell it by).
    claims = [sql for sql in (query["sql"] for query in ran.captured_queries) if "inbox" in sql and "auth_user" in sql]
    assert len(claims) == 1, "no second claim looking for a later command of a key nobody else has"
    assert status_of(staff_client, response)["status"] == "succeeded"
    assert Product.objects.get().sku == "MUG"


def test_the_sweep_runs_commands_whose_task_was_lost(staff_client, product, monkeypatch, settings):
    settings.COMMAND_SWEEP_AFTER_SECONDS = 0
    lost = []
    monkeypatch.setattr(inbox, "enqueue", lost.append)
    response = restock(staff_client, product, quantity=3)
    assert status_of(staff_client, response)["status"] == "accepted"
    monkeypatch.undo()

    assert inbox.sweep() == 1

    assert status_of(staff_client, response)["status"] == "succeeded"
    assert Product.objects.get(pk=product.pk).stock == 13


@pytest.mark.parametrize(
    "command",
    [
        RegisterProduct(sku="MUG", name="Mug", price=Decimal("8.50"), category="kitchen", stock=3),
        RestockProduct(product_id=uuid.uuid4(), quantity=4, expected_version=2, correlation_id="basket-7"),
        PlaceOrder(customer_id=None, lines=(OrderLineRequest(product_id=uuid.uuid4(), quantity=2),)),
        CancelOrder(order_id=uuid.uuid4(), reason="changed my mind"),
        RegisterCustomer(user_id=7, name="Ann", email="ann@example.com"),
    ],
    ids=lambda command: type(command).__name__,
)
def test_a_command_survives_the_inbox_unchanged(command):
    payload = json.loads(json.dumps(inbox.encode(command)))

    assert inbox.decode(type(command).__name__, payload) == command


def test_the_schema_documents_the_202_the_prefer_header_and_the_status_resource(anonymous_client):
    schema = anonymous_client.get("/api/schema/", {"format": "json"}).json()

    restock_operation = schema["paths"]["/api/commands/products/{product_id}/restock/"]["post"]
    assert "202" in restock_operation["responses"]
    assert ("header", "Prefer") in {(p["in"], p["name"]) for p in restock_operation["parameters"]}
    status_operation = schema["paths"]["/api/commands/status/{command_id}/"]["get"]
    assert {"200", "404"} <= set(status_operation["responses"])


def test_the_browsable_api_explains_how_to_send_a_command_asynchronously(staff_client, product):
    page = staff_client.get(url("restock-product", product.pk), HTTP_ACCEPT="text/html")

    assert "Prefer: respond-async" in page.content.decode()


def test_a_broker_down_at_commit_still_answers_202_and_leaves_the_command_to_the_sweep(
    staff_client, product, monkeypatch, caplog
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to the broker")

    monkeypatch.setattr(run_command, "delay", broker_down)

    response = restock(staff_client, product)

    assert response.status_code == 202
    assert status_of(staff_client, response)["status"] == "accepted"
    assert "the sweep will run it" in caplog.text
