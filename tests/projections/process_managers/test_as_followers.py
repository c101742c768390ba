"""Process managers are followers like the others: in projection_status, /readyz, /metrics and the status API,
retried and skipped the same way, and never replayed by a rebuild."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from commands.eventlog import head_position
from commands.models import StoredEvent
from core.routers import READ_PRIMARY
from projections.models import OutgoingEmail, PaymentDeadline
from projections.operations import retry, skip_failed_event
from projections.process_managers.models import IssuedCommand
from projections.process_managers.payment_timeout import PaymentTimeout, fire_due_deadlines
from projections.runner import Outcome
from projections.status import follower_statuses
from tests.factories import CatalogManagerFactory, ProductFactory, place_order
from tests.projections.helpers import checkpoint, project, project_everything

pytestmark = pytest.mark.django_db(databases="__all__")

PROCESS_MANAGERS = ("payment_timeout", "low_stock")


@pytest.fixture
def placed(customer):
    """An order placed, and the position of its OrderPlaced event."""
    order = place_order(customer, {ProductFactory(stock=10): 1})
    return order, StoredEvent.objects.get(stream_id=order.pk).position


@pytest.fixture
def failed(placed, monkeypatch):
    """payment_timeout failed on the OrderPlaced event (its handling broken until the test undoes the patch)."""
    _, position = placed
    handle = PaymentTimeout.handle

    def broken(self, batch):
        if any(recorded.position == position for recorded in batch):
            raise RuntimeError("payment_timeout broke on purpose")
        return handle(self, batch)

    monkeypatch.setattr(PaymentTimeout, "handle", broken)
    assert project("payment_timeout").outcome is Outcome.FAILED
    return position


def test_they_are_listed_as_process_managers_with_their_lag(placed):
    statuses = {status.name: status for status in follower_statuses()}

    for name in PROCESS_MANAGERS:
        assert (statuses[name].kind, statuses[name].queue, statuses[name].lag_events) == (
            "process_manager",
            "notifications",
            StoredEvent.objects.count(),
        )
    out = StringIO()
    call_command("projection_status", stdout=out)
    lines = {line.split()[0]: line.split() for line in out.getvalue().splitlines()[2:]}
    assert lines["payment_timeout"][:4] == ["payment_timeout", "process_manager", "0", str(head_position())]


# Committed: the status API reads from the replica, where CI runs one.
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_failed_one_shows_in_readyz_metrics_and_the_status_api(client, staff_client, staff_user, failed):
    client.force_login(staff_user)  # /readyz shows its checks to staff only
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["projection:payment_timeout"] == (
        f"failed at #{failed}: RuntimeError: payment_timeout broke on purpose"
    )
    assert ready.json()["checks"]["projection:low_stock"] == "ok"
    metrics = client.get("/metrics").content.decode()
    assert 'shop_projection_failed{follower="payment_timeout"} 1.0' in metrics
    assert 'shop_projection_failed{follower="low_stock"} 0.0' in metrics
    detail = staff_client.get("/api/queries/projections/payment_timeout/").json()
    assert (detail["kind"], detail["state"], detail["failed_position"]) == ("process_manager", "failed", failed)


def test_a_failed_one_is_retried_after_the_fix(placed, failed, monkeypatch):
    order, _ = placed
    monkeypatch.undo()  # the fix

    retry("payment_timeout")
    project("payment_timeout")

    assert checkpoint("payment_timeout").position == head_position()
    assert PaymentDeadline.objects.using(READ_PRIMARY).filter(order_id=order.pk).exists()


def test_skipping_the_event_it_failed_on_moves_it_past_without_a_deadline(placed, failed):
    order, _ = placed

    skip_failed_event("payment_timeout", position=failed, skipped_by="alice")
    project("payment_timeout")

    assert checkpoint("payment_timeout").position == head_position()
    assert not PaymentDeadline.objects.using(READ_PRIMARY).filter(order_id=order.pk).exists()


def test_rebuilding_every_projection_replays_no_process_manager(settings, customer):
    settings.LOW_STOCK_THRESHOLD = 5
    CatalogManagerFactory()
    place_order(customer, {ProductFactory(stock=10): 6})  # below the threshold, never paid
    project_everything()
    fire_due_deadlines(timezone.now() + timedelta(seconds=settings.ORDER_PAYMENT_TIMEOUT_SECONDS + 1))
    project_everything()
    before = {name: (checkpoint(name).position, checkpoint(name).updated_at) for name in PROCESS_MANAGERS}
    events, emails, sent = (
        StoredEvent.objects.count(),
        OutgoingEmail.objects.using(READ_PRIMARY).count(),
        len(mail.outbox),
    )

    call_command("rebuild_projections", "--all", stdout=StringIO())

    assert {name: (checkpoint(name).position, checkpoint(name).updated_at) for name in PROCESS_MANAGERS} == before
    assert (StoredEvent.objects.count(), IssuedCommand.objects.count()) == (events, 1)
    assert (OutgoingEmail.objects.using(READ_PRIMARY).count(), len(mail.outbox)) == (emails, sent)
    with pytest.raises(CommandError, match="payment_timeout: subscribers are never replayed, nor are process managers"):
        call_command("rebuild_projections", "payment_timeout", stdout=StringIO())
