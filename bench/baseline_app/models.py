"""The baseline's own tables: an order and its lines as a plain DRF app would store them.

No events, no versions, no stock: what a CRUD shop writes for the same order.
They live on `default`, next to the write model they point at.
"""

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
