"""POST /api/commands/products/{id}/restock/: staff and catalog managers add units to the stock."""

import uuid

import pytest

from commands.commands import RestockProduct
from commands.errors import InvalidCommand
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    url,
)
from tests.factories import place_order

pytestmark = pytest.mark.django_db(databases="__all__")


def restock(product) -> str:
    return url("restock-product", product.pk)


def test_a_staff_member_restocks_a_product(staff_client, staff_user, product):
    log = EventLogWatch()

    response = post(staff_client, restock(product), {"quantity": 5})

    position = assert_accepted(response, product.id, version=2)
    product.refresh_from_db()
    assert (product.stock, product.version) == (15, 2)
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("ProductRestocked", product.id, 2)
    assert event.position == position
    assert event.data == {"product_id": str(product.id), "quantity": 5, "stock": 15}
    assert_metadata(event, command="RestockProduct", actor=staff_user)


def test_a_catalog_manager_restocks_a_product(catalog_manager_client, catalog_manager, product):
    log = EventLogWatch()

    response = post(catalog_manager_client, restock(product), {"quantity": 1})

    assert_accepted(response, product.id, version=2)
    [event] = log.new_events()
    assert_metadata(event, command="RestockProduct", actor=catalog_manager)


def test_the_event_tells_the_stock_left_after_orders_took_their_share(staff_client, customer, product):
    place_order(customer, {product: 10})
    log = EventLogWatch()

    response = post(staff_client, restock(product), {"quantity": 4})

    assert_accepted(response, product.id, version=2)
    product.refresh_from_db()
    assert product.stock == 4
    [event] = log.new_events()
    assert event.data["stock"] == 4


def test_a_discontinued_product_cannot_be_restocked(staff_client, discontinued_product):
    log = EventLogWatch()

    response = post(staff_client, restock(discontinued_product), {"quantity": 5})

    assert_refused(response, 409, "product_unavailable")
    discontinued_product.refresh_from_db()
    assert discontinued_product.stock == 10
    log.assert_nothing_appended()


@pytest.mark.parametrize("quantity", [0, -5, 10_001, 2.5, "many", None])
def test_the_quantity_must_be_a_whole_number_from_1_to_10000(staff_client, product, quantity):
    response = post(staff_client, restock(product), {"quantity": quantity})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["quantity"]
    product.refresh_from_db()
    assert product.stock == 10


@pytest.mark.parametrize("client_fixture", ["customer_client", "plain_user_client"])
def test_users_without_catalog_rights_are_forbidden(request, product, client_fixture):
    client = request.getfixturevalue(client_fixture)
    log = EventLogWatch()

    response = post(client, restock(product), {"quantity": 5})

    assert_refused(response, 403, "forbidden")
    product.refresh_from_db()
    assert product.stock == 10
    log.assert_nothing_appended()


@pytest.mark.parametrize("quantity", [0, -1, True])
def test_the_command_itself_refuses_a_quantity_that_is_not_positive(quantity):
    with pytest.raises(InvalidCommand) as refused:
        RestockProduct(product_id=uuid.uuid4(), quantity=quantity)

    assert list(refused.value.errors) == ["quantity"]
