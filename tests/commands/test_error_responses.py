"""Every refusal is a JSON body with a machine-readable `code`, never a 500.

config.api.exception_handler maps domain and DRF errors; core.middleware
refuses oversized bodies before anything reads them.
"""

import json

import pytest
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404

from commands import errors
from commands.models import Product
from config.api import exception_handler
from tests.commands.helpers import EventLogWatch, assert_refused, post, url

pytestmark = pytest.mark.django_db(databases="__all__")

REGISTER = url("register-product")
TEAPOT = {"sku": "TEA-001", "name": "Teapot", "category": "kitchen", "price": "24.50"}


def post_raw(client, path: str, body: bytes, content_type: str = "application/json", **extra):
    return client.generic("POST", path, body, content_type=content_type, **extra)


@pytest.mark.parametrize("body", [b"{bad json", b'{"sku": "TEA-001",', b"\xff\xfe", b"NaN"])
def test_malformed_json_is_a_parse_error(staff_client, body):
    response = post_raw(staff_client, REGISTER, body)

    assert_refused(response, 400, "parse_error")
    assert not Product.objects.exists()


@pytest.mark.parametrize("headers", [{}, {"Idempotency-Key": "deep"}], ids=["plain", "with-key"])
def test_json_nested_too_deeply_to_decode_is_a_parse_error(staff_client, headers):
    # Well under the size limit, but past Python's recursion limit when decoded.
    response = post_raw(staff_client, REGISTER, b'{"sku": ' + b"[" * 100_000, headers=headers)

    assert_refused(response, 400, "parse_error")


@pytest.mark.parametrize("body", [b"[]", b'"teapot"', b"null"])
def test_json_that_is_not_an_object_is_invalid_input(staff_client, body):
    response = post_raw(staff_client, REGISTER, body)

    body = assert_refused(response, 400, "invalid")
    assert list(body["errors"]) == ["non_field_errors"]


def test_a_body_larger_than_the_limit_is_refused_before_it_is_read(staff_client, settings):
    oversized = {**TEAPOT, "description": "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE}
    log = EventLogWatch()

    response = post(staff_client, REGISTER, oversized)

    assert_refused(response, 413, "request_too_large")
    assert not Product.objects.exists()
    log.assert_nothing_appended()


def test_a_body_of_exactly_the_limit_is_read(staff_client, settings):
    body = json.dumps(TEAPOT).encode()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

    response = post_raw(staff_client, REGISTER, body)

    assert response.status_code == 201


def test_one_byte_over_the_limit_is_too_large(staff_client, settings):
    body = json.dumps(TEAPOT).encode()
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body) - 1

    response = post_raw(staff_client, REGISTER, body)

    assert_refused(response, 413, "request_too_large")
    assert not Product.objects.exists()


def test_the_size_limit_applies_before_authentication(anonymous_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10

    response = post(anonymous_client, REGISTER, TEAPOT)

    assert_refused(response, 413, "request_too_large")


def test_a_content_length_that_is_not_a_number_is_a_bad_request(staff_client):
    response = post_raw(staff_client, REGISTER, json.dumps(TEAPOT).encode(), CONTENT_LENGTH="lots")

    assert_refused(response, 400, "invalid_content_length")
    assert not Product.objects.exists()


def test_a_body_that_is_not_json_is_an_unsupported_media_type(staff_client):
    response = post_raw(staff_client, REGISTER, b"sku=TEA-001", content_type="text/plain")

    assert_refused(response, 415, "unsupported_media_type")


def test_commands_are_only_posted(staff_client):
    response = staff_client.get(REGISTER)

    assert_refused(response, 405, "method_not_allowed")


def test_field_errors_come_with_the_invalid_code(staff_client):
    response = post(staff_client, REGISTER, {**TEAPOT, "price": "free"})

    assert response.json() == {
        "code": "invalid",
        "detail": "The input is invalid.",
        "errors": {"price": ["A valid number is required."]},
    }


def _domain_errors(cls=errors.DomainError):
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _domain_errors(subclass)


@pytest.mark.parametrize(
    "error_class",
    [cls for cls in _domain_errors() if cls is not errors.InvalidCommand],
    ids=lambda cls: cls.__name__,
)
def test_every_domain_error_answers_its_status_and_code_with_its_facts(error_class):
    response = exception_handler(error_class("It went wrong.", extra={"current_version": 3}), {})

    assert response.status_code == error_class.status
    assert response.data == {"code": error_class.code, "detail": "It went wrong.", "current_version": 3}


def test_domain_errors_map_to_the_statuses_the_design_names():
    statuses = {cls.code: cls.status for cls in _domain_errors() if cls.code != "domain_error"}

    assert statuses == {
        "invalid": 400,
        "product_not_found": 404,
        "order_not_found": 404,
        "customer_not_found": 404,
        "version_conflict": 409,
        "insufficient_stock": 409,
        "product_unavailable": 409,
        "order_too_large": 409,
        "duplicate_sku": 409,
        "price_unchanged": 409,
        "illegal_status_change": 409,
        "customer_already_registered": 409,
        "not_a_customer": 409,
        "forbidden": 403,
    }


def test_an_invalid_command_answers_400_with_its_field_errors():
    response = exception_handler(errors.InvalidCommand({"lines": ["An order needs at least one line."]}), {})

    assert response.status_code == 400
    assert response.data == {
        "code": "invalid",
        "detail": "The command is invalid.",
        "errors": {"lines": ["An order needs at least one line."]},
    }


def test_an_unexpected_error_is_left_to_django():
    assert exception_handler(RuntimeError("bug"), {}) is None


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [(Http404("No such thing."), 404, "not_found"), (DjangoPermissionDenied(), 403, "permission_denied")],
    ids=["Http404", "PermissionDenied"],
)
def test_djangos_own_errors_get_a_code_too(error, status, code):
    response = exception_handler(error, {})

    assert response.status_code == status
    assert response.data["code"] == code
    assert response.data["detail"]
