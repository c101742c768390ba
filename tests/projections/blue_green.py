"""Version 2 of the customer history, as a deploy would bring it: a new column (each customer's largest order).

The blue/green test starts workers with tests.projections.blue_green_settings,
which deploy this projection in place of version 1. Its model maps the same
table with the new column, under an app label of its own, so that no Django
app (and no migration) of the project ever sees it; the test adds the column
to the live table as the deploy's migration would.
"""

from decimal import Decimal

from django.db import models

from commands.events import OrderPlaced
from projections.base import handles
from projections.customers import CustomerOrderHistoryProjection, _the_customer
from queries.models import CustomerOrderHistory

LARGEST_ORDER = models.DecimalField(max_digits=14, decimal_places=2, null=True)


def _version_2_of(model: type[models.Model]) -> type[models.Model]:
    fields = {field.name: field.clone() for field in model._meta.local_concrete_fields}
    meta = type("Meta", (), {"db_table": model._meta.db_table, "app_label": "blue_green_test", "managed": False})
    attributes = {"__module__": __name__, "Meta": meta, **fields, "largest_order": LARGEST_ORDER.clone()}
    return type(f"{model.__name__}Version2", (models.Model,), attributes)


CustomerOrderHistoryVersion2 = _version_2_of(CustomerOrderHistory)


class CustomerOrderHistoryVersion2Projection(CustomerOrderHistoryProjection):
    version = 2
    model = CustomerOrderHistoryVersion2

    def new_row(self, model, key):
        row = super().new_row(model, key)
        row.largest_order = Decimal(0)
        return row

    registered = CustomerOrderHistoryProjection.registered
    paid = CustomerOrderHistoryProjection.paid
    cancelled = CustomerOrderHistoryProjection.cancelled

    @handles(OrderPlaced, rows=_the_customer)
    def ordered(self, rows, event: OrderPlaced, recorded):
        CustomerOrderHistoryProjection.ordered(self, rows, event, recorded)
        row = rows[event.customer_id]
        row.largest_order = max(row.largest_order, event.total)
