"""DailySales: per day (UTC), orders placed, items, revenue, and what was cancelled."""

from decimal import Decimal

from commands.events import OrderCancelled, OrderPlaced
from projections import rows as row_store
from projections.base import Projection, handles
from queries.models import DailySales


def _the_day(event, recorded):
    return [recorded.recorded_at.date()]


class DailySalesProjection(Projection):
    name = "daily_sales"
    model = DailySales
    cache_family = "sales"

    def new_row(self, model, key):
        zero = Decimal(0)
        return row_store.new_row(
            self.row_type(model),
            key,
            orders_placed=0,
            items_sold=0,
            revenue=zero,
            orders_cancelled=0,
            revenue_cancelled=zero,
        )

    @handles(OrderPlaced, rows=_the_day)
    def placed(self, rows, event: OrderPlaced, recorded):
        row = rows[recorded.recorded_at.date()]
        row.orders_placed += 1
        row.items_sold += sum(line.quantity for line in event.lines)
        row.revenue += event.total

    @handles(OrderCancelled, rows=_the_day)
    def cancelled(self, rows, event: OrderCancelled, recorded):
        row = rows[recorded.recorded_at.date()]
        row.orders_cancelled += 1
        row.revenue_cancelled += event.total
