"""POST /api/commands/products/register/: staff and catalog managers add products to the catalog."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission

from commands.commands import RegisterProduct
from commands.errors import InvalidCommand
from commands.eventlog import read_stream
from commands.models import Product
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    signed_in,
    url,
)
from tests.factories import ProductFactory, UserFactory

pytestmark = pytest.mark.django_db(databases="__all__")

REGISTER = url("register-product")
TEAPOT = {
    "sku": "TEA-001",
    "name": "Teapot",
    "description": "Holds a litre.",
    "category": "kitchen",
    "price": "24.50",
    "stock": 12,
}


def test_a_staff_member_registers_a_product(staff_client, staff_user):
    log = EventLogWatch()

    response = post(staff_client, REGISTER, TEAPOT)

    product = Product.objects.get(sku="TEA-001")
    position = assert_accepted(response, product.id, version=1, status=201)
    assert (product.name, product.description, product.category) == ("Teapot", "Holds a litre.", "kitchen")
    assert (product.price, product.stock, product.discontinued, product.version) == (Decimal("24.50"), 12, False, 1)
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("ProductRegistered", product.id, 1)
    assert event.position == position
    assert event.data == {
        "product_id": str(product.id),
        "sku": "TEA-001",
        "name": "Teapot",
        "description": "Holds a litre.",
        "category": "kitchen",
        "price": "24.50",
        "stock": 12,
    }
    assert_metadata(event, command="RegisterProduct", actor=staff_user)


def test_a_catalog_manager_registers_a_product(catalog_manager_client, catalog_manager):
    response = post(catalog_manager_client, REGISTER, TEAPOT)

    product = Product.objects.get(sku="TEA-001")
    assert_accepted(response, product.id, version=1, status=201)
    assert_metadata(read_stream(product.id)[0], command="RegisterProduct", actor=catalog_manager)


def test_the_catalog_permission_may_come_from_a_group():
    user = UserFactory()
    managers = Group.objects.create(name="catalog managers")
    managers.permissions.add(Permission.objects.get(codename="manage_catalog"))
    user.groups.add(managers)

    response = post(signed_in(user), REGISTER, TEAPOT)

    assert response.status_code == 201


def test_description_and_stock_are_optional(staff_client):
    response = post(staff_client, REGISTER, {"sku": "MUG-1", "name": "Mug", "category": "kitchen", "price": "3"})

    product = Product.objects.get(sku="MUG-1")
    assert_accepted(response, product.id, version=1, status=201)
    assert (product.description, product.stock, product.price) == ("", 0, Decimal("3.00"))
    assert read_stream(product.id)[0].data["stock"] == 0


def test_an_overlong_correlation_id_is_cut_and_a_blank_one_ignored(staff_client, staff_user):
    long_id = "x" * 150

    long_response = post(staff_client, REGISTER, TEAPOT, headers={"X-Correlation-ID": long_id})
    blank_response = post(staff_client, REGISTER, {**TEAPOT, "sku": "TEA-002"}, headers={"X-Correlation-ID": " "})

    [long_event] = read_stream(long_response.json()["id"])
    assert long_event.metadata["correlation_id"] == "x" * 100
    [blank_event] = read_stream(blank_response.json()["id"])
    assert_metadata(blank_event, command="RegisterProduct", actor=staff_user)


def test_each_command_gets_its_own_id(staff_client):
    first = post(staff_client, REGISTER, TEAPOT)
    second = post(staff_client, REGISTER, {**TEAPOT, "sku": "TEA-002"})

    [first_event] = read_stream(first.json()["id"])
    [second_event] = read_stream(second.json()["id"])
    assert first_event.metadata["command_id"] != second_event.metadata["command_id"]
    assert second_event.position > first_event.position


@pytest.mark.parametrize("client_fixture", ["customer_client", "plain_user_client"])
def test_users_without_catalog_rights_are_forbidden(request, client_fixture):
    client = request.getfixturevalue(client_fixture)
    log = EventLogWatch()

    response = post(client, REGISTER, TEAPOT)

    assert_refused(response, 403, "forbidden")
    assert not Product.objects.filter(sku="TEA-001").exists()
    log.assert_nothing_appended()


def test_a_taken_sku_is_refused(staff_client):
    existing = ProductFactory(sku="TEA-001")
    log = EventLogWatch()

    response = post(staff_client, REGISTER, TEAPOT)

    assert_refused(response, 409, "duplicate_sku")
    assert list(Product.objects.filter(sku="TEA-001")) == [existing]
    log.assert_nothing_appended()


def test_missing_fields_are_reported_by_name(staff_client):
    response = post(staff_client, REGISTER, {})

    body = assert_refused(response, 400, "invalid")
    assert set(body["errors"]) == {"sku", "name", "category", "price"}


@pytest.mark.parametrize("field", ["sku", "name", "category"])
def test_blank_names_are_refused(staff_client, field):
    response = post(staff_client, REGISTER, {**TEAPOT, field: "   "})

    body = assert_refused(response, 400, "invalid")
    assert list(body["errors"]) == [field]
    assert not Product.objects.exists()


@pytest.mark.parametrize("price", ["0", "-1.00", "1.001", "abc", "100000000000"])
def test_a_price_must_be_positive_with_at_most_two_decimals(staff_client, price):
    response = post(staff_client, REGISTER, {**TEAPOT, "price": price})

    body = assert_refused(response, 400, "invalid")
    assert list(body["errors"]) == ["price"]
    assert not Product.objects.exists()


@pytest.mark.parametrize("stock", [-1, 100_001, "lots"])
def test_stock_must_be_a_whole_number_in_range(staff_client, stock):
    response = post(staff_client, REGISTER, {**TEAPOT, "stock": stock})

    body = assert_refused(response, 400, "invalid")
    assert list(body["errors"]) == ["stock"]


def test_an_overlong_sku_is_refused(staff_client):
    response = post(staff_client, REGISTER, {**TEAPOT, "sku": "S" * 65})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["sku"]


@pytest.mark.parametrize("price", [Decimal("0"), Decimal("-5"), Decimal("NaN"), Decimal("1.234")])
def test_the_command_itself_refuses_a_bad_price_whoever_builds_it(price):
    with pytest.raises(InvalidCommand) as refused:
        RegisterProduct(sku="TEA-001", name="Teapot", category="kitchen", price=price)

    assert list(refused.value.errors) == ["price"]
