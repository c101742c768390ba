"""POST /api/commands/products/{id}/discontinue/: staff and catalog managers take a product off sale."""

import pytest

from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    url,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def discontinue(product) -> str:
    return url("discontinue-product", product.pk)


def test_a_staff_member_discontinues_a_product(staff_client, staff_user, product):
    log = EventLogWatch()

    response = post(staff_client, discontinue(product))

    position = assert_accepted(response, product.id, version=2)
    product.refresh_from_db()
    assert (product.discontinued, product.version, product.stock) == (True, 2, 10)
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("ProductDiscontinued", product.id, 2)
    assert event.position == position
    assert event.data == {"product_id": str(product.id)}
    assert_metadata(event, command="DiscontinueProduct", actor=staff_user)


def test_a_catalog_manager_discontinues_a_product(catalog_manager_client, catalog_manager, product):
    log = EventLogWatch()

    response = post(catalog_manager_client, discontinue(product))

    assert_accepted(response, product.id, version=2)
    [event] = log.new_events()
    assert_metadata(event, command="DiscontinueProduct", actor=catalog_manager)


def test_discontinuing_twice_is_refused(staff_client, discontinued_product):
    log = EventLogWatch()

    response = post(staff_client, discontinue(discontinued_product))

    assert_refused(response, 409, "product_unavailable")
    discontinued_product.refresh_from_db()
    assert discontinued_product.version == 2
    log.assert_nothing_appended()


def test_the_expected_version_must_be_a_whole_number(staff_client, product):
    response = post(staff_client, discontinue(product), {"expected_version": "latest"})

    assert list(assert_refused(response, 400, "invalid")["errors"]) == ["expected_version"]
    product.refresh_from_db()
    assert not product.discontinued


@pytest.mark.parametrize("client_fixture", ["customer_client", "plain_user_client"])
def test_users_without_catalog_rights_are_forbidden(request, product, client_fixture):
    client = request.getfixturevalue(client_fixture)
    log = EventLogWatch()

    response = post(client, discontinue(product))

    assert_refused(response, 403, "forbidden")
    product.refresh_from_db()
    assert not product.discontinued
    log.assert_nothing_appended()
