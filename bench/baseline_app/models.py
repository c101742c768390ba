"""The baseline's own tables: what a plain DRF app would store for the same orders and reads.

- `PlainOrder` and its lines: no events, no versions, no stock: what a CRUD shop writes for the same order.
- `PlainProduct` and `PlainOrderSummary`: the read models' rows copied into plain tables (benchmark 9),
  with the indexes their lists need; an order names its owner's user, as a plain shop's would.

They live on `default`, next to the write model they point at.
"""

from django.conf import settings
from django.db import models


class PlainOrder(models.Model):
    customer = models.ForeignKey("commands.Customer", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, default="placed")
    total = models.DecimalField(max_digits=14, decimal_places=2)
    placed_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Plain order {self.pk}"


class PlainOrderLine(models.Model):
    order = models.ForeignKey(PlainOrder, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("commands.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id}"


class PlainProduct(models.Model):
    """A row of the catalog (queries.models.ProductCatalog), as a plain table."""

    id = models.UUIDField(primary_key=True)
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    stock_available = models.IntegerField()
    units_sold = models.IntegerField()
    status = models.CharField(max_length=16)
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["name", "id"], name="plain_product_by_name")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"


class PlainOrderSummary(models.Model):
    """A row of the order summaries (queries.models.OrderSummary), as a plain table, with its owner."""

    id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", db_index=False)
    customer_id = models.UUIDField()
    customer_name = models.CharField(max_length=200)
    customer_email = models.EmailField()
    status = models.CharField(max_length=16)
    item_count = models.PositiveIntegerField()
    total = models.DecimalField(max_digits=14, decimal_places=2)
    currency = models.CharField(max_length=3)
    lines = models.JSONField()
    placed_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True)
    shipped_at = models.DateTimeField(null=True)
    cancelled_at = models.DateTimeField(null=True)
    cancellation_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-placed_at", "-id"], name="plain_order_by_user")]

    def __str__(self) -> str:
        return f"Plain order summary {self.pk}"
