"""Every follower of the event log, by name.

This is the one module that knows the concrete projections, subscribers and
process managers; `base` stays abstract, so the followers can import it without
an import circle. PROJECTION_FOLLOWERS (dotted class paths) replaces the list:
a deploy test brings in a projection's next version that way.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string

from projections.base import Projection, Subscriber

# Projections first, then subscribers and process managers.
FOLLOWERS = [
    "projections.catalog.ProductCatalogProjection",
    "projections.orders.OrderSummaryProjection",
    "projections.customers.CustomerOrderHistoryProjection",
    "projections.sales.DailySalesProjection",
    "projections.subscribers.notifications.Notifier",
    "projections.subscribers.cache.CacheInvalidator",
    "projections.process_managers.payment_timeout.PaymentTimeout",
    "projections.process_managers.low_stock.LowStockAlert",
]


@functools.cache
def registry() -> dict[str, Projection | Subscriber]:
    """Every follower, by name, in FOLLOWERS' order."""
    paths = getattr(settings, "PROJECTION_FOLLOWERS", None) or FOLLOWERS
    followers = [import_string(path)() for path in paths]
    return {follower.name: follower for follower in followers}


def replayable_projections() -> dict[str, Projection]:
    """The replayable projections (the read models), by name."""
    return {name: follower for name, follower in registry().items() if follower.replayable}
