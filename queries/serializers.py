"""How read models look in query responses: every field read-only, ids named `id` as on the command side."""

from rest_framework import serializers

from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog


class ReadOnlyModelSerializer(serializers.ModelSerializer):
    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.read_only = True
        return fields


class ProductSerializer(ReadOnlyModelSerializer):
    id = serializers.UUIDField(source="product_id")

    class Meta:
        model = ProductCatalog
        fields = [
            "id",
            "sku",
            "name",
            "description",
            "category",
            "price",
            "stock_available",
            "units_sold",
            "status",
            "updated_at",
        ]


class OrderLineSerializer(serializers.Serializer):
    product_id = serializers.UUIDField()
    sku = serializers.CharField()
    product_name = serializers.CharField()
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="The price when ordered.")


class OrderSerializer(ReadOnlyModelSerializer):
    id = serializers.UUIDField(source="order_id")
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = OrderSummary
        fields = [
            "id",
            "customer_id",
            "customer_name",
            "customer_email",
            "status",
            "item_count",
            "total",
            "currency",
            "lines",
            "placed_at",
            "paid_at",
            "shipped_at",
            "cancelled_at",
            "cancellation_reason",
        ]


class PastStateSerializer(serializers.Serializer):
    """One state in a row's history (projections.history.PastState): the event, and the row after it."""

    position = serializers.IntegerField(help_text="The position of the event that led to this state.")
    recorded_at = serializers.DateTimeField(help_text="When that event was recorded.")
    type = serializers.CharField(source="event_type", help_text="That event's type, e.g. OrderPaid.")


class OrderPastStateSerializer(PastStateSerializer):
    state = OrderSerializer(source="row", help_text="The order after the event, as its detail shows it.")


class CustomerSerializer(ReadOnlyModelSerializer):
    id = serializers.UUIDField(source="customer_id")

    class Meta:
        model = CustomerOrderHistory
        fields = ["id", "user_id", "name", "email", "order_count", "lifetime_value", "last_order_at"]
        extra_kwargs = {"lifetime_value": {"help_text": "What the customer's paid and shipped orders are worth."}}


class DailySalesSerializer(ReadOnlyModelSerializer):
    class Meta:
        model = DailySales
        fields = ["date", "orders_placed", "items_sold", "revenue", "orders_cancelled", "revenue_cancelled"]


class ProjectionStatusSerializer(serializers.Serializer):
    """One projection, subscriber or process manager (projections.status.FollowerStatus)."""

    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["projection", "subscriber", "process_manager"])
    queue = serializers.CharField()
    position = serializers.IntegerField(help_text="The last event applied.")
    head = serializers.IntegerField(help_text="The newest event in the log.")
    lag_events = serializers.IntegerField(help_text="Events not yet applied.")
    lag_seconds = serializers.FloatField(help_text="Age of the oldest event not yet applied; 0 when caught up.")
    state = serializers.ChoiceField(choices=["live", "failed", "rebuilding"])
    failed_position = serializers.IntegerField(allow_null=True, help_text="The event it failed on, if any.")
    last_error = serializers.CharField(help_text="The last line of the last failure, or empty.")
    updated_at = serializers.DateTimeField(allow_null=True)


class ProjectionStatusDetailSerializer(ProjectionStatusSerializer):
    error = serializers.CharField(help_text="The message and traceback of the last failure, or empty.")


class QueryErrorSerializer(serializers.Serializer):
    """The common error body (config/api.py); named apart from the command side's identical `Error`."""

    code = serializers.CharField(help_text="Machine-readable error code.")
    detail = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Invalid input: the messages of each offending parameter.",
    )
