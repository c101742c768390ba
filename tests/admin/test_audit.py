"""The audit log of operator actions: shown read-only in the admin, linked to the events a command recorded."""

import pytest
from django.urls import reverse

from commands import audit
from commands.models import OperatorAction, Order
from core.admin import stream_url
from tests.admin.helpers import run_action
from tests.factories import CustomerFactory, ProductFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

AUDIT = reverse("admin:commands_operatoraction_changelist")


def test_operator_actions_are_listed_newest_first_with_a_link_to_the_commands_events(operator_client, operator):
    order = place_order(CustomerFactory(), {ProductFactory(): 1})
    audit.record(actor=operator, action="retry", target="projection daily_sales", outcome="refused", detail="live")
    run_action(operator_client, Order, "mark_paid", [order])

    response = operator_client.get(AUDIT)

    assert [row.action for row in response.context["cl"].result_list] == ["pay_order", "retry"]
    assert stream_url(order.pk) in response.content.decode()


def test_operator_actions_are_filtered_by_outcome(operator_client, operator):
    audit.record(actor=operator, action="retry", target="projection cache", outcome="refused")
    audit.record(actor=operator, action="rebuild", target="projection daily_sales", outcome="requested")

    response = operator_client.get(AUDIT, {"outcome__exact": "refused"})

    assert [row.target for row in response.context["cl"].result_list] == ["projection cache"]


def test_the_audit_log_cannot_be_changed_in_the_admin(signed_in, operator, django_user_model):
    action = audit.record(actor=operator, action="retry", target="projection cache", outcome="done")
    superuser = signed_in(django_user_model.objects.create_superuser("root", "root@example.com", "x"))

    assert superuser.get(reverse("admin:commands_operatoraction_add")).status_code == 403
    change = reverse("admin:commands_operatoraction_change", args=[action.pk])
    assert superuser.post(change, {"outcome": "refused"}).status_code == 403
    delete = reverse("admin:commands_operatoraction_delete", args=[action.pk])
    assert superuser.post(delete, {"post": "yes"}).status_code == 403
    assert OperatorAction.objects.get().outcome == "done"


def test_an_audit_row_keeps_the_operators_name_after_the_user_is_deleted(operator):
    action = audit.record(actor=operator, action="retry", target="projection cache", outcome="done")
    username = operator.username

    operator.delete()

    action.refresh_from_db()
    assert (action.actor, action.actor_name) == (None, username)
