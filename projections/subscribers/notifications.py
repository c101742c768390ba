"""E-mail to customers: an order confirmation on OrderPlaced, a dispatch notice on OrderShipped, a
cancellation notice (with its reason) on OrderCancelled.

At most once per event: the message is recorded in the checkpoint's
transaction (one row per event and kind, unique), and sent after commit by
claiming it pending -> sending with a conditional UPDATE. A crash while
sending leaves it in "sending", visible to operators, and never resends it.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from commands.eventlog import RecordedEvent, read_stream
from commands.events import OrderCancelled, OrderPlaced, OrderShipped
from core.routers import READ_PRIMARY
from projections.base import Subscriber
from projections.models import OutgoingEmail

logger = logging.getLogger(__name__)


def order_confirmation(event: OrderPlaced) -> tuple[str, str, str]:
    lines = "\n".join(f"  {line.quantity} x {line.product_name} at {line.unit_price}" for line in event.lines)
    body = (
        f"Dear {event.customer_name},\n\nThank you for your order {event.order_id}:\n{lines}\n\nTotal: {event.total}\n"
    )
    return event.customer_email, f"Your order {str(event.order_id)[:8]} is confirmed", body


class Notifier(Subscriber):
    name = "notifications"
    queue = "notifications"
    event_types = [OrderPlaced.type_name(), OrderShipped.type_name(), OrderCancelled.type_name()]

    def handle(self, batch: list[RecordedEvent]) -> None:
        emails = []
        for recorded in batch:
            email = self._email_for(recorded)
            if email is not None:
                emails.append(email)
                logger.info(
                    "%s owed to %s for event #%d",
                    email.kind,
                    email.recipient,
                    recorded.position,
                    extra={"correlation_id": recorded.metadata.get("correlation_id"), "position": recorded.position},
                )
        OutgoingEmail.objects.using(READ_PRIMARY).bulk_create(emails, ignore_conflicts=True)

    def after_commit(self, handled: None) -> None:
        send_pending_emails()

    def _email_for(self, recorded: RecordedEvent) -> OutgoingEmail | None:
        if recorded.type == OrderPlaced.type_name():
            recipient, subject, body = order_confirmation(recorded.event)
            kind = "order_confirmation"
        elif recorded.type == OrderShipped.type_name():
            recipient, subject, body = self._dispatch_notice(recorded)
            kind = "dispatch_notice"
        elif recorded.type == OrderCancelled.type_name():
            recipient, subject, body = self._cancellation_notice(recorded)
            kind = "cancellation_notice"
        else:
            return None
        return OutgoingEmail(position=recorded.position, kind=kind, recipient=recipient, subject=subject, body=body)

    def _dispatch_notice(self, recorded: RecordedEvent) -> tuple[str, str, str]:
        # OrderShipped carries ids only; the recipient comes from the order's OrderPlaced event.
        placed = _order_placed(recorded.event.order_id)
        subject = f"Your order {str(placed.order_id)[:8]} is on its way"
        body = f"Dear {placed.customer_name},\n\nYour order {placed.order_id} has been shipped.\n"
        return placed.customer_email, subject, body

    def _cancellation_notice(self, recorded: RecordedEvent) -> tuple[str, str, str]:
        placed = _order_placed(recorded.event.order_id)
        subject = f"Your order {str(placed.order_id)[:8]} is cancelled"
        body = (
            f"Dear {placed.customer_name},\n\nYour order {placed.order_id} has been cancelled"
            f"{cancellation_reason_text(recorded.event.reason)}.\n"
        )
        return placed.customer_email, subject, body


def cancellation_reason_text(reason: str) -> str:
    """Why an order was cancelled, as the end of a sentence ("" when no reason was given)."""
    if reason == "payment_timeout":
        minutes = settings.ORDER_PAYMENT_TIMEOUT_SECONDS // 60
        return f" because it was not paid within {minutes} minutes of being placed (reason: payment_timeout)"
    return f" (reason: {reason})" if reason else ""


def _order_placed(order_id) -> OrderPlaced:
    return next(r.event for r in read_stream(order_id) if r.type == OrderPlaced.type_name())


def send_pending_emails() -> int:
    """Send every pending e-mail once, oldest event first; return how many were sent."""
    sent = 0
    for email in _claim_pending():
        try:
            send_mail(email.subject, email.body, settings.DEFAULT_FROM_EMAIL, [email.recipient])
        except Exception as error:
            logger.exception("sending %s failed", email)
            _finish(email, OutgoingEmail.State.FAILED, error=str(error))
        else:
            _finish(email, OutgoingEmail.State.SENT)
            sent += 1
    return sent


def _claim_pending() -> list[OutgoingEmail]:
    """Move every pending e-mail to "sending" for this worker, in one transaction, and return them.

    SKIP LOCKED lets concurrent workers claim disjoint sets; a claimed message is
    never claimed again. Oldest first (the model orders newest first, for the
    admin): a confirmation goes out before its dispatch notice.
    """
    with transaction.atomic(using=READ_PRIMARY):
        emails = list(
            OutgoingEmail.objects.using(READ_PRIMARY)
            .select_for_update(skip_locked=True)
            .filter(state=OutgoingEmail.State.PENDING)
            .order_by("position")
        )
        OutgoingEmail.objects.using(READ_PRIMARY).filter(
            pk__in=[email.pk for email in emails], state=OutgoingEmail.State.PENDING
        ).update(state=OutgoingEmail.State.SENDING)
    return emails


def _finish(email: OutgoingEmail, state: str, error: str = "") -> None:
    OutgoingEmail.objects.using(READ_PRIMARY).filter(pk=email.pk).update(
        state=state, error=error, sent_at=timezone.now() if state == OutgoingEmail.State.SENT else None
    )
