"""The naive projector, the baseline of projection throughput: one ORM update_or_create per event per read model.

It is what a first CQRS attempt looks like: read the log, and for every event and
every read model it touches, `update_or_create` the row (each in its own transaction),
with counters moved by F() expressions. It keeps no checkpoint, which only flatters it.
It writes the same read-model tables, indexes included, as the real projections.
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import F

from commands.eventlog import RecordedEvent, read_events
from commands.events import (
    CustomerRegistered,
    OrderCancelled,
    OrderPaid,
    OrderPlaced,
    OrderShipped,
    ProductDiscontinued,
    ProductPriceChanged,
    ProductRegistered,
    ProductRestocked,
)
from core.routers import READ_PRIMARY
from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog

ZERO = Decimal(0)


def project_window(*, after: int, limit: int, batch_size: int = 500) -> int:
    """Apply up to `limit` events after position `after` to every read model; return how many were applied."""
    position, applied = after, 0
    while applied < limit:
        batch = read_events(position, min(batch_size, limit - applied))
        if not batch:
            break
        for recorded in batch:
            apply(recorded)
        position, applied = batch[-1].position, applied + len(batch)
    return applied


def _upsert(model, key: dict, defaults: dict, create_defaults: dict | None = None) -> None:
    model.objects.db_manager(READ_PRIMARY).update_or_create(
        **key, defaults=defaults, create_defaults=create_defaults if create_defaults is not None else defaults
    )


def apply(recorded: RecordedEvent) -> None:
    event, at = recorded.event, recorded.recorded_at
    if isinstance(event, ProductRegistered):
        fields = {
            "sku": event.sku,
            "name": event.name,
            "description": event.description,
            "category": event.category,
            "price": event.price,
            "stock_available": event.stock,
            "units_sold": 0,
            "status": ProductCatalog.Status.ACTIVE,
            "updated_at": at,
        }
        _upsert(ProductCatalog, {"product_id": event.product_id}, fields)
    elif isinstance(event, ProductPriceChanged):
        _upsert(ProductCatalog, {"product_id": event.product_id}, {"price": event.new_price, "updated_at": at})
    elif isinstance(event, ProductRestocked):
        stock = {"stock_available": F("stock_available") + event.quantity, "updated_at": at}
        _upsert(ProductCatalog, {"product_id": event.product_id}, stock)
    elif isinstance(event, ProductDiscontinued):
        status = {"status": ProductCatalog.Status.DISCONTINUED, "updated_at": at}
        _upsert(ProductCatalog, {"product_id": event.product_id}, status)
    elif isinstance(event, CustomerRegistered):
        _upsert(
            CustomerOrderHistory,
            {"customer_id": event.customer_id},
            {"user_id": event.user_id, "name": event.name, "email": event.email},
        )
    elif isinstance(event, OrderPlaced):
        _order_placed(event, recorded)
    elif isinstance(event, OrderPaid):
        _upsert(OrderSummary, {"order_id": event.order_id}, {"status": "paid", "paid_at": at})
        value = {"lifetime_value": F("lifetime_value") + event.amount}
        _upsert(CustomerOrderHistory, {"customer_id": event.customer_id}, value, {"lifetime_value": event.amount})
    elif isinstance(event, OrderShipped):
        _upsert(OrderSummary, {"order_id": event.order_id}, {"status": "shipped", "shipped_at": at})
    elif isinstance(event, OrderCancelled):
        _order_cancelled(event, recorded)


def _order_placed(event: OrderPlaced, recorded: RecordedEvent) -> None:
    at = recorded.recorded_at
    items = sum(line.quantity for line in event.lines)
    for line in event.lines:
        sold = {
            "stock_available": F("stock_available") - line.quantity,
            "units_sold": F("units_sold") + line.quantity,
            "updated_at": at,
        }
        _upsert(ProductCatalog, {"product_id": line.product_id}, sold)
    summary = {
        "customer_id": event.customer_id,
        "customer_name": event.customer_name,
        "customer_email": event.customer_email,
        "status": "placed",
        "item_count": items,
        "total": event.total,
        "lines": [
            {
                "product_id": str(line.product_id),
                "sku": line.sku,
                "product_name": line.product_name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
            }
            for line in event.lines
        ],
        "placed_at": at,
    }
    _upsert(OrderSummary, {"order_id": event.order_id}, summary)
    _upsert(
        CustomerOrderHistory,
        {"customer_id": event.customer_id},
        {"order_count": F("order_count") + 1, "last_order_at": at},
        {"order_count": 1, "last_order_at": at},
    )
    _upsert(
        DailySales,
        {"date": at.date()},
        {
            "orders_placed": F("orders_placed") + 1,
            "items_sold": F("items_sold") + items,
            "revenue": F("revenue") + event.total,
        },
        {"orders_placed": 1, "items_sold": items, "revenue": event.total},
    )


def _order_cancelled(event: OrderCancelled, recorded: RecordedEvent) -> None:
    at = recorded.recorded_at
    for line in event.lines:
        released = {
            "stock_available": F("stock_available") + line.quantity,
            "units_sold": F("units_sold") - line.quantity,
            "updated_at": at,
        }
        _upsert(ProductCatalog, {"product_id": line.product_id}, released)
    _upsert(OrderSummary, {"order_id": event.order_id}, {"status": "cancelled", "cancelled_at": at})
    if event.previous_status == "paid":
        refund = {"lifetime_value": F("lifetime_value") - event.total}
        _upsert(CustomerOrderHistory, {"customer_id": event.customer_id}, refund, {"lifetime_value": -event.total})
    _upsert(
        DailySales,
        {"date": at.date()},
        {"orders_cancelled": F("orders_cancelled") + 1, "revenue_cancelled": F("revenue_cancelled") + event.total},
        {"orders_cancelled": 1, "revenue_cancelled": event.total},
    )
