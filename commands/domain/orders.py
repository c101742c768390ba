"""The Order aggregate: lines priced when placed, and its status life cycle.

placed -> paid -> shipped, and cancelled from placed or paid (never after shipping).
"""

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone

from commands.errors import IllegalStatusChange


class OrderStatus(models.TextChoices):
    PLACED = "placed"
    PAID = "paid"
    SHIPPED = "shipped"
    CANCELLED = "cancelled"


ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PLACED: frozenset({OrderStatus.PAID, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.CANCELLED}),
    OrderStatus.SHIPPED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
}


# The largest total Order.total (14 digits, 2 after the point) can store.
MAX_TOTAL = Decimal("999999999999.99")


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    customer = models.ForeignKey("commands.Customer", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    total = models.DecimalField(max_digits=14, decimal_places=2)
    version = models.PositiveIntegerField(default=0)
    # Set by the handler from the command's time (see commands.handlers), which only seed_demo backdates.
    placed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [models.Index(fields=["customer", "-placed_at"])]

    def __str__(self) -> str:
        return f"Order {self.id} ({self.status})"

    def move_to(self, status: str) -> str:
        """Change the status if the life cycle allows it; return the previous status."""
        if status not in ALLOWED_TRANSITIONS[self.status]:
            raise IllegalStatusChange(f"An order that is {self.status} cannot become {status}.")
        previous, self.status = self.status, status
        return previous


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("commands.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="one_line_per_product"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="line_quantity_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product_id} at {self.unit_price}"
