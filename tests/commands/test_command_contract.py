"""What every command endpoint promises, whatever it does: one parametrized contract.

Each command's own test file covers its rules; these cover what they all share:
a caller must authenticate, the caller's correlation id travels with the events,
an aggregate's `expected_version` guards against lost updates, and an unknown
aggregate is not found. A refused command appends nothing.
"""

import uuid
from dataclasses import dataclass, field

import pytest

from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    signed_in,
    url,
)

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Endpoint:
    command: str
    route: str
    caller: str  # the fixture of the user allowed to send it
    aggregate: str | None = None  # the fixture of the aggregate it acts on, if any
    version: int | None = None  # that aggregate's version, for the expected_version checks
    not_found: str | None = None  # the error code of an unknown aggregate
    body: dict = field(default_factory=dict)


ENDPOINTS = [
    Endpoint(
        "RegisterProduct",
        "register-product",
        "staff_user",
        body={"sku": "TEA-001", "name": "Teapot", "category": "kitchen", "price": "24.50"},
    ),
    Endpoint("ChangePrice", "change-price", "staff_user", "product", 1, "product_not_found", {"new_price": "8.00"}),
    Endpoint("RestockProduct", "restock-product", "staff_user", "product", 1, "product_not_found", {"quantity": 5}),
    Endpoint("DiscontinueProduct", "discontinue-product", "staff_user", "product", 1, "product_not_found"),
    Endpoint("RegisterCustomer", "register-customer", "plain_user"),
    Endpoint("PlaceOrder", "place-order", "customer"),  # its lines name `product`: see arrange
    Endpoint("PayOrder", "pay-order", "customer", "placed_order", 1, "order_not_found"),
    Endpoint("ShipOrder", "ship-order", "staff_user", "paid_order", 2, "order_not_found"),
    Endpoint("CancelOrder", "cancel-order", "customer", "placed_order", 1, "order_not_found"),
]
VERSIONED = [endpoint for endpoint in ENDPOINTS if endpoint.version is not None]


@dataclass(frozen=True)
class Arranged:
    """An endpoint ready to be sent: its aggregate and caller already exist, so they append nothing later."""

    endpoint: Endpoint
    actor: object
    aggregate_id: uuid.UUID | None
    body: dict

    def send(self, client=None, *, aggregate_id=None, headers=None, **extra):
        """POST the command as its caller (or as `client`); `extra` adds to the body."""
        target = aggregate_id or self.aggregate_id
        path = url(self.endpoint.route, *([target] if target else []))
        return post(client or signed_in(self.actor), path, dict(self.body, **extra), headers=headers)


@pytest.fixture
def arrange(request):
    def arrange(endpoint: Endpoint) -> Arranged:
        caller = request.getfixturevalue(endpoint.caller)
        aggregate = request.getfixturevalue(endpoint.aggregate) if endpoint.aggregate else None
        body = dict(endpoint.body)
        if endpoint.command == "PlaceOrder":
            body["lines"] = [{"product_id": str(request.getfixturevalue("product").pk), "quantity": 1}]
        # Customers are domain objects; the actor is the auth user behind them.
        actor = getattr(caller, "user", caller)
        return Arranged(endpoint, actor, aggregate.pk if aggregate else None, body)

    return arrange


def by_command(endpoints):
    return pytest.mark.parametrize("endpoint", endpoints, ids=[endpoint.command for endpoint in endpoints])


@by_command(ENDPOINTS)
def test_an_anonymous_caller_must_authenticate_and_appends_nothing(arrange, endpoint, anonymous_client):
    command = arrange(endpoint)
    log = EventLogWatch()

    response = command.send(anonymous_client)

    assert_refused(response, 401, "not_authenticated")
    log.assert_nothing_appended()


@by_command(ENDPOINTS)
def test_the_callers_correlation_id_is_recorded_on_every_event(arrange, endpoint):
    command = arrange(endpoint)
    log = EventLogWatch()

    response = command.send(headers={"X-Correlation-ID": f"journey-{endpoint.route}"})

    assert response.status_code in (200, 201), response.content
    events = log.new_events()
    assert events
    for event in events:
        assert_metadata(
            event, command=endpoint.command, actor=command.actor, correlation_id=f"journey-{endpoint.route}"
        )


@by_command(VERSIONED)
def test_the_expected_version_lets_the_command_through_when_it_matches(arrange, endpoint):
    command = arrange(endpoint)

    response = command.send(expected_version=endpoint.version)

    assert_accepted(response, command.aggregate_id, version=endpoint.version + 1)


@by_command(VERSIONED)
def test_a_stale_expected_version_is_refused_and_appends_nothing(arrange, endpoint):
    command = arrange(endpoint)
    log = EventLogWatch()

    response = command.send(expected_version=endpoint.version - 1)

    assert assert_refused(response, 409, "version_conflict")["current_version"] == endpoint.version
    log.assert_nothing_appended()


@by_command(VERSIONED)
def test_an_unknown_aggregate_is_not_found_and_appends_nothing(arrange, endpoint):
    command = arrange(endpoint)
    log = EventLogWatch()

    response = command.send(aggregate_id=uuid.uuid4())

    assert_refused(response, 404, endpoint.not_found)
    log.assert_nothing_appended()
