"""The notifications subscriber: one e-mail per OrderPlaced, OrderShipped and OrderCancelled, never on a rebuild;
sent at least once, under a Message-ID fixed by its outbox row, so that the receiver sees it once."""

import threading
import time
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from io import StringIO
from smtplib import SMTPRecipientsRefused

import pytest
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from config.celery import app
from core.routers import READ_PRIMARY
from projections.models import Checkpoint, OutgoingEmail
from projections.subscribers.notifications import _claim_pending, _send, send_pending_emails
from projections.tasks import sweep_outbox
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import cancel, checkpoint, locked_elsewhere, pay, project, project_everything, ship

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


def message_ids() -> list[str]:
    return [message.message()["Message-ID"] for message in mail.outbox]


def test_each_message_carries_a_message_id_fixed_by_its_outbox_row(customer, kettle):
    order = place_order(customer, {kettle: 1})
    pay(order)
    ship(order)

    project("notifications")

    placed, shipped = OutgoingEmail.objects.using(READ_PRIMARY).order_by("position").values_list("position", flat=True)
    assert message_ids() == [f"<order_confirmation.{placed}@localhost>", f"<dispatch_notice.{shipped}@localhost>"]


@contextmanager
def killed_mid_send():
    """Send as a worker SIGKILLed while talking to the mail server: the claim is made, the message never leaves.

    Yields the Message-IDs of the messages the worker was sending.
    """
    attempted = []

    def killed(message, *args, **kwargs):
        attempted.append(message.message()["Message-ID"])
        raise SystemExit("the worker was killed while talking to the mail server")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EmailMessage, "send", killed)
        with pytest.raises(SystemExit):
            yield attempted


def project_without_sending() -> None:
    """Run the notifier, whose worker dies once the e-mails owed are committed, before it sends any."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("projections.subscribers.notifications.send_pending_emails", lambda: 0)
        project("notifications")


def claims_older_than_the_lease() -> None:
    """Move every claim back past EMAIL_SENDING_LEASE_SECONDS, as time does to a dead worker's."""
    long_ago = timezone.now() - timedelta(seconds=settings.EMAIL_SENDING_LEASE_SECONDS + 1)
    OutgoingEmail.objects.using(READ_PRIMARY).filter(state=OutgoingEmail.State.SENDING).update(claimed_at=long_ago)


def test_a_message_whose_sender_died_is_sent_again_after_the_lease_under_the_same_message_id(customer, kettle):
    place_order(customer, {kettle: 1})
    with killed_mid_send() as attempted:
        project("notifications")
    assert outgoing() == [("order_confirmation", "sending")]
    claims_older_than_the_lease()

    sent = send_pending_emails()

    assert sent == 1
    assert message_ids() == attempted
    assert outgoing() == [("order_confirmation", "sent")]


def test_a_message_claimed_within_its_lease_is_left_to_its_sender(customer, kettle):
    place_order(customer, {kettle: 1})
    with killed_mid_send():  # or a sender still talking to a slow mail server: nobody can tell yet
        project("notifications")
    place_order(customer, {kettle: 1})

    project("notifications")
    send_pending_emails()

    assert outgoing() == [("order_confirmation", "sending"), ("order_confirmation", "sent")]
    assert len(mail.outbox) == 1


def test_the_lease_is_a_setting(customer, kettle, settings):
    settings.EMAIL_SENDING_LEASE_SECONDS = 5
    place_order(customer, {kettle: 1})
    with killed_mid_send():
        project("notifications")
    six_seconds_ago = timezone.now() - timedelta(seconds=6)
    OutgoingEmail.objects.using(READ_PRIMARY).update(claimed_at=six_seconds_ago)

    assert send_pending_emails() == 1


def test_a_sender_whose_claim_lapsed_and_was_taken_over_leaves_the_message_to_the_new_sender(customer, kettle):
    place_order(customer, {kettle: 1})
    project_without_sending()
    [held_too_long] = _claim_pending()  # then the sender stalls (sending the others of its batch, say)
    claims_older_than_the_lease()
    assert send_pending_emails() == 1  # another sender takes the lapsed claim over

    assert _send(held_too_long) is False
    assert len(mail.outbox) == 1


def test_a_sender_whose_claim_lapsed_unnoticed_still_sends(customer, kettle):
    place_order(customer, {kettle: 1})
    project_without_sending()
    [held_too_long] = _claim_pending()
    claims_older_than_the_lease()
    held_too_long.refresh_from_db(using=READ_PRIMARY)  # the claim it holds, moved back

    assert _send(held_too_long) is True
    assert outgoing() == [("order_confirmation", "sent")]


def test_beat_sweeps_the_outbox_every_10_seconds_on_the_notifications_queue():
    entry = settings.CELERY_BEAT_SCHEDULE["sweep-outbox"]

    assert entry == {"task": "projections.tasks.sweep_outbox", "schedule": 10.0, "options": {"queue": "notifications"}}
    assert entry["task"] in app.tasks


def test_the_sweep_sends_a_dead_senders_message_without_waiting_for_another_event(customer, kettle):
    place_order(customer, {kettle: 1})
    with killed_mid_send() as attempted:
        project("notifications")
    claims_older_than_the_lease()

    assert sweep_outbox() == 1
    assert message_ids() == attempted


def test_the_sweep_sends_a_message_whose_wake_up_was_lost(customer, kettle):
    place_order(customer, {kettle: 1})
    project_without_sending()
    assert outgoing() == [("order_confirmation", "pending")]

    assert sweep_outbox() == 1
    assert outgoing() == [("order_confirmation", "sent")]


def claim_in_progress():
    """Lock every e-mail row from another connection, as a sender in the middle of its claim does."""
    return locked_elsewhere(lambda: list(OutgoingEmail.objects.using(READ_PRIMARY).select_for_update()))


@pytest.mark.postgres
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_a_sender_passes_over_the_messages_another_is_claiming(customer, kettle):
    place_order(customer, {kettle: 1})
    project_without_sending()

    with claim_in_progress():
        started = time.monotonic()
        assert send_pending_emails() == 0
        assert time.monotonic() - started < 5  # passed over at once, not waited for

    assert mail.outbox == []
    assert send_pending_emails() == 1


@pytest.mark.postgres
@pytest.mark.django_db(databases="__all__", transaction=True)
def test_concurrent_senders_never_send_one_message_twice():
    long_ago = timezone.now() - timedelta(seconds=settings.EMAIL_SENDING_LEASE_SECONDS + 1)
    OutgoingEmail.objects.using(READ_PRIMARY).bulk_create(
        OutgoingEmail(
            position=position,
            kind="order_confirmation",
            recipient=f"customer{position}@example.com",
            subject=f"Your order {position} is confirmed",
            body="Thank you.",
            # Half owed afresh, half left by a dead sender: both kinds are up for claiming.
            state=OutgoingEmail.State.PENDING if position % 2 else OutgoingEmail.State.SENDING,
            claimed_at=None if position % 2 else long_ago,
        )
        for position in range(1, 41)
    )
    start = threading.Barrier(4)
    counts, errors = [], []

    def sender():
        try:
            start.wait(timeout=30)
            counts.append(send_pending_emails())
        except Exception as error:
            errors.append(error)
        finally:
            connections.close_all()

    senders = [threading.Thread(target=sender) for _ in range(4)]
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(timeout=60)

    assert errors == []
    assert sum(counts) == len(mail.outbox) == 40
    assert sorted(message_ids()) == sorted(f"<order_confirmation.{n}@localhost>" for n in range(1, 41))
    assert set(OutgoingEmail.objects.using(READ_PRIMARY).values_list("state", flat=True)) == {"sent"}


def test_a_refused_message_is_marked_failed_and_not_retried(customer, kettle):
    place_order(customer, {kettle: 1})

    def refused(*args, **kwargs):
        raise SMTPRecipientsRefused({customer.email: (550, b"No such user")})

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(EmailMessage, "send", refused)
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
