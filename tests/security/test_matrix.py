"""Who may call what: every endpoint x every role, with the exact status each one gets.

The table below is the specification. Each case builds its own world through the
command handlers (tests/factories.py) and runs the projections, so every
command request is valid input on a live object and every query detail row
exists: the status reflects authorization, not validation or a missing row.
Where a success would change state (pay, cancel, ship, ...) each role gets
fresh objects, because each case is a test of its own.

Roles: anonymous; customer A (owns the order and customer row under test);
customer B (another customer); a catalog manager (commands.manage_catalog, not
a customer, not staff); staff (is_staff, no other permission). Every signed-in
role has a session (force_login), which both the DRF views and the plain Django
views (/metrics, /readyz, the admin) see.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connections
from django.urls import get_resolver, resolve
from django.utils import timezone
from rest_framework.test import APIClient

from commands import inbox
from commands.commands import PayOrder
from commands.eventlog import head_position
from commands.handlers import dispatch
from commands.models import Customer, InboxCommand, Order, Product
from core import routers
from projections.registry import registry
from projections.runner import catch_up
from tests.factories import CatalogManagerFactory, CustomerFactory, ProductFactory, StaffFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

ANON, A, B, MANAGER, STAFF = "anonymous", "customer_a", "customer_b", "catalog_manager", "staff"
ROLES = (ANON, A, B, MANAGER, STAFF)


@pytest.fixture(autouse=True)
def _read_from_the_read_primary(monkeypatch):
    """Read from `read`: replicas are other connections in tests, blind to uncommitted rows (routing: test_router)."""
    monkeypatch.setattr(routers, "replica_aliases", lambda: [])
    yield
    for alias in settings.DATABASES:  # /readyz opens them: close, so the test databases can be dropped
        if alias.startswith("read_replica_"):
            connections[alias].close()


@dataclass
class World:
    """What every case starts from: the users, A's and B's customers, a product, and A's placed order."""

    users: dict[str, object]
    customer_a: Customer
    customer_b: Customer
    product: Product
    order_a: Order
    staff: object

    def fresh_product(self) -> Product:
        return ProductFactory(price=Decimal("10.00"), stock=50, actor=self.staff)

    def async_command_of_a(self) -> InboxCommand:
        """A command A sent with Prefer: respond-async (left accepted: no worker runs it here)."""
        command = PayOrder(order_id=self.order_a.pk)
        return InboxCommand.objects.create(
            command_id=command.command_id,
            type="PayOrder",
            payload=inbox.encode(command),
            actor=self.customer_a.user,
            ordering_key=self.order_a.pk,
        )

    def fresh_order_of_a(self, *, paid: bool = False) -> Order:
        order = place_order(self.customer_a, {self.fresh_product(): 2})
        if paid:
            dispatch(PayOrder(order_id=order.pk), self.customer_a.user)
        return order


@pytest.fixture
def world() -> World:
    staff = StaffFactory()
    customer_a = CustomerFactory()
    customer_b = CustomerFactory()
    product = ProductFactory(price=Decimal("9.99"), stock=100, actor=staff)
    order_a = place_order(customer_a, {product: 1})
    place_order(customer_b, {product: 1})  # so B's own lists are not empty either
    for follower in registry().values():
        catch_up(follower)
    users = {A: customer_a.user, B: customer_b.user, MANAGER: CatalogManagerFactory(), STAFF: staff}
    return World(users, customer_a, customer_b, product, order_a, staff)


@dataclass(frozen=True)
class Endpoint:
    """One row of the matrix: how to call it (built from the world) and what each role gets."""

    method: str
    path: Callable[[World], str]
    expected: dict[str, int]
    body: Callable[[World], dict] = field(default=lambda world: {})

    def __post_init__(self):
        assert set(self.expected) == set(ROLES), f"every role needs an expected status: {self.expected}"


def everyone(status: int) -> dict[str, int]:
    return dict.fromkeys(ROLES, status)


def _sku() -> str:
    return f"SEC-{uuid.uuid4().hex[:12]}"


# --- The specification ---------------------------------------------------------------------------------------------
# Commands: anonymous callers are 401 (TokenAuthentication comes first, so DRF answers with a challenge).
# Catalog changes: staff and catalog managers. Orders: another customer's order does not exist (404), so ids
# cannot be probed; shipping is staff only (403, even for the order's own customer).

COMMANDS: dict[str, Endpoint] = {
    "products/register": Endpoint(
        "post",
        lambda w: "/api/commands/products/register/",
        {ANON: 401, A: 403, B: 403, MANAGER: 201, STAFF: 201},
        body=lambda w: {"sku": _sku(), "name": "Lamp", "category": "home", "price": "12.50", "stock": 5},
    ),
    "products/{id}/change-price": Endpoint(
        "post",
        lambda w: f"/api/commands/products/{w.fresh_product().pk}/change-price/",
        {ANON: 401, A: 403, B: 403, MANAGER: 200, STAFF: 200},
        body=lambda w: {"new_price": "11.00"},
    ),
    "products/{id}/restock": Endpoint(
        "post",
        lambda w: f"/api/commands/products/{w.fresh_product().pk}/restock/",
        {ANON: 401, A: 403, B: 403, MANAGER: 200, STAFF: 200},
        body=lambda w: {"quantity": 3},
    ),
    "products/{id}/discontinue": Endpoint(
        "post",
        lambda w: f"/api/commands/products/{w.fresh_product().pk}/discontinue/",
        {ANON: 401, A: 403, B: 403, MANAGER: 200, STAFF: 200},
    ),
    # A user registers themself: A and B already are customers (409 customer_already_registered, after the
    # authorization check); the manager and staff are not yet, so they may.
    "customers/register": Endpoint(
        "post",
        lambda w: "/api/commands/customers/register/",
        {ANON: 401, A: 409, B: 409, MANAGER: 201, STAFF: 201},
    ),
    # An order for customer A, named explicitly: A themself or staff; anyone else is refused (403).
    "orders/place (for A)": Endpoint(
        "post",
        lambda w: "/api/commands/orders/place/",
        {ANON: 401, A: 201, B: 403, MANAGER: 403, STAFF: 201},
        body=lambda w: {
            "customer_id": str(w.customer_a.pk),
            "lines": [{"product_id": str(w.product.pk), "quantity": 1}],
        },
    ),
    # An order for oneself: customers may; users who are not customers are told to register (409 not_a_customer).
    "orders/place (for oneself)": Endpoint(
        "post",
        lambda w: "/api/commands/orders/place/",
        {ANON: 401, A: 201, B: 201, MANAGER: 409, STAFF: 409},
        body=lambda w: {"lines": [{"product_id": str(w.product.pk), "quantity": 1}]},
    ),
    "orders/{id}/pay (A's placed order)": Endpoint(
        "post",
        lambda w: f"/api/commands/orders/{w.fresh_order_of_a().pk}/pay/",
        {ANON: 401, A: 200, B: 404, MANAGER: 404, STAFF: 200},
    ),
    "orders/{id}/ship (A's paid order)": Endpoint(
        "post",
        lambda w: f"/api/commands/orders/{w.fresh_order_of_a(paid=True).pk}/ship/",
        {ANON: 401, A: 403, B: 403, MANAGER: 403, STAFF: 200},
    ),
    "orders/{id}/cancel (A's placed order)": Endpoint(
        "post",
        lambda w: f"/api/commands/orders/{w.fresh_order_of_a().pk}/cancel/",
        {ANON: 401, A: 200, B: 404, MANAGER: 404, STAFF: 200},
        body=lambda w: {"reason": "changed my mind"},
    ),
}

# Queries: the catalog is public; orders and customers need a sign-in and show a customer only their own rows
# (someone else's row is a 404, like one that does not exist); sales and projections are staff only.
QUERIES: dict[str, Endpoint] = {
    "queries/products (list)": Endpoint("get", lambda w: "/api/queries/products/", everyone(200)),
    "queries/products/{id}": Endpoint("get", lambda w: f"/api/queries/products/{w.product.pk}/", everyone(200)),
    "queries/orders (list)": Endpoint(
        "get", lambda w: "/api/queries/orders/", {ANON: 401, A: 200, B: 200, MANAGER: 200, STAFF: 200}
    ),
    "queries/orders/{id} (A's order)": Endpoint(
        "get", lambda w: f"/api/queries/orders/{w.order_a.pk}/", {ANON: 401, A: 200, B: 404, MANAGER: 404, STAFF: 200}
    ),
    # An order's past (history/, and ?as_of= on its detail) is shown to whoever may see the order now.
    "queries/orders/{id}/history (A's order)": Endpoint(
        "get",
        lambda w: f"/api/queries/orders/{w.order_a.pk}/history/",
        {ANON: 401, A: 200, B: 404, MANAGER: 404, STAFF: 200},
    ),
    "queries/customers (list)": Endpoint(
        "get", lambda w: "/api/queries/customers/", {ANON: 401, A: 200, B: 200, MANAGER: 200, STAFF: 200}
    ),
    "queries/customers/{id} (A's row)": Endpoint(
        "get",
        lambda w: f"/api/queries/customers/{w.customer_a.pk}/",
        {ANON: 401, A: 200, B: 404, MANAGER: 404, STAFF: 200},
    ),
    "queries/sales/daily (list)": Endpoint(
        "get", lambda w: "/api/queries/sales/daily/", {ANON: 401, A: 403, B: 403, MANAGER: 403, STAFF: 200}
    ),
    "queries/sales/daily/{date} (today)": Endpoint(
        "get",
        lambda w: f"/api/queries/sales/daily/{timezone.now().date().isoformat()}/",
        {ANON: 401, A: 403, B: 403, MANAGER: 403, STAFF: 200},
    ),
    "queries/projections (list)": Endpoint(
        "get", lambda w: "/api/queries/projections/", {ANON: 401, A: 403, B: 403, MANAGER: 403, STAFF: 200}
    ),
    "queries/projections/{name}": Endpoint(
        "get",
        lambda w: f"/api/queries/projections/{next(iter(registry()))}/",
        {ANON: 401, A: 403, B: 403, MANAGER: 403, STAFF: 200},
    ),
    # The live stream: topics out of reach are refused before it opens. A stream allowed to open answers 503
    # stream_needs_asgi here, since the test client is WSGI; what each role hears on it: tests/queries/test_stream.py.
    "queries/stream?topics=projection": Endpoint(
        "get",
        lambda w: "/api/queries/stream/?topics=projection",
        {ANON: 401, A: 403, B: 403, MANAGER: 403, STAFF: 503},
    ),
    "queries/stream?topics=order": Endpoint(
        "get", lambda w: "/api/queries/stream/?topics=order", {ANON: 401, A: 503, B: 503, MANAGER: 503, STAFF: 503}
    ),
}

# The status of an asynchronous command: its sender and staff; to anyone else it does not exist.
COMMAND_STATUS: dict[str, Endpoint] = {
    "commands/status/{id} (A's command)": Endpoint(
        "get",
        lambda w: f"/api/commands/status/{w.async_command_of_a().command_id}/",
        {ANON: 401, A: 200, B: 404, MANAGER: 404, STAFF: 200},
    ),
}

# Operations: the schema and the health checks are public; /metrics needs staff (or the scraper's bearer token,
# tests/config/test_metrics.py); the admin sends everyone who is not staff to its login page (302), and its
# dashboard also needs projections.view_checkpoint, which plain staff lack (403).
OPERATIONS: dict[str, Endpoint] = {
    "api/schema": Endpoint("get", lambda w: "/api/schema/", everyone(200)),
    "metrics": Endpoint("get", lambda w: "/metrics", {ANON: 403, A: 403, B: 403, MANAGER: 403, STAFF: 200}),
    "readyz": Endpoint("get", lambda w: "/readyz", everyone(200)),
    "healthz": Endpoint("get", lambda w: "/healthz", everyone(200)),
    "admin/dashboard": Endpoint(
        "get", lambda w: "/admin/dashboard/", {ANON: 302, A: 302, B: 302, MANAGER: 302, STAFF: 403}
    ),
}

MATRIX: dict[str, Endpoint] = {**COMMANDS, **QUERIES, **COMMAND_STATUS, **OPERATIONS}
CASES = [pytest.param(name, role, id=f"{name}-{role}") for name in MATRIX for role in ROLES]


def client_for(world: World, role: str) -> APIClient:
    client = APIClient()
    if role != ANON:
        client.force_login(world.users[role])
    return client


@pytest.mark.parametrize(("name", "role"), CASES)
def test_each_role_gets_exactly_the_status_the_matrix_says(world, name, role):
    endpoint = MATRIX[name]
    path = endpoint.path(world)  # builds the fresh objects first, so the head below is after them
    body = endpoint.body(world)
    client = client_for(world, role)
    head = head_position()

    response = client.post(path, body, format="json") if endpoint.method == "post" else client.get(path)

    expected = endpoint.expected[role]
    assert response.status_code == expected, (name, role, response.status_code, response.content[:500])
    if name in COMMANDS:
        appended = head_position() - head
        # A refused command leaves no trace in the event log; an accepted one appends.
        assert (appended > 0) == (expected < 400), (name, role, appended)
    if expected == 302:
        assert response["Location"].startswith("/admin/login/")


def test_the_matrix_covers_every_command_and_query_endpoint(world):
    """A new command or query endpoint must get a row above, or this fails (it would go untested)."""

    def view_names(patterns, namespace=""):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                yield from view_names(pattern.url_patterns, pattern.namespace or namespace)
            elif namespace in ("commands", "queries") and pattern.name != "api-root":
                yield f"{namespace}:{pattern.name}"

    api = set(view_names(get_resolver().url_patterns))
    covered = {resolve(endpoint.path(world).partition("?")[0]).view_name for endpoint in MATRIX.values()}
    assert api - covered == set()
    assert len([name for name in api if name.startswith("commands:")]) == 10  # nine commands and their status
    # Five read models, each a list and a detail, an order's history, and the live stream.
    assert len([name for name in api if name.startswith("queries:")]) == 12
