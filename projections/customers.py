"""CustomerOrderHistory: per customer, how many orders, what they are worth, and the latest."""

from decimal import Decimal

from commands.domain.orders import OrderStatus
from commands.events import CustomerRegistered, OrderCancelled, OrderPaid, OrderPlaced
from projections import rows as row_store
from projections.base import Projection, handles
from queries.models import CustomerOrderHistory


def _the_customer(event, recorded):
    return [event.customer_id]


class CustomerOrderHistoryProjection(Projection):
    name = "customer_history"
    model = CustomerOrderHistory
    cache_family = "customers"

    def new_row(self, model, key):
        return row_store.new_row(self.row_type(model), key, order_count=0, lifetime_value=Decimal(0))

    @handles(CustomerRegistered, rows=_the_customer)
    def registered(self, rows, event: CustomerRegistered, recorded):
        row = rows[event.customer_id]
        row.user_id, row.name, row.email = event.user_id, event.name, event.email

    @handles(OrderPlaced, rows=_the_customer)
    def ordered(self, rows, event: OrderPlaced, recorded):
        row = rows[event.customer_id]
        row.order_count += 1
        row.last_order_at = recorded.recorded_at

    @handles(OrderPaid, rows=_the_customer)
    def paid(self, rows, event: OrderPaid, recorded):
        rows[event.customer_id].lifetime_value += event.amount

    @handles(OrderCancelled, rows=_the_customer)
    def cancelled(self, rows, event: OrderCancelled, recorded):
        # Lifetime value counts paid and shipped orders: a refund takes it back out.
        if event.previous_status == OrderStatus.PAID:
            rows[event.customer_id].lifetime_value -= event.total
