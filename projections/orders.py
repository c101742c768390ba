"""OrderSummary: one row per order, with its customer and lines denormalized."""

from commands.domain.orders import OrderStatus
from commands.events import OrderCancelled, OrderPaid, OrderPlaced, OrderShipped
from projections.base import Projection, handles
from queries.models import OrderSummary


def _the_order(event, recorded):
    return [event.order_id]


class OrderSummaryProjection(Projection):
    name = "order_summary"
    model = OrderSummary
    cache_family = "orders"

    @handles(OrderPlaced, rows=_the_order)
    def placed(self, rows, event: OrderPlaced, recorded):
        row = rows[event.order_id]
        row.customer_id = event.customer_id
        row.customer_name, row.customer_email = event.customer_name, event.customer_email
        row.status = OrderStatus.PLACED
        row.item_count = sum(line.quantity for line in event.lines)
        row.total, row.currency = event.total, event.currency
        row.lines = [
            {
                "product_id": str(line.product_id),
                "sku": line.sku,
                "product_name": line.product_name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
            }
            for line in event.lines
        ]
        row.placed_at = recorded.recorded_at

    @handles(OrderPaid, rows=_the_order)
    def paid(self, rows, event: OrderPaid, recorded):
        row = rows[event.order_id]
        row.status, row.paid_at = OrderStatus.PAID, recorded.recorded_at

    @handles(OrderShipped, rows=_the_order)
    def shipped(self, rows, event: OrderShipped, recorded):
        row = rows[event.order_id]
        row.status, row.shipped_at = OrderStatus.SHIPPED, recorded.recorded_at

    @handles(OrderCancelled, rows=_the_order)
    def cancelled(self, rows, event: OrderCancelled, recorded):
        row = rows[event.order_id]
        row.status, row.cancelled_at = OrderStatus.CANCELLED, recorded.recorded_at
        row.cancellation_reason = event.reason
