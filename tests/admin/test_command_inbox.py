"""The command inbox in the admin: commands listed by state, failed ones retried by staff, audited."""

import pytest
from django.urls import reverse

from commands import inbox
from commands.commands import RestockProduct
from commands.models import InboxCommand, Product, StoredEvent
from tests.admin.helpers import audit_rows, grant, messages_of, offered_actions, run_action
from tests.factories import ProductFactory, StaffFactory

pytestmark = pytest.mark.django_db(databases="__all__")

INBOX_OPERATOR = ("commands.view_inboxcommand", "commands.change_inboxcommand")


@pytest.fixture
def inbox_operator():
    return grant(StaffFactory(username="olga"), *INBOX_OPERATOR)


@pytest.fixture
def kettle():
    return ProductFactory(sku="KETTLE", stock=10)


def inbox_command(product, actor, state, quantity=4) -> InboxCommand:
    command = RestockProduct(product_id=product.pk, quantity=quantity)
    return InboxCommand.objects.create(
        command_id=command.command_id,
        type="RestockProduct",
        payload=inbox.encode(command),
        actor=actor,
        ordering_key=product.pk,
        state=state,
        error={"code": "internal_error", "detail": "RuntimeError: boom"} if state == "failed" else None,
    )


def test_the_inbox_lists_commands_by_state(signed_in, inbox_operator, kettle):
    failed = inbox_command(kettle, inbox_operator, "failed")
    inbox_command(kettle, inbox_operator, "succeeded")
    url = reverse("admin:commands_inboxcommand_changelist")

    response = signed_in(inbox_operator).get(url, {"state__exact": "failed"})

    assert [command.pk for command in response.context["cl"].result_list] == [failed.pk]


def test_retrying_a_failed_command_runs_it_again_and_is_audited(
    signed_in, inbox_operator, kettle, django_capture_on_commit_callbacks, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    failed = inbox_command(kettle, inbox_operator, "failed", quantity=4)
    succeeded = inbox_command(kettle, inbox_operator, "succeeded")

    with django_capture_on_commit_callbacks(execute=True):
        response = run_action(signed_in(inbox_operator), InboxCommand, "retry_failed", [failed, succeeded])

    failed.refresh_from_db()
    assert failed.state == "succeeded"
    assert Product.objects.get(pk=kettle.pk).stock == 14
    assert StoredEvent.objects.filter(type="ProductRestocked").get().metadata["command_id"] == str(failed.command_id)
    assert sorted(messages_of(response)) == sorted(
        [
            f"RestockProduct {failed.command_id}: accepted again.",
            f"RestockProduct {succeeded.command_id}: not retried, it is succeeded, not failed.",
        ]
    )
    assert sorted(audit_rows()) == sorted(
        [
            ("olga", "retry_command", f"command {failed.command_id}", "done"),
            ("olga", "retry_command", f"command {succeeded.command_id}", "refused"),
        ]
    )


def test_staff_who_may_only_look_are_not_offered_the_retry(signed_in, kettle):
    viewer = grant(StaffFactory(), "commands.view_inboxcommand")

    assert offered_actions(signed_in(viewer), InboxCommand) == []
