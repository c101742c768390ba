"""An accepted command runs once even when two workers get its task at the same moment (PostgreSQL row locks).

The first worker claims the inbox row (FOR UPDATE SKIP LOCKED) and is held up
inside the handler by a lock the test keeps on the product; the second finds the
row claimed and leaves it. Without the claim, both would restock the product.
"""

import threading
import uuid

import psycopg
import pytest
from django.db import connection, connections, transaction

from commands import inbox
from commands.commands import RestockProduct
from commands.models import InboxCommand, Product, StoredEvent
from tests.factories import ProductFactory, StaffFactory
from tests.processes import database_url, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(databases="__all__", transaction=True)]


class Worker(threading.Thread):
    """inbox.run() on its own database connection, as in a worker process."""

    def __init__(self, command_id: uuid.UUID):
        super().__init__(daemon=True)
        self.command_id, self.ran = command_id, None

    def run(self):
        try:
            self.ran = inbox.run(self.command_id)
        finally:
            connections.close_all()


def backends_waiting_for_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def test_two_workers_given_the_same_command_run_it_once(monkeypatch):
    monkeypatch.setattr(inbox, "enqueue", lambda command_id: None)  # the test plays the workers
    product, staff = ProductFactory(stock=10), StaffFactory()
    with transaction.atomic():
        accepted = inbox.accept(RestockProduct(product_id=product.pk, quantity=5), staff)

    with psycopg.connect(database_url("default")) as holder:
        holder.execute("SELECT 1 FROM commands_product WHERE id = %s FOR UPDATE", [product.pk])
        first = Worker(accepted.command_id)
        first.start()
        wait_until(lambda: backends_waiting_for_a_lock() == 1, timeout=10, what="the first worker inside the handler")
        second = Worker(accepted.command_id)
        second.start()
        second.join(timeout=10)
        assert second.ran == 0  # it found the row claimed, without waiting for the first
        holder.rollback()
    first.join(timeout=10)

    assert first.ran == 1
    assert StoredEvent.objects.filter(type="ProductRestocked").count() == 1
    assert Product.objects.get(pk=product.pk).stock == 15
    assert InboxCommand.objects.get().state == "succeeded"
