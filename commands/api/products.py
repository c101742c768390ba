"""Catalog command endpoints (staff and catalog managers)."""

from decimal import Decimal

from rest_framework import serializers, status

from commands.api.base import CommandView, VersionedInput
from commands.commands import (
    MAX_CATEGORY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PRICE,
    MAX_QUANTITY,
    MAX_SKU_LENGTH,
    MAX_STOCK,
    ChangePrice,
    DiscontinueProduct,
    RegisterProduct,
    RestockProduct,
)

PRICE = {"max_digits": 12, "decimal_places": 2, "min_value": Decimal("0.01"), "max_value": MAX_PRICE}


class RegisterProductView(CommandView):
    """Register a product in the catalog. Staff and catalog managers."""

    success_status = status.HTTP_201_CREATED

    class InputSerializer(serializers.Serializer):
        sku = serializers.CharField(max_length=MAX_SKU_LENGTH)
        name = serializers.CharField(max_length=MAX_NAME_LENGTH)
        description = serializers.CharField(required=False, allow_blank=True, default="")
        category = serializers.CharField(max_length=MAX_CATEGORY_LENGTH)
        price = serializers.DecimalField(**PRICE)
        stock = serializers.IntegerField(min_value=0, max_value=MAX_STOCK, default=0)

    def build_command(self, data):
        return RegisterProduct(**data, correlation_id=self.correlation_id())


class ChangePriceView(CommandView):
    """Change a product's price; orders already placed keep theirs. Staff and catalog managers."""

    class InputSerializer(VersionedInput):
        new_price = serializers.DecimalField(**PRICE)

    def build_command(self, data, product_id):
        return ChangePrice(product_id=product_id, **data, correlation_id=self.correlation_id())


class RestockProductView(CommandView):
    """Add units to a product's stock. Staff and catalog managers."""

    class InputSerializer(VersionedInput):
        quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

    def build_command(self, data, product_id):
        return RestockProduct(product_id=product_id, **data, correlation_id=self.correlation_id())


class DiscontinueProductView(CommandView):
    """Discontinue a product: it can no longer be ordered. Staff and catalog managers."""

    InputSerializer = VersionedInput

    def build_command(self, data, product_id):
        return DiscontinueProduct(product_id=product_id, **data, correlation_id=self.correlation_id())
