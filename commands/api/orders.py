"""Order command endpoints: customers order and pay for themselves; staff may act for anyone."""

from rest_framework import serializers, status

from commands.api.base import CommandView, VersionedInput
from commands.commands import (
    MAX_ORDER_LINES,
    MAX_QUANTITY,
    MAX_REASON_LENGTH,
    CancelOrder,
    OrderLineRequest,
    PayOrder,
    PlaceOrder,
    ShipOrder,
)
from commands.models import Product


class PlaceOrderView(CommandView):
    """Place an order: a line per product, with its quantity. A customer orders for themself; staff for anyone."""

    success_status = status.HTTP_201_CREATED

    class InputSerializer(serializers.Serializer):
        class LineInput(serializers.Serializer):
            product_id = serializers.UUIDField()
            quantity = serializers.IntegerField(min_value=1, max_value=MAX_QUANTITY)

        customer_id = serializers.UUIDField(
            required=False, help_text="Staff only: the customer to order for. Defaults to yourself."
        )
        lines = serializers.ListField(child=LineInput(), min_length=1, max_length=MAX_ORDER_LINES)

    def example_body(self):
        # A line of the first product that can be ordered, so the example goes through as it stands.
        product = Product.objects.filter(discontinued=False, stock__gt=0).order_by("sku").first()
        return {"lines": [{"product_id": product.pk, "quantity": 1}]} if product else None

    def build_command(self, data):
        return PlaceOrder(
            customer_id=data.get("customer_id"),
            lines=tuple(OrderLineRequest(**line) for line in data["lines"]),
            correlation_id=self.correlation_id(),
        )


class PayOrderView(CommandView):
    """Pay a placed order. Its customer, or staff."""

    InputSerializer = VersionedInput

    def build_command(self, data, order_id):
        return PayOrder(order_id=order_id, **data, correlation_id=self.correlation_id())


class ShipOrderView(CommandView):
    """Ship a paid order. Staff."""

    InputSerializer = VersionedInput

    def build_command(self, data, order_id):
        return ShipOrder(order_id=order_id, **data, correlation_id=self.correlation_id())


class CancelOrderView(CommandView):
    """Cancel an order that has not shipped; its stock is released. Its customer, or staff."""

    class InputSerializer(VersionedInput):
        reason = serializers.CharField(max_length=MAX_REASON_LENGTH, required=False, allow_blank=True, default="")

    def build_command(self, data, order_id):
        return CancelOrder(order_id=order_id, **data, correlation_id=self.correlation_id())
