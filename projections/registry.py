"""Every follower of the event log, by name.

This is the one module that knows the concrete projections and subscribers;
`base` stays abstract, so the followers can import it without an import circle.
"""

from __future__ import annotations

import functools

from projections.base import Projection, Subscriber
from projections.catalog import ProductCatalogProjection
from projections.customers import CustomerOrderHistoryProjection
from projections.orders import OrderSummaryProjection
from projections.process_managers.low_stock import LowStockAlert
from projections.process_managers.payment_timeout import PaymentTimeout
from projections.sales import DailySalesProjection
from projections.subscribers.cache import CacheInvalidator
from projections.subscribers.notifications import Notifier


@functools.cache
def registry() -> dict[str, Projection | Subscriber]:
    """Every follower, by name: projections first, then subscribers and process managers."""
    followers = [
        ProductCatalogProjection(),
        OrderSummaryProjection(),
        CustomerOrderHistoryProjection(),
        DailySalesProjection(),
        Notifier(),
        CacheInvalidator(),
        PaymentTimeout(),
        LowStockAlert(),
    ]
    return {follower.name: follower for follower in followers}


def replayable_projections() -> dict[str, Projection]:
    """The replayable projections (the read models), by name."""
    return {name: follower for name, follower in registry().items() if follower.replayable}
