"""E-mail to customers: an order confirmation on OrderPlaced, a dispatch notice on OrderShipped, a
cancellation notice (with its reason) on OrderCancelled.

Once per event as the customer sees it: the message is recorded in the
checkpoint's transaction (one row per event and kind, unique), and sent after
commit by claiming it pending -> sending with a conditional UPDATE. A claim is
a lease: if its sender dies before marking the message sent, another sender
(beat's sweep, or the next batch's) claims it again once EMAIL_SENDING_LEASE_SECONDS
have passed and sends it again. Sending is thus at least once, and every copy
carries the same Message-ID, fixed by the outbox row, on which mail systems
collapse the duplicates.
"""

import logging
from datetime import timedelta
from email.utils import parseaddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
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


def message_id(kind: str, position: int) -> str:
    """The Message-ID of the e-mail of `kind` owed for the event at `position`: the same on every resend.

    Its domain is DEFAULT_FROM_EMAIL's. An outbox row is unique on (position, kind), so
    is this; a low-stock alert's kind ("low_stock:<user id>") has its colon made a dot,
    which a Message-ID allows.
    """
    domain = parseaddr(settings.DEFAULT_FROM_EMAIL)[1].rpartition("@")[2] or "localhost"
    return f"<{kind.replace(':', '.')}.{position}@{domain}>"


def send_pending_emails() -> int:
    """Send every e-mail owed that no live sender holds, oldest event first; return how many were sent."""
    return sum(_send(email) for email in _claim_pending())


def _send(email: OutgoingEmail) -> bool:
    """Send one claimed e-mail and record the outcome; False if its claim was taken over, and so not sent here."""
    if not _renew(email):
        return False
    message = EmailMessage(
        email.subject,
        email.body,
        settings.DEFAULT_FROM_EMAIL,
        [email.recipient],
        headers={"Message-ID": message_id(email.kind, email.position)},
    )
    try:
        message.send()
    except Exception as error:
        logger.exception("sending %s failed", email)
        _finish(email, OutgoingEmail.State.FAILED, error=str(error))
        return False
    _finish(email, OutgoingEmail.State.SENT)
    return True


def _claimable():
    """Pending e-mails, and those whose claim is older than the lease: their sender died, or stalled."""
    lapsed = timezone.now() - timedelta(seconds=settings.EMAIL_SENDING_LEASE_SECONDS)
    return Q(state=OutgoingEmail.State.PENDING) | Q(state=OutgoingEmail.State.SENDING, claimed_at__lt=lapsed)


def _claim_pending() -> list[OutgoingEmail]:
    """Move every claimable e-mail to "sending" for this worker, in one transaction, and return them.

    SKIP LOCKED lets concurrent workers claim disjoint sets; a claimed message is
    claimed again only once its lease has lapsed. Oldest first (the model orders
    newest first, for the admin): a confirmation goes out before its dispatch notice.
    """
    claimable = _claimable()
    now = timezone.now()
    with transaction.atomic(using=READ_PRIMARY):
        emails = list(
            OutgoingEmail.objects.using(READ_PRIMARY)
            .select_for_update(skip_locked=True)
            .filter(claimable)
            .order_by("position")
        )
        OutgoingEmail.objects.using(READ_PRIMARY).filter(claimable, pk__in=[email.pk for email in emails]).update(
            state=OutgoingEmail.State.SENDING, claimed_at=now
        )
    for email in emails:
        email.state, email.claimed_at = OutgoingEmail.State.SENDING, now
    return emails


def _renew(email: OutgoingEmail) -> bool:
    """Take `email`'s claim afresh just before sending it; False if another sender has taken it over.

    The batch was claimed at once, and sent one by one: renewing each claim as its
    turn comes means the lease need only outlast one send, not the whole batch. The
    UPDATE is conditional on the claim being the one this sender made, so a sender
    that reaches a message after its lapsed claim was taken over leaves it alone:
    only one still sending when its lease lapsed sends a second copy.
    """
    now = timezone.now()
    if not _held(email).update(claimed_at=now):
        return False
    email.claimed_at = now
    return True


def _finish(email: OutgoingEmail, state: str, error: str = "") -> None:
    # Conditional on the claim, as in _renew: a sender whose claim was taken over mid-send leaves the row to its
    # new owner, which sends it again and records its own outcome.
    _held(email).update(state=state, error=error, sent_at=timezone.now() if state == OutgoingEmail.State.SENT else None)


def _held(email: OutgoingEmail):
    return OutgoingEmail.objects.using(READ_PRIMARY).filter(
        pk=email.pk, state=OutgoingEmail.State.SENDING, claimed_at=email.claimed_at
    )
