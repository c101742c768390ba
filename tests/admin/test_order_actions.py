"""Orders in the admin: read-only, changed only by actions that dispatch PayOrder, ShipOrder and CancelOrder."""

import pytest
from django.urls import reverse

from commands.models import OperatorAction, Order, StoredEvent
from tests.admin.helpers import audit_rows, grant, messages_of, offered_actions, run_action
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order
from tests.projections.helpers import cancel, pay, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle():
    return ProductFactory(sku="KETTLE", stock=10)


@pytest.fixture
def ada():
    return CustomerFactory(name="Ada")


def an_order(customer, product, quantity=1):
    return place_order(customer, {product: quantity})


def status(order) -> str:
    return Order.objects.get(pk=order.pk).status


def test_operators_are_offered_the_order_actions_and_no_delete(operator_client):
    assert offered_actions(operator_client, Order) == ["mark_paid", "mark_shipped", "cancel"]


def test_marking_orders_paid_reports_each_rows_outcome(operator_client, operator, ada, kettle):
    placed, cancelled = an_order(ada, kettle), an_order(ada, kettle)
    cancel(cancelled)

    response = run_action(operator_client, Order, "mark_paid", [placed, cancelled])

    assert response.status_code == 302
    assert (status(placed), status(cancelled)) == ("paid", "cancelled")
    paid = StoredEvent.objects.get(stream_id=placed.pk, type="OrderPaid")
    assert sorted(messages_of(response)) == sorted(
        [
            f"Order {placed.pk}: paid (version 2, event #{paid.position}).",
            f"Order {cancelled.pk}: refused, illegal_status_change: An order that is cancelled cannot become paid.",
        ]
    )
    assert paid.metadata["actor"]["username"] == operator.username  # the operator is the actor


def test_shipping_needs_a_paid_order(operator_client, ada, kettle):
    paid, placed = an_order(ada, kettle), an_order(ada, kettle)
    pay(paid)

    response = run_action(operator_client, Order, "mark_shipped", [paid, placed])

    assert (status(paid), status(placed)) == ("shipped", "placed")
    assert any(message.startswith(f"Order {paid.pk}: shipped") for message in messages_of(response))
    assert f"Order {placed.pk}: refused, illegal_status_change: An order that is placed cannot become shipped." in (
        messages_of(response)
    )


def test_cancelling_releases_stock_and_refuses_a_shipped_order(operator_client, operator, ada, kettle):
    placed, shipped = an_order(ada, kettle, 3), an_order(ada, kettle, 2)
    pay(shipped)
    ship(shipped)

    response = run_action(operator_client, Order, "cancel", [placed, shipped])

    assert (status(placed), status(shipped)) == ("cancelled", "shipped")
    kettle.refresh_from_db()
    assert kettle.stock == 10 - 2
    event = StoredEvent.objects.get(stream_id=placed.pk, type="OrderCancelled")
    assert event.data["reason"] == f"cancelled in the admin by {operator.username}"
    assert any("refused, illegal_status_change" in message for message in messages_of(response))


def test_every_attempt_is_audited_and_a_done_one_names_its_command(operator_client, operator, ada, kettle):
    placed, cancelled = an_order(ada, kettle), an_order(ada, kettle)
    cancel(cancelled)

    run_action(operator_client, Order, "mark_paid", [placed, cancelled])

    assert sorted(audit_rows()) == sorted(
        [
            (operator.username, "pay_order", f"order {placed.pk}", "done"),
            (operator.username, "pay_order", f"order {cancelled.pk}", "refused"),
        ]
    )
    done = OperatorAction.objects.get(outcome="done")
    assert str(done.command_id) == StoredEvent.objects.get(type="OrderPaid").metadata["command_id"]
    assert done.actor == operator
    refused = OperatorAction.objects.get(outcome="refused")
    assert refused.detail == "illegal_status_change: An order that is cancelled cannot become paid."


def test_staff_without_the_change_permission_get_no_order_actions(viewer_client, ada, kettle):
    order = an_order(ada, kettle)

    assert offered_actions(viewer_client, Order) == []
    response = run_action(viewer_client, Order, "mark_paid", [order])

    assert status(order) == "placed"
    assert not StoredEvent.objects.filter(type="OrderPaid").exists()
    assert not OperatorAction.objects.exists()
    assert response.status_code in (200, 302)  # the admin ignores an action it does not offer


def test_the_change_permission_alone_is_enough_for_the_actions(signed_in, ada, kettle):
    client = signed_in(grant(StaffFactory(), "commands.change_order"))
    order = an_order(ada, kettle)

    run_action(client, Order, "mark_paid", [order])

    assert status(order) == "paid"


def test_a_get_on_the_order_list_runs_no_action(operator_client, ada, kettle):
    order = an_order(ada, kettle)
    url = reverse("admin:commands_order_changelist")

    operator_client.get(url, {"action": "cancel", "_selected_action": str(order.pk), "index": "0"})

    assert status(order) == "placed"


def test_orders_are_never_saved_by_the_admin_itself(signed_in, ada, kettle, django_user_model):
    superuser = signed_in(django_user_model.objects.create_superuser("root", "root@example.com", "x"))
    order = an_order(ada, kettle)
    change = reverse("admin:commands_order_change", args=[order.pk])

    assert superuser.get(reverse("admin:commands_order_add")).status_code == 403
    assert superuser.post(change, {"status": "shipped", "total": "0"}).status_code == 403
    assert superuser.post(reverse("admin:commands_order_delete", args=[order.pk]), {"post": "yes"}).status_code == 403
    assert status(order) == "placed"


def test_an_order_page_shows_its_lines_read_only(viewer_client, ada, kettle):
    order = an_order(ada, kettle, 3)

    response = viewer_client.get(reverse("admin:commands_order_change", args=[order.pk]))

    assert response.status_code == 200
    [inline] = response.context["inline_admin_formsets"]
    assert [line.quantity for line in inline.formset.queryset] == [3]
    assert "KETTLE" in response.content.decode()
    assert 'name="lines-0-quantity"' not in response.content.decode()  # shown, not editable


def test_orders_are_filtered_by_status_and_searched_by_customer(viewer_client, ada, kettle):
    bob = CustomerFactory(name="Bob")
    first, second = an_order(ada, kettle), an_order(bob, kettle)
    pay(second)
    url = reverse("admin:commands_order_changelist")

    def found(**query):
        return {order.pk for order in viewer_client.get(url, query).context["cl"].result_list}

    assert found(status__exact="paid") == {second.pk}
    assert found(q="Ada") == {first.pk}
    assert found(q=str(second.pk)) == {second.pk}
