"""POST /api/commands/orders/{id}/ship/: staff ship paid orders."""

import pytest

from commands.models import OrderStatus
from tests.commands.helpers import (
    EventLogWatch,
    assert_accepted,
    assert_metadata,
    assert_refused,
    post,
    url,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def ship(order) -> str:
    return url("ship-order", order.pk)


def test_staff_ship_a_paid_order(staff_client, staff_user, customer, paid_order):
    log = EventLogWatch()

    response = post(staff_client, ship(paid_order))

    position = assert_accepted(response, paid_order.id, version=3)
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.version) == (OrderStatus.SHIPPED, 3)
    [event] = log.new_events()
    assert (event.type, event.stream_id, event.version) == ("OrderShipped", paid_order.id, 3)
    assert event.position == position
    assert event.data == {"order_id": str(paid_order.id), "customer_id": str(customer.id)}
    assert_metadata(event, command="ShipOrder", actor=staff_user)


def test_an_unpaid_order_cannot_ship(staff_client, placed_order):
    log = EventLogWatch()

    response = post(staff_client, ship(placed_order))

    assert_refused(response, 409, "illegal_status_change")
    placed_order.refresh_from_db()
    assert placed_order.status == OrderStatus.PLACED
    log.assert_nothing_appended()


def test_a_cancelled_order_cannot_ship(staff_client, paid_order):
    post(staff_client, url("cancel-order", paid_order.pk))

    response = post(staff_client, ship(paid_order))

    assert_refused(response, 409, "illegal_status_change")
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.CANCELLED


def test_shipping_twice_is_refused(staff_client, shipped_order):
    response = post(staff_client, ship(shipped_order))

    assert_refused(response, 409, "illegal_status_change")
    shipped_order.refresh_from_db()
    assert shipped_order.version == 3


@pytest.mark.parametrize("client_fixture", ["customer_client", "catalog_manager_client"])
def test_only_staff_ship(request, paid_order, client_fixture):
    client = request.getfixturevalue(client_fixture)
    log = EventLogWatch()

    response = post(client, ship(paid_order))

    assert_refused(response, 403, "forbidden")
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.PAID
    log.assert_nothing_appended()
