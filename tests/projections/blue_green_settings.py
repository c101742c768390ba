"""The settings of a worker running the deploy of version 2 of the customer history (tests.projections.blue_green)."""

from config.settings import *  # noqa: F403

PROJECTION_FOLLOWERS = [
    "projections.catalog.ProductCatalogProjection",
    "projections.orders.OrderSummaryProjection",
    "tests.projections.blue_green.CustomerOrderHistoryVersion2Projection",
    "projections.sales.DailySalesProjection",
    "projections.subscribers.notifications.Notifier",
    "projections.subscribers.cache.CacheInvalidator",
    "projections.process_managers.payment_timeout.PaymentTimeout",
    "projections.process_managers.low_stock.LowStockAlert",
]
