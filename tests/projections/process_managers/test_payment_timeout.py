"""The payment timeout: an unpaid order is cancelled once, with its reason; one paid or cancelled in time is not."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.utils import timezone

from commands.models import Order, OrderStatus, Product, StoredEvent
from core.routers import READ_PRIMARY
from projections.models import Checkpoint, PaymentDeadline
from projections.process_managers import payment_timeout
from projections.process_managers.issuing import SYSTEM_USERNAME
from projections.process_managers.models import IssuedCommand
from projections.process_managers.payment_timeout import fire_due_deadlines
from queries.models import OrderSummary
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import cancel, pay, project

pytestmark = pytest.mark.django_db(databases="__all__")

TIMEOUT = 600


@pytest.fixture(autouse=True)
def _ten_minutes_to_pay(settings):
    settings.ORDER_PAYMENT_TIMEOUT_SECONDS = TIMEOUT


@pytest.fixture
def kettle(db):
    return ProductFactory(stock=10)


def after_the_deadline() -> timezone.datetime:
    return timezone.now() + timedelta(seconds=TIMEOUT + 1)


def deadline_of(order) -> PaymentDeadline:
    return PaymentDeadline.objects.using(READ_PRIMARY).get(order_id=order.pk)


def cancellations_of(order) -> list[StoredEvent]:
    return list(StoredEvent.objects.filter(stream_id=order.pk, type="OrderCancelled"))


def test_an_order_left_unpaid_is_cancelled_for_payment_timeout_and_its_stock_released(customer, kettle):
    order = place_order(customer, {kettle: 3})
    project("payment_timeout")

    assert fire_due_deadlines(after_the_deadline()) == 1

    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert Product.objects.get(pk=kettle.pk).stock == 10
    [cancelled] = cancellations_of(order)
    assert cancelled.data["reason"] == "payment_timeout"
    assert cancelled.metadata["actor"]["username"] == SYSTEM_USERNAME
    assert deadline_of(order).state == PaymentDeadline.State.FIRED


def test_the_reason_shows_in_the_order_summary_and_in_the_cancellation_email(customer, kettle):
    order = place_order(customer, {kettle: 1})
    project("payment_timeout")
    fire_due_deadlines(after_the_deadline())

    project("order_summary")
    project("notifications")

    summary = OrderSummary.objects.using(READ_PRIMARY).get(pk=order.pk)
    assert (summary.status, summary.cancellation_reason) == ("cancelled", "payment_timeout")
    notice = mail.outbox[-1]
    assert notice.subject == f"Your order {str(order.pk)[:8]} is cancelled"
    assert "not paid within 10 minutes" in notice.body


def test_nothing_is_cancelled_before_the_deadline(customer, kettle):
    order = place_order(customer, {kettle: 1})
    project("payment_timeout")

    assert fire_due_deadlines(timezone.now() + timedelta(seconds=TIMEOUT - 5)) == 0

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PLACED
    assert deadline_of(order).state == PaymentDeadline.State.PENDING


def test_an_order_paid_before_the_deadline_is_left_alone(customer, kettle):
    order = place_order(customer, {kettle: 1})
    pay(order)
    project("payment_timeout")

    assert fire_due_deadlines(after_the_deadline()) == 0

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert deadline_of(order).state == PaymentDeadline.State.CLOSED
    assert cancellations_of(order) == []


def test_an_order_paid_after_the_manager_last_looked_is_still_left_alone(customer, kettle):
    """The deadline is still pending (the manager has not followed the payment yet) when beat fires it:
    the cancellation expects the order's version at placement, so the write side refuses it."""
    order = place_order(customer, {kettle: 1})
    project("payment_timeout")
    pay(order)

    assert fire_due_deadlines(after_the_deadline()) == 0

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert cancellations_of(order) == []
    deadline = deadline_of(order)
    assert deadline.state == PaymentDeadline.State.REFUSED
    assert deadline.detail.startswith("version_conflict")


def test_an_order_its_customer_cancelled_first_keeps_the_customers_reason(customer, kettle):
    order = place_order(customer, {kettle: 1})
    cancel(order, reason="changed my mind")
    project("payment_timeout")

    assert fire_due_deadlines(after_the_deadline()) == 0

    [cancelled] = cancellations_of(order)
    assert cancelled.data["reason"] == "changed my mind"
    assert deadline_of(order).state == PaymentDeadline.State.CLOSED


def test_a_firing_killed_after_the_cancellation_committed_does_not_cancel_again(customer, kettle, monkeypatch):
    """The cancellation commits on `default`, then the worker dies before the deadline's update commits on
    `read`: the deadline is still pending. The next firing issues the same command id, and the ledger,
    written with the cancellation, answers for it: the deadline is fired, nothing is dispatched twice."""
    order = place_order(customer, {kettle: 1})
    project("payment_timeout")
    issue = payment_timeout.issue

    def issue_then_die(*args, **kwargs):
        issue(*args, **kwargs)
        raise SystemExit("the worker was killed")

    monkeypatch.setattr(payment_timeout, "issue", issue_then_die)
    with pytest.raises(SystemExit):
        fire_due_deadlines(after_the_deadline())
    assert deadline_of(order).state == PaymentDeadline.State.PENDING
    monkeypatch.setattr(payment_timeout, "issue", issue)

    fire_due_deadlines(after_the_deadline())

    assert len(cancellations_of(order)) == 1
    assert deadline_of(order).state == PaymentDeadline.State.FIRED
    assert IssuedCommand.objects.get().outcome == IssuedCommand.Outcome.RECORDED


def test_following_the_log_again_keeps_every_deadline_as_it_was(customer, kettle):
    unpaid, paid = place_order(customer, {kettle: 1}), place_order(customer, {kettle: 1})
    pay(paid)
    project("payment_timeout")
    fire_due_deadlines(after_the_deadline())
    Checkpoint.objects.using(READ_PRIMARY).filter(name="payment_timeout").update(position=0)

    project("payment_timeout")

    assert fire_due_deadlines(after_the_deadline()) == 0
    assert (deadline_of(unpaid).state, deadline_of(paid).state) == ("fired", "closed")
    assert len(cancellations_of(unpaid)) == 1
    assert IssuedCommand.objects.count() == 1


def test_the_management_command_fires_the_due_deadlines(customer, kettle, settings):
    settings.ORDER_PAYMENT_TIMEOUT_SECONDS = 0
    order = place_order(customer, {kettle: 1})
    project("payment_timeout")
    out = StringIO()

    call_command("fire_payment_deadlines", stdout=out)

    assert out.getvalue() == "1 order(s) cancelled for want of payment.\n"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.CANCELLED
