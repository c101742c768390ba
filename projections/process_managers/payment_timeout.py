"""Payment timeout: an order still placed ORDER_PAYMENT_TIMEOUT_SECONDS after it was placed is cancelled.

Following the log, the manager writes a deadline for each OrderPlaced and
closes it when the order is paid, shipped or cancelled first (in its
checkpoint's transaction on `read`). Beat fires the due deadlines
(fire_due_deadlines): each one issues CancelOrder with reason
"payment_timeout", which releases the order's stock. The command expects the
order's version at placement, so an order paid just before its deadline fired,
while the manager had not yet followed the payment, is refused by the write
side and left alone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from commands.commands import CancelOrder
from commands.eventlog import RecordedEvent
from commands.events import OrderCancelled, OrderPaid, OrderPlaced, OrderShipped
from core.routers import READ_PRIMARY
from projections.base import ProcessManager
from projections.models import PaymentDeadline
from projections.process_managers.issuing import command_id_for, issue
from projections.process_managers.models import IssuedCommand

logger = logging.getLogger(__name__)

NAME = "payment_timeout"
REASON = "payment_timeout"
# Deadlines fired per transaction on `read`: each holds its rows locked while it cancels their orders.
FIRING_BATCH = 100

_SETTLED = frozenset(event.type_name() for event in (OrderPaid, OrderShipped, OrderCancelled))


class PaymentTimeout(ProcessManager):
    name = NAME
    queue = "notifications"  # the side-effects worker: commands issued here never hold up the read models
    event_types = sorted({OrderPlaced.type_name(), *_SETTLED})

    def handle(self, batch: list[RecordedEvent]) -> None:
        """Write a deadline for every order placed, and close those of orders settled, in `batch`."""
        timeout = timedelta(seconds=settings.ORDER_PAYMENT_TIMEOUT_SECONDS)
        placed: dict = {}
        settled: set = set()
        for recorded in batch:
            if recorded.type == OrderPlaced.type_name():
                placed[recorded.event.order_id] = PaymentDeadline(
                    order_id=recorded.event.order_id,
                    position=recorded.position,
                    order_version=recorded.version,
                    due_at=recorded.recorded_at + timeout,
                )
            elif recorded.type in _SETTLED:
                order_id = recorded.event.order_id
                if order_id in placed:
                    placed[order_id].state = PaymentDeadline.State.CLOSED
                else:
                    settled.add(order_id)
        deadlines = PaymentDeadline.objects.using(READ_PRIMARY)
        # A re-run after a checkpoint reset meets its own deadlines again: they stay as they are.
        deadlines.bulk_create(placed.values(), ignore_conflicts=True)
        if settled:
            deadlines.filter(order_id__in=settled, state=PaymentDeadline.State.PENDING).update(
                state=PaymentDeadline.State.CLOSED
            )


def fire_due_deadlines(now: datetime | None = None) -> int:
    """Cancel every order whose payment deadline has passed (run by beat); return how many were cancelled."""
    now = now or timezone.now()
    cancelled = 0
    while True:
        fired = _fire_next_batch(now)
        cancelled += sum(deadline.state == PaymentDeadline.State.FIRED for deadline in fired)
        if len(fired) < FIRING_BATCH:
            return cancelled


def _fire_next_batch(now: datetime) -> list[PaymentDeadline]:
    deadlines = PaymentDeadline.objects.using(READ_PRIMARY)
    with transaction.atomic(using=READ_PRIMARY):
        # SKIP LOCKED: two firings at once (beat overlapping itself) take disjoint deadlines.
        due = list(
            deadlines.select_for_update(skip_locked=True)
            .filter(state=PaymentDeadline.State.PENDING, due_at__lte=now)
            .order_by("due_at")[:FIRING_BATCH]
        )
        for deadline in due:
            _fire(deadline, now)
        deadlines.bulk_update(due, ["state", "detail", "fired_at"])
    return due


def _fire(deadline: PaymentDeadline, now: datetime) -> None:
    """Cancel the deadline's order; a crash after this commits and before the deadline's update does is
    harmless: the next firing issues the same command id, which the ledger has already seen."""
    command = CancelOrder(
        command_id=command_id_for(NAME, deadline.position),
        order_id=deadline.order_id,
        reason=REASON,
        expected_version=deadline.order_version,
    )
    issued = issue(command, issued_by=NAME, trigger_position=deadline.position)
    deadline.fired_at = now
    if issued.outcome == IssuedCommand.Outcome.RECORDED:
        deadline.state = PaymentDeadline.State.FIRED
        logger.info("order %s was not paid in time: cancelled at #%s", deadline.order_id, issued.position)
    else:
        deadline.state, deadline.detail = PaymentDeadline.State.REFUSED, issued.refusal
        logger.info("order %s was not cancelled for want of payment: %s", deadline.order_id, issued.refusal)
