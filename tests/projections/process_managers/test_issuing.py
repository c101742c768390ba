"""issue(): a process manager's command runs at most once per command id, which derives from the event's position."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection

from commands import eventlog
from commands.commands import CancelOrder, RestockProduct
from commands.models import Product, StoredEvent
from projections.process_managers.issuing import SYSTEM_USERNAME, command_id_for, issue
from projections.process_managers.models import IssuedCommand
from tests.factories import ProductFactory, place_order
from tests.projections.helpers import pay, ship


def restock_for_event(product, position: int) -> RestockProduct:
    """A command with no expected version: only the ledger stands between a second issue and a second effect."""
    return RestockProduct(command_id=command_id_for("test_manager", position), product_id=product.pk, quantity=5)


def restocks_of(product) -> int:
    return StoredEvent.objects.filter(stream_id=product.pk, type="ProductRestocked").count()


@pytest.mark.django_db(databases="__all__")
class TestOnEveryBackend:
    def test_the_command_id_is_the_same_for_the_same_event_and_differs_between_events_and_managers(self):
        assert command_id_for("payment_timeout", 7) == command_id_for("payment_timeout", 7)
        assert command_id_for("payment_timeout", 7) != command_id_for("payment_timeout", 8)
        assert command_id_for("payment_timeout", 7) != command_id_for("low_stock", 7)

    def test_issuing_the_same_command_twice_records_it_once(self):
        kettle = ProductFactory(stock=10)

        first = issue(restock_for_event(kettle, 42), issued_by="test_manager", trigger_position=42)
        again = issue(restock_for_event(kettle, 42), issued_by="test_manager", trigger_position=42)

        assert restocks_of(kettle) == 1
        assert Product.objects.get(pk=kettle.pk).stock == 15
        assert again.pk == first.pk and again.position == first.position
        assert IssuedCommand.objects.count() == 1

    def test_it_acts_as_the_system_actor_who_cannot_sign_in(self):
        kettle = ProductFactory(stock=10)

        issue(restock_for_event(kettle, 1), issued_by="test_manager", trigger_position=1)

        event = StoredEvent.objects.get(stream_id=kettle.pk, type="ProductRestocked")
        assert event.metadata["actor"]["username"] == SYSTEM_USERNAME
        assert event.metadata["command_id"] == str(command_id_for("test_manager", 1))
        system = get_user_model().objects.get(username=SYSTEM_USERNAME)
        assert (system.is_staff, system.is_active, system.has_usable_password()) == (True, False, False)

    def test_a_refused_command_is_recorded_as_refused_and_never_dispatched_again(self, customer):
        order = place_order(customer, {ProductFactory(stock=10): 1})
        pay(order)
        ship(order)
        command = CancelOrder(command_id=command_id_for("test_manager", 9), order_id=order.pk, reason="payment_timeout")

        refused = issue(command, issued_by="test_manager", trigger_position=9)
        again = issue(command, issued_by="test_manager", trigger_position=9)

        assert (refused.outcome, refused.refusal.split(":")[0]) == ("refused", "illegal_status_change")
        assert again.outcome == "refused"
        assert IssuedCommand.objects.count() == 1

    def test_a_command_that_fails_leaves_no_ledger_row_so_it_is_issued_again(self, monkeypatch):
        kettle = ProductFactory(stock=10)

        def database_gone(*args, **kwargs):
            raise OperationalError("the write database went away")

        with monkeypatch.context() as patch:
            patch.setattr(eventlog, "append", database_gone)
            with pytest.raises(OperationalError):
                issue(restock_for_event(kettle, 3), issued_by="test_manager", trigger_position=3)
        assert IssuedCommand.objects.count() == 0

        issue(restock_for_event(kettle, 3), issued_by="test_manager", trigger_position=3)

        assert restocks_of(kettle) == 1
        assert IssuedCommand.objects.get().outcome == "recorded"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases="__all__")
def test_two_workers_issuing_the_same_command_at_once_record_it_once():
    """The ledger row is inserted first, in the command's transaction: the second insert of the same id waits
    on the primary key until the first transaction commits, then finds the row and dispatches nothing."""
    kettle = ProductFactory(stock=10)
    contenders = 4
    barrier = threading.Barrier(contenders)
    outcomes: list = [None] * contenders

    def contend(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=30)
            outcomes[index] = issue(restock_for_event(kettle, 77), issued_by="test_manager", trigger_position=77)
        except Exception as error:
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=contend, args=(index,)) for index in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(isinstance(outcome, IssuedCommand) for outcome in outcomes), outcomes
    assert {outcome.pk for outcome in outcomes} == {command_id_for("test_manager", 77)}
    assert restocks_of(kettle) == 1
    assert Product.objects.get(pk=kettle.pk).stock == 15
