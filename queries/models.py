"""The read models: denormalized tables on the read databases, written only by projections.

Nothing but fields, indexes and Meta. Every row is keyed by the id of the
thing a reader asks for, so a projection can upsert it in bulk.
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models

from commands.domain.orders import OrderStatus


def shop_currency() -> str:
    """The shop's currency (SHOP_CURRENCY): what an order is in unless its events say otherwise."""
    return settings.SHOP_CURRENCY


class ProductCatalog(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        DISCONTINUED = "discontinued"

    product_id = models.UUIDField(primary_key=True)
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    stock_available = models.IntegerField(default=0)
    units_sold = models.IntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    updated_at = models.DateTimeField()  # when the last event that changed the row was recorded
    # Filled on PostgreSQL only (name, category, description); stays empty on SQLite.
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        ordering = ["name", "product_id"]
        indexes = [
            models.Index(fields=["category", "price"], name="catalog_category_price"),
            models.Index(fields=["price"], name="catalog_price"),
            models.Index(fields=["-units_sold"], name="catalog_best_sellers"),
            models.Index(fields=["status", "stock_available"], name="catalog_status_stock"),
            models.Index(fields=["name", "product_id"], name="catalog_name"),
            # The GIN index on search_vector is created by a migration, on PostgreSQL only.
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class OrderSummary(models.Model):
    order_id = models.UUIDField(primary_key=True)
    customer_id = models.UUIDField()
    customer_name = models.CharField(max_length=200)
    customer_email = models.EmailField()
    status = models.CharField(max_length=16, choices=OrderStatus.choices)
    item_count = models.PositiveIntegerField(default=0)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3, default=shop_currency)  # of the total and the lines' prices (ISO 4217)
    lines = models.JSONField(default=list)  # [{product_id, sku, product_name, quantity, unit_price}]
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # Why: the customer's or operator's words, or "payment_timeout" when it was never paid. A default in the
    # database too, so that rows written without it (older code during a deploy, bulk SQL) still insert.
    cancellation_reason = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        ordering = ["-placed_at", "-order_id"]
        verbose_name_plural = "order summaries"
        indexes = [
            models.Index(fields=["customer_id", "-placed_at", "-order_id"], name="order_by_customer"),
            models.Index(fields=["-placed_at", "-order_id"], name="order_by_placed"),
            models.Index(fields=["status", "-placed_at"], name="order_by_status"),
            models.Index(fields=["total"], name="order_by_total"),
        ]

    def __str__(self) -> str:
        return f"Order {self.order_id} ({self.status})"


class CustomerOrderHistory(models.Model):
    customer_id = models.UUIDField(primary_key=True)
    user_id = models.IntegerField(null=True, unique=True)
    name = models.CharField(max_length=200)
    email = models.EmailField()
    order_count = models.PositiveIntegerField(default=0)
    # Paid and shipped orders; a paid order that is cancelled leaves it again.
    lifetime_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    last_order_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "customer_id"]
        verbose_name_plural = "customer order histories"
        indexes = [
            models.Index(fields=["-lifetime_value"], name="customer_by_value"),
            models.Index(fields=["-last_order_at"], name="customer_by_last_order"),
            models.Index(fields=["name", "customer_id"], name="customer_by_name"),
            models.Index(fields=["-order_count"], name="customer_by_order_count"),
        ]

    def __str__(self) -> str:
        return self.name


class DailySales(models.Model):
    date = models.DateField(primary_key=True)
    orders_placed = models.PositiveIntegerField(default=0)
    items_sold = models.PositiveIntegerField(default=0)
    revenue = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    orders_cancelled = models.PositiveIntegerField(default=0)
    revenue_cancelled = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "daily sales"

    def __str__(self) -> str:
        return str(self.date)
