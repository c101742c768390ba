"""The process managers' tables in the admin: staff with the view permission look, nobody changes a row."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from projections.process_managers.payment_timeout import fire_due_deadlines
from tests.admin.helpers import grant, project
from tests.factories import CustomerFactory, ProductFactory, StaffFactory, place_order

pytestmark = pytest.mark.django_db(databases="__all__")

TABLES = {
    "projections_paymentdeadline": "projections.view_paymentdeadline",
    "projections_stocklevel": "projections.view_stocklevel",
    "process_managers_issuedcommand": "process_managers.view_issuedcommand",
}


def test_operators_see_the_deadlines_stock_levels_and_issued_commands_read_only(signed_in):
    order = place_order(CustomerFactory(), {ProductFactory(sku="KETTLE", stock=10): 1})
    project()
    fire_due_deadlines(timezone.now() + timedelta(days=1))
    client = signed_in(grant(StaffFactory(), *TABLES.values()))

    pages = {table: client.get(reverse(f"admin:{table}_changelist")) for table in TABLES}

    assert {table: page.status_code for table, page in pages.items()} == dict.fromkeys(TABLES, 200)
    assert str(order.pk) in pages["projections_paymentdeadline"].content.decode()
    assert "KETTLE" in pages["projections_stocklevel"].content.decode()
    assert "CancelOrder" in pages["process_managers_issuedcommand"].content.decode()
    assert client.get(reverse("admin:projections_paymentdeadline_add")).status_code == 403
