"""Commands need a signed-in caller: a token from /api/auth/token/, or a session that passes CSRF."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from commands.models import Product
from tests.commands.helpers import assert_refused, post, url
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db(databases="__all__")

PASSWORD = "correct horse battery staple"  # what tests.factories.UserFactory sets
REGISTER = url("register-product")
TEAPOT = {"sku": "TEA-001", "name": "Teapot", "category": "kitchen", "price": "24.50"}


@pytest.fixture
def staff_member():
    return StaffFactory(username="sam")


def obtain_token(username: str, password: str):
    return APIClient().post(reverse("obtain-token"), {"username": username, "password": password}, format="json")


def test_a_token_obtained_with_a_password_authenticates_commands(staff_member):
    token = obtain_token("sam", PASSWORD).json()["token"]
    client = APIClient(enforce_csrf_checks=True)

    response = post(client, REGISTER, TEAPOT, headers={"Authorization": f"Token {token}"})

    assert response.status_code == 201
    assert Product.objects.get().sku == "TEA-001"


def test_asking_again_returns_the_same_token(staff_member):
    assert obtain_token("sam", PASSWORD).json() == obtain_token("sam", PASSWORD).json()


def test_a_wrong_password_gets_no_token(staff_member):
    response = obtain_token("sam", "guess")

    body = assert_refused(response, 400, "invalid")
    assert "token" not in body


def test_an_unknown_token_is_refused():
    response = post(APIClient(), REGISTER, TEAPOT, headers={"Authorization": "Token not-a-real-token"})

    assert_refused(response, 401, "authentication_failed")
    assert not Product.objects.exists()


def test_a_token_of_a_deactivated_user_is_refused(staff_member):
    token = obtain_token("sam", PASSWORD).json()["token"]
    staff_member.is_active = False
    staff_member.save()

    response = post(APIClient(), REGISTER, TEAPOT, headers={"Authorization": f"Token {token}"})

    assert_refused(response, 401, "authentication_failed")


def test_an_anonymous_caller_is_told_how_to_authenticate():
    response = post(APIClient(), REGISTER, TEAPOT)

    assert_refused(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == "Token"


def test_a_session_command_without_a_csrf_token_is_refused(staff_member):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="sam", password=PASSWORD)

    response = post(client, REGISTER, TEAPOT)

    body = assert_refused(response, 403, "permission_denied")
    assert "CSRF" in body["detail"]
    assert not Product.objects.exists()


def test_a_session_command_with_the_csrf_token_is_accepted(staff_member):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="sam", password=PASSWORD)
    client.get(reverse("rest_framework:login"))  # any page with a form hands out the CSRF cookie
    csrf_token = client.cookies["csrftoken"].value

    response = post(client, REGISTER, TEAPOT, headers={"X-CSRFToken": csrf_token})

    assert response.status_code == 201
    assert Product.objects.get().sku == "TEA-001"


def test_a_session_command_with_a_forged_csrf_token_is_refused(staff_member):
    client = APIClient(enforce_csrf_checks=True)
    client.login(username="sam", password=PASSWORD)
    client.get(reverse("rest_framework:login"))

    response = post(client, REGISTER, TEAPOT, headers={"X-CSRFToken": "x" * 32})

    assert_refused(response, 403, "permission_denied")
    assert not Product.objects.exists()
