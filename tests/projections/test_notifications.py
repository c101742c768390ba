"""The notifications subscriber: one e-mail per OrderPlaced, OrderShipped and OrderCancelled, at most once,
never on a rebuild."""

from decimal import Decimal
from io import StringIO
from smtplib import SMTPRecipientsRefused

import pytest
from django.core import mail
from django.core.management import call_command

from core.routers import READ_PRIMARY
from projections.models import Checkpoint, OutgoingEmail
from projections.subscribers.notifications import send_pending_emails
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import cancel, checkpoint, pay, project, project_everything, ship

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def kettle(db):
    return ProductFactory(name="Copper Kettle", price=Decimal("40.00"), stock=10)


def outgoing() -> list[tuple[str, str]]:
    return list(OutgoingEmail.objects.using(READ_PRIMARY).order_by("position").values_list("kind", "state"))


def test_placing_an_order_sends_one_confirmation(customer, kettle):
    order = place_order(customer, {kettle: 2})

    project("notifications")

    [confirmation] = mail.outbox
    assert confirmation.to == [customer.email]
    assert confirmation.subject == f"Your order {str(order.pk)[:8]} is confirmed"
    assert f"Dear {customer.name}," in confirmation.body
    assert "2 x Copper Kettle at 40.00" in confirmation.body
    assert "Total: 80.00" in confirmation.body
    assert outgoing() == [("order_confirmation", "sent")]


def test_shipping_an_order_sends_one_dispatch_notice(customer, kettle):
    order = place_order(customer, {kettle: 1})
    pay(order)
    ship(order)

    project("notifications")

    assert [email.subject for email in mail.outbox] == [
        f"Your order {str(order.pk)[:8]} is confirmed",
        f"Your order {str(order.pk)[:8]} is on its way",
    ]
    notice = mail.outbox[1]
    assert notice.to == [customer.email]
    assert f"Your order {order.pk} has been shipped." in notice.body
    assert outgoing() == [("order_confirmation", "sent"), ("dispatch_notice", "sent")]


def test_paying_sends_nothing_and_cancelling_sends_a_notice_with_the_reason(customer, kettle):
    order = place_order(customer, {kettle: 1})
    pay(order)
    cancel(order, reason="found it cheaper")

    project("notifications")

    assert [email.subject for email in mail.outbox] == [
        f"Your order {str(order.pk)[:8]} is confirmed",
        f"Your order {str(order.pk)[:8]} is cancelled",
    ]
    notice = mail.outbox[1]
    assert notice.to == [customer.email]
    assert f"Your order {order.pk} has been cancelled (reason: found it cheaper)." in notice.body
    assert outgoing() == [("order_confirmation", "sent"), ("cancellation_notice", "sent")]


def test_catching_up_again_sends_nothing_twice(customer, kettle):
    place_order(customer, {kettle: 1})
    project("notifications")

    project("notifications")
    resent = send_pending_emails()

    assert (len(mail.outbox), resent) == (1, 0)


def test_replaying_the_log_to_the_notifier_sends_nothing_twice(customer, kettle):
    ship_me = place_order(customer, {kettle: 1})
    pay(ship_me)
    ship(ship_me)
    project("notifications")
    Checkpoint.objects.using(READ_PRIMARY).filter(name="notifications").update(position=0)

    project("notifications")

    assert len(mail.outbox) == 2
    assert outgoing() == [("order_confirmation", "sent"), ("dispatch_notice", "sent")]


def test_a_message_stuck_in_sending_is_never_sent_again(customer, kettle):
    place_order(customer, {kettle: 1})

    def killed_mid_send(*args, **kwargs):
        raise SystemExit("the worker was killed while talking to the mail server")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("projections.subscribers.notifications.send_mail", killed_mid_send)
        with pytest.raises(SystemExit):
            project("notifications")
    place_order(customer, {kettle: 1})
    project("notifications")
    send_pending_emails()

    assert outgoing() == [("order_confirmation", "sending"), ("order_confirmation", "sent")]
    assert len(mail.outbox) == 1


def test_a_refused_message_is_marked_failed_and_not_retried(customer, kettle):
    place_order(customer, {kettle: 1})

    def refused(*args, **kwargs):
        raise SMTPRecipientsRefused({customer.email: (550, b"No such user")})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("projections.subscribers.notifications.send_mail", refused)
        result = project("notifications")
    send_pending_emails()

    assert result.outcome.value == "caught up"
    assert outgoing() == [("order_confirmation", "failed")]
    assert "No such user" in OutgoingEmail.objects.using(READ_PRIMARY).get().error
    assert mail.outbox == []


def test_a_rebuild_sends_no_email_again(customer, kettle):
    order = place_order(customer, {kettle: 1})
    pay(order)
    ship(order)
    project_everything()
    notifier_before = checkpoint("notifications")

    call_command("rebuild_projections", "--all", stdout=StringIO())

    assert len(mail.outbox) == 2
    assert outgoing() == [("order_confirmation", "sent"), ("dispatch_notice", "sent")]
    notifier_after = checkpoint("notifications")
    assert (notifier_after.position, notifier_after.updated_at) == (
        notifier_before.position,
        notifier_before.updated_at,
    )
