"""A handler that raises stops only its own projection, at the event it failed on, until an operator acts.

The runner retries a failing batch one event at a time, so the failure names
its event; after PROJECTION_MAX_ATTEMPTS the projection is marked failed.
"""

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from commands.eventlog import head_position, read_events
from core.routers import READ_PRIMARY
from projections.base import Projection
from projections.models import Checkpoint, SkippedEvent
from projections.operations import OperationRefused, retry, skip_failed_event
from projections.registry import registry
from projections.runner import Outcome, catch_up_projections
from projections.tasks import run_follower
from queries.models import CustomerOrderHistory
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import broken, checkpoint, pay, project, project_everything, row

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def orders(customer):
    """Three orders of 40.00, 80.00 and 40.00, each paid; returns the position of the second payment."""
    kettle = ProductFactory(price=Decimal("40.00"), stock=50)
    pay(place_order(customer, {kettle: 1}))
    second_payment = pay(place_order(customer, {kettle: 2})).position
    pay(place_order(customer, {kettle: 1}))
    return second_payment


@pytest.fixture
def failed(orders):
    """customer_history failed on the second payment; every other follower caught up."""
    with broken("customer_history", "OrderPaid", at=orders):
        project_everything()
    return orders


def the_event_before(position: int) -> int:
    return [recorded.position for recorded in read_events(0, 1000) if recorded.position < position][-1]


def test_a_failing_event_stops_only_its_own_projection(orders):
    with broken("customer_history", "OrderPaid", at=orders):
        results = project_everything()

    assert results.pop("customer_history").outcome is Outcome.FAILED
    assert {name: (result.outcome, result.position) for name, result in results.items()} == {
        name: (Outcome.CAUGHT_UP, head_position()) for name in results
    }
    assert checkpoint("customer_history").state == Checkpoint.State.FAILED
    assert checkpoint("customer_history").failed_position == orders


def test_every_event_before_the_failing_one_is_applied(customer, orders, settings):
    with broken("customer_history", "OrderPaid", at=orders) as calls:
        result = project("customer_history")

    assert result.position == checkpoint("customer_history").position == the_event_before(orders)
    history = row(CustomerOrderHistory, customer.pk)
    assert (history.order_count, history.lifetime_value) == (2, Decimal("40.00"))
    # Once in the first batch, then alone until it is marked failed.
    assert calls.count(orders) == settings.PROJECTION_MAX_ATTEMPTS
    assert checkpoint("customer_history").attempts == settings.PROJECTION_MAX_ATTEMPTS


def test_the_failure_is_recorded_with_its_traceback(failed):
    failure = checkpoint("customer_history")

    assert failure.failed_position == failed
    assert failure.error.startswith("Traceback (most recent call last):")
    assert failure.error.rstrip().endswith("RuntimeError: customer_history broke on purpose")


def test_a_failed_projection_waits_for_an_operator(customer, failed):
    position = checkpoint("customer_history").position

    result = project("customer_history")

    assert (result.outcome, result.position) == (Outcome.PAUSED, position)
    assert row(CustomerOrderHistory, customer.pk).lifetime_value == Decimal("40.00")


def test_projection_status_shows_the_failure(failed):
    out = StringIO()

    call_command("projection_status", stdout=out)

    lines = {line.split()[0]: line for line in out.getvalue().splitlines()[2:]}
    assert set(lines) == set(registry())
    assert "failed" in lines["customer_history"]
    assert f"at #{failed}: RuntimeError: customer_history broke on purpose" in lines["customer_history"]
    assert "failed" not in lines["order_summary"]
    assert "RuntimeError" not in lines["order_summary"]


def test_retrying_after_the_fix_completes_it_to_the_head(customer, failed, enqueued):
    retry("customer_history")

    assert enqueued == ["customer_history"]
    run_follower("customer_history")  # what the enqueued task does on a worker
    recovered = checkpoint("customer_history")
    assert (recovered.state, recovered.position) == (Checkpoint.State.LIVE, head_position())
    assert (recovered.attempts, recovered.failed_position, recovered.error) == (0, None, "")
    history = row(CustomerOrderHistory, customer.pk)
    assert (history.order_count, history.lifetime_value) == (3, Decimal("160.00"))


def test_retry_projection_resumes_it_from_its_checkpoint(customer, failed):
    out = StringIO()

    call_command("retry_projection", "customer_history", stdout=out)

    assert f"customer_history is live again from #{the_event_before(failed)}." in out.getvalue()
    assert project("customer_history").position == head_position()
    assert row(CustomerOrderHistory, customer.pk).lifetime_value == Decimal("160.00")


def test_the_status_no_longer_shows_the_error_once_past_it(failed):
    retry("customer_history")
    project("customer_history")
    out = StringIO()

    call_command("projection_status", stdout=out)

    assert "RuntimeError" not in out.getvalue()


def test_a_projection_that_has_not_failed_cannot_be_retried(failed):
    with pytest.raises(OperationRefused, match="order_summary is live, not failed"):
        retry("order_summary")
    with pytest.raises(CommandError, match="nothing to retry"):
        call_command("retry_projection", "order_summary")


def test_skipping_the_failed_event_records_who_skipped_it_and_moves_on(customer, failed, enqueued):
    skipped = skip_failed_event("customer_history", position=failed, skipped_by="alice")

    assert (skipped.checkpoint_id, skipped.position, skipped.event_type, skipped.skipped_by) == (
        "customer_history",
        failed,
        "OrderPaid",
        "alice",
    )
    assert "RuntimeError: customer_history broke on purpose" in skipped.error
    assert enqueued == ["customer_history"]
    assert (checkpoint("customer_history").state, checkpoint("customer_history").position) == ("live", failed)
    assert project("customer_history").position == head_position()
    # The skipped payment is missing from the lifetime value; the operator knows, it is on record.
    assert row(CustomerOrderHistory, customer.pk).lifetime_value == Decimal("80.00")


def test_skip_event_names_the_operator(failed):
    out = StringIO()

    call_command("skip_event", "customer_history", str(failed), "--by", "alice", stdout=out)

    assert f"customer_history skipped OrderPaid #{failed}; it is live again." in out.getvalue()
    [skipped] = SkippedEvent.objects.using(READ_PRIMARY).all()
    assert (skipped.position, skipped.skipped_by) == (failed, "alice")


def test_it_refuses_to_skip_an_event_it_did_not_fail_on(failed):
    before = checkpoint("customer_history")

    with pytest.raises(OperationRefused, match=f"did not fail on event #{failed + 1}"):
        skip_failed_event("customer_history", position=failed + 1, skipped_by="alice")
    with pytest.raises(CommandError, match=f"did not fail on event #{failed - 1}"):
        call_command("skip_event", "customer_history", str(failed - 1), "--by", "alice")
    with pytest.raises(OperationRefused, match="order_summary did not fail"):
        skip_failed_event("order_summary", position=failed, skipped_by="alice")

    assert not SkippedEvent.objects.using(READ_PRIMARY).exists()
    after = checkpoint("customer_history")
    assert (after.state, after.position, after.failed_position) == (before.state, before.position, failed)


def test_an_event_that_fails_once_is_retried_and_the_projection_goes_on(customer, orders):
    with broken("customer_history", "OrderPaid", at=orders, times=1):
        result = project("customer_history")

    assert (result.outcome, result.position) == (Outcome.CAUGHT_UP, head_position())
    recovered = checkpoint("customer_history")
    assert (recovered.state, recovered.attempts, recovered.failed_position, recovered.error) == ("live", 0, None, "")
    assert row(CustomerOrderHistory, customer.pk).lifetime_value == Decimal("160.00")


def test_a_database_outage_is_left_to_the_task_to_retry_and_counts_no_attempt(orders):
    def unreachable(self, model, rows):
        raise OperationalError("the read database went away")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Projection, "write", unreachable)
        with pytest.raises(OperationalError):
            project("customer_history")

    stalled = checkpoint("customer_history")
    assert (stalled.state, stalled.position, stalled.attempts, stalled.error) == ("live", 0, 0, "")
    assert project("customer_history").position == head_position()


def test_in_a_shared_pass_a_failing_projection_stops_only_itself(orders, settings):
    with broken("customer_history", "OrderPaid", at=orders) as calls:
        results = catch_up_projections()

    assert results.pop("customer_history").outcome is Outcome.FAILED
    assert checkpoint("customer_history").position == the_event_before(orders)
    assert {name: (result.outcome, result.position) for name, result in results.items()} == {
        name: (Outcome.CAUGHT_UP, head_position()) for name in results
    }
    # Once in the shared batch (its savepoint rolled back), then alone, with its retries.
    assert calls.count(orders) == 1 + settings.PROJECTION_MAX_ATTEMPTS


def test_a_shared_pass_applies_nothing_twice_to_a_projection_that_was_ahead(customer, orders):
    project("customer_history")  # ahead of the others

    results = catch_up_projections(batch_size=2)

    assert {result.position for result in results.values()} == {head_position()}
    history = row(CustomerOrderHistory, customer.pk)
    assert (history.order_count, history.lifetime_value) == (3, Decimal("160.00"))
