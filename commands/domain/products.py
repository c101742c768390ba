"""The Product aggregate: catalog data, price and the stock still available to order."""

import uuid
from decimal import Decimal

from django.db import models
from django.utils import timezone

from commands.errors import InsufficientStock, ProductUnavailable


class Product(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, db_index=True)
    price = models.DecimalField(max_digits=12, decimal_places=2)
    # Units available to order: reserved when an order is placed, released on cancel.
    stock = models.PositiveIntegerField(default=0)
    discontinued = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=0)
    # Set by the handler from the command's time (see commands.handlers), which only seed_demo backdates.
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sku"]
        permissions = [("manage_catalog", "Can register, reprice, restock and discontinue products")]

    def __str__(self) -> str:
        return f"{self.sku} {self.name}"

    def reserve(self, quantity: int) -> None:
        """Take `quantity` units out of the stock available, or refuse."""
        if self.discontinued:
            raise ProductUnavailable(f"Product {self.sku} is discontinued and cannot be ordered.")
        if quantity > self.stock:
            raise InsufficientStock(
                f"Only {self.stock} of {self.sku} left; {quantity} requested.",
                extra={"product_id": str(self.id), "available": self.stock},
            )
        self.stock -= quantity

    def release(self, quantity: int) -> None:
        """Put back `quantity` units reserved by an order that will not ship."""
        self.stock += quantity

    def restock(self, quantity: int) -> None:
        if self.discontinued:
            raise ProductUnavailable(f"Product {self.sku} is discontinued and cannot be restocked.")
        self.stock += quantity

    def change_price(self, new_price: Decimal) -> None:
        if self.discontinued:
            raise ProductUnavailable(f"Product {self.sku} is discontinued; its price is frozen.")
        self.price = new_price

    def discontinue(self) -> None:
        if self.discontinued:
            raise ProductUnavailable(f"Product {self.sku} is already discontinued.")
        self.discontinued = True
