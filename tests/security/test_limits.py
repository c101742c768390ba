"""The site's limits: request body size, query rate limits, and CSRF for cookie-authenticated writes."""

import pytest
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from commands.eventlog import head_position
from commands.models import Order
from core import routers
from tests.admin.helpers import OPERATOR_PERMISSIONS, grant, run_action
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

PLACE_ORDER = "/api/commands/orders/place/"
REGISTER_PRODUCT = "/api/commands/products/register/"
TOKEN = "/api/auth/token/"
PASSWORD = "correct horse battery staple"  # tests/factories.py's


@pytest.fixture(autouse=True)
def _read_from_the_read_primary(monkeypatch):
    """Read from `read`: replicas are other connections in tests, blind to uncommitted rows (routing: test_router)."""
    monkeypatch.setattr(routers, "replica_aliases", lambda: [])
    yield
    for alias in django_settings.DATABASES:
        if alias.startswith("read_replica_"):
            connections[alias].close()


@pytest.fixture
def product():
    return ProductFactory(stock=100)


def order_body(product) -> dict:
    return {"lines": [{"product_id": str(product.pk), "quantity": 1}]}


# --- Request body size ---------------------------------------------------------------------------------------------


def padded(size: int) -> bytes:
    """A syntactically valid JSON command body of exactly `size` bytes."""
    head = b'{"sku": "BIG-1", "name": "Big", "category": "c", "price": "1.00", "description": "'
    tail = b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


@pytest.mark.parametrize("limit", [None, 1024], ids=["default-limit", "MAX_REQUEST_BYTES=1024"])
def test_a_command_body_over_the_limit_is_refused_with_413_before_anything_happens(staff_client, settings, limit):
    if limit is not None:
        settings.DATA_UPLOAD_MAX_MEMORY_SIZE = limit
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    head = head_position()

    response = staff_client.post(REGISTER_PRODUCT, padded(limit + 1), content_type="application/json")

    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"
    assert head_position() == head


def test_a_command_body_at_the_limit_is_read(staff_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = staff_client.post(REGISTER_PRODUCT, padded(1024), content_type="application/json")
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_token_request_over_the_limit_is_refused_with_413(anonymous_client, settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = b"username=someone&password=" + b"x" * 2000
    response = anonymous_client.post(TOKEN, body, content_type=content_type)
    assert response.status_code == 413, response.content
    assert response.json()["code"] == "request_too_large"


# --- Throttling ----------------------------------------------------------------------------------------------------


@pytest.fixture
def rates(settings):
    """Override the query throttles' rates (queries/throttles.py reads them on every request)."""

    def set_rates(**rates):
        settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}

    return set_rates


def test_the_fourth_anonymous_query_in_a_minute_is_throttled_with_retry_after(anonymous_client, rates):
    rates(anon="3/minute", user="100/minute")
    assert [anonymous_client.get("/api/queries/products/").status_code for _ in range(3)] == [200, 200, 200]

    refused = anonymous_client.get("/api/queries/products/")

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60


def test_the_fourth_signed_in_query_in_a_minute_is_throttled(customer_client, rates):
    rates(anon="100/minute", user="3/minute")
    assert [customer_client.get("/api/queries/orders/").status_code for _ in range(3)] == [200, 200, 200]
    refused = customer_client.get("/api/queries/customers/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


def test_password_guessing_at_the_token_endpoint_is_throttled_per_client(anonymous_client, customer, rates):
    rates(anon="100/minute", user="100/minute", sign_in="3/minute")
    wrong = {"username": customer.user.username, "password": "guess"}
    assert [anonymous_client.post("/api/auth/token/", wrong).status_code for _ in range(3)] == [400, 400, 400]

    refused = anonymous_client.post("/api/auth/token/", {**wrong, "password": "correct horse battery staple"})

    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0


# --- CSRF ----------------------------------------------------------------------------------------------------------


def csrf_token(client) -> str:
    """Get a CSRF cookie the way a browser does (the API's login page sets it) and return its value."""
    assert client.get("/api/auth/login/").status_code == 200
    return client.cookies[django_settings.CSRF_COOKIE_NAME].value


@pytest.fixture
def session_client(customer):
    """A browser-like client: signed in with a session cookie, and CSRF checks enforced."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer.user)
    return client


def test_a_session_command_without_a_csrf_token_is_refused(session_client, product):
    head = head_position()

    response = session_client.post(PLACE_ORDER, order_body(product), format="json")

    assert response.status_code == 403, response.content
    assert "CSRF" in response.json()["detail"]
    assert head_position() == head


def test_a_session_command_with_a_wrong_csrf_token_is_refused(session_client, product):
    csrf_token(session_client)
    response = session_client.post(PLACE_ORDER, order_body(product), format="json", headers={"X-CSRFToken": "x" * 32})
    assert response.status_code == 403, response.content


def test_a_session_command_with_the_csrf_token_is_accepted(session_client, product):
    token = csrf_token(session_client)
    response = session_client.post(PLACE_ORDER, order_body(product), format="json", headers={"X-CSRFToken": token})
    assert response.status_code == 201, response.content


def test_a_token_authenticated_command_needs_no_csrf_token(customer, product):
    client = APIClient(enforce_csrf_checks=True)
    token = Token.objects.create(user=customer.user)

    response = client.post(
        PLACE_ORDER, order_body(product), format="json", headers={"Authorization": f"Token {token.key}"}
    )

    assert response.status_code == 201, response.content


def test_a_token_can_be_obtained_without_csrf_and_then_used(customer, product):
    client = APIClient(enforce_csrf_checks=True)
    obtained = client.post(TOKEN, {"username": customer.user.username, "password": PASSWORD}, format="json")
    assert obtained.status_code == 200, obtained.content

    response = client.post(
        PLACE_ORDER, order_body(product), format="json", headers={"Authorization": f"Token {obtained.json()['token']}"}
    )

    assert response.status_code == 201, response.content


def test_a_wrong_token_is_401_even_with_a_valid_session(session_client, product):
    token = csrf_token(session_client)
    response = session_client.post(
        PLACE_ORDER,
        order_body(product),
        format="json",
        headers={"Authorization": "Token not-a-real-token", "X-CSRFToken": token},
    )
    assert response.status_code == 401, response.content


# --- The admin -----------------------------------------------------------------------------------------------------


@pytest.fixture
def operator_browser():
    """An operator signed in to the admin, in a client that enforces CSRF like a browser."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(grant(StaffFactory(), *OPERATOR_PERMISSIONS))
    return client


@pytest.fixture
def placed_order(product):
    return place_order(CustomerFactory(), {product: 1})


def test_an_admin_action_without_a_csrf_token_is_rejected(operator_browser, placed_order):
    head = head_position()

    response = run_action(operator_browser, Order, "cancel", [placed_order])

    assert response.status_code == 403
    assert Order.objects.get(pk=placed_order.pk).status == "placed"
    assert head_position() == head


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:dashboard_rebuild"),
        reverse("admin:dashboard_retry", args=["product_catalog"]),
        reverse("admin:dashboard_skip", args=["product_catalog"]),
    ],
)
def test_a_dashboard_action_without_a_csrf_token_is_rejected(operator_browser, url):
    response = operator_browser.post(url, {"name": "product_catalog", "position": "1"})
    assert response.status_code == 403


def test_an_admin_action_with_the_csrf_token_goes_through(operator_browser, placed_order):
    changelist = reverse("admin:commands_order_changelist")
    assert operator_browser.get(changelist).status_code == 200
    token = operator_browser.cookies[django_settings.CSRF_COOKIE_NAME].value

    response = run_action(operator_browser, Order, "cancel", [placed_order], csrfmiddlewaretoken=token)

    assert response.status_code == 302, response.content[:500]
    assert Order.objects.get(pk=placed_order.pk).status == "cancelled"
