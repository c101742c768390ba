"""POST /api/commands/products/{id}/change-price/: staff and catalog managers reprice a product."""

import uuid
from decimal import Decimal

import pytest

from commands.commands import ChangePrice
from commands.errors import InvalidCommand
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    url,
)
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db(databases="__all__")


def change_price(product) -> str:
    return url("change-price", product.pk)


def test_a_staff_member_changes_the_price(staff_client, staff_user, product):
    log = EventLogWatch()

    response = post(staff_client, change_price(product), {"new_price": "12.50"})

    position = assert_accepted(response, product.id, version=2)
    product.refresh_from_db()
    assert (product.price, product.version) == (Decimal("12.50"), 2)
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("ProductPriceChanged", product.id, 2)
    assert event.position == position
    assert event.data == {"product_id": str(product.id), "old_price": "9.99", "new_price": "12.50"}
    assert_metadata(event, command="ChangePrice", actor=staff_user)


def test_a_catalog_manager_changes_the_price(catalog_manager_client, catalog_manager, product):
    log = EventLogWatch()

    response = post(catalog_manager_client, change_price(product), {"new_price": "8.00"})

    assert_accepted(response, product.id, version=2)
    [event] = log.new_events()
    assert_metadata(event, command="ChangePrice", actor=catalog_manager)


@pytest.mark.parametrize("same_price", ["9.99", 9.99])
def test_setting_the_price_it_already_has_is_refused(staff_client, product, same_price):
    log = EventLogWatch()

    response = post(staff_client, change_price(product), {"new_price": same_price})

    assert_refused(response, 409, "price_unchanged")
    product.refresh_from_db()
    assert product.version == 1
    log.assert_nothing_appended()


def test_an_equal_price_written_differently_is_still_unchanged(staff_client):
    product = ProductFactory(price=Decimal("9.90"))

    response = post(staff_client, change_price(product), {"new_price": "9.9"})

    assert_refused(response, 409, "price_unchanged")


def test_a_discontinued_products_price_is_frozen(staff_client, discontinued_product):
    log = EventLogWatch()

    response = post(staff_client, change_price(discontinued_product), {"new_price": "6.00"})

    assert_refused(response, 409, "product_unavailable")
    discontinued_product.refresh_from_db()
    assert discontinued_product.price == Decimal("5.00")
    log.assert_nothing_appended()


@pytest.mark.parametrize("new_price", ["0", "-3.00", "0.001", "ten", None])
def test_the_new_price_must_be_a_positive_amount(staff_client, product, new_price):
    response = post(staff_client, change_price(product), {"new_price": new_price})

    body = assert_refused(response, 400, "invalid")
    assert list(body["errors"]) == ["new_price"]
    product.refresh_from_db()
    assert product.price == Decimal("9.99")


def test_a_negative_expected_version_is_invalid(staff_client, product):
    response = post(staff_client, change_price(product), {"new_price": "8.00", "expected_version": -1})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["expected_version"]


@pytest.mark.parametrize("client_fixture", ["customer_client", "plain_user_client"])
def test_users_without_catalog_rights_are_forbidden(request, product, client_fixture):
    client = request.getfixturevalue(client_fixture)
    log = EventLogWatch()

    response = post(client, change_price(product), {"new_price": "0.50"})

    assert_refused(response, 403, "forbidden")
    product.refresh_from_db()
    assert product.price == Decimal("9.99")
    log.assert_nothing_appended()


def test_the_command_itself_refuses_a_non_positive_price():
    with pytest.raises(InvalidCommand) as refused:
        ChangePrice(product_id=uuid.uuid4(), new_price=Decimal("0"))

    assert refused.value.errors == {"new_price": ["Must be greater than zero."]}
