"""Baseline views: what the same requests cost without CQRS.

- `PlainOrderViewSet`: a DRF ModelViewSet whose create stores an order and its lines
  (no events, no stock check, no version): the baseline of PlaceOrder over HTTP.
- The `Write…View`s answer the query API's questions straight from the write model, with
  joins and aggregation at request time: the baselines of the read models.
- The `Plain…View`s answer the query API's reads from plain tables holding the read models' rows
  (benchmark 9): a RetrieveAPIView or ListAPIView, a ModelSerializer, the same page size and auth,
  and nothing else: no read position, no throttles, no response cache, no replica.
"""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import transaction
from django.db.models import Count, DecimalField, F, IntegerField, OuterRef, Prefetch, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from rest_framework import generics, serializers, viewsets
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import AllowAny, IsAdminUser, IsAuthenticated

from bench.baseline_app.models import PlainOrder, PlainOrderLine, PlainOrderSummary, PlainProduct
from commands.models import Order, OrderLine, Product
from queries.serializers import OrderLineSerializer

# --- The command baseline -------------------------------------------------------------------


class PlainOrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlainOrderLine
        fields = ["product", "quantity", "unit_price"]


class PlainOrderSerializer(serializers.ModelSerializer):
    lines = PlainOrderLineSerializer(many=True)

    class Meta:
        model = PlainOrder
        fields = ["id", "customer", "status", "total", "placed_at", "lines"]
        read_only_fields = ["placed_at"]

    def create(self, validated_data):
        lines = validated_data.pop("lines")
        with transaction.atomic():
            order = PlainOrder.objects.create(**validated_data)
            PlainOrderLine.objects.bulk_create(PlainOrderLine(order=order, **line) for line in lines)
        return order


class PlainOrderViewSet(viewsets.ModelViewSet):
    queryset = PlainOrder.objects.prefetch_related("lines")
    serializer_class = PlainOrderSerializer
    permission_classes = [IsAuthenticated]


# --- The query baselines --------------------------------------------------------------------


class _Page(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class WriteOrderSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name")
    customer_email = serializers.CharField(source="customer.email")
    item_count = serializers.IntegerField()
    lines = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "customer_id", "customer_name", "customer_email", "status", "item_count", "total", "lines"]
        fields += ["placed_at"]

    def get_lines(self, order):
        return [
            {
                "product_id": str(line.product_id),
                "sku": line.product.sku,
                "product_name": line.product.name,
                "quantity": line.quantity,
                "unit_price": str(line.unit_price),
            }
            for line in order.lines.all()
        ]


class _NewestFirst(CursorPagination):
    page_size = 20
    ordering = ("-placed_at", "-id")


class WriteOrdersView(generics.ListAPIView):
    """The signed-in customer's orders, newest first, with customer and lines joined in."""

    serializer_class = WriteOrderSerializer
    permission_classes = [IsAuthenticated]
    pagination_class = _NewestFirst

    def get_queryset(self):
        lines = OrderLine.objects.select_related("product").order_by("pk")
        return (
            Order.objects.filter(customer__user=self.request.user)
            .select_related("customer")
            .annotate(item_count=Sum("lines__quantity"))
            .prefetch_related(Prefetch("lines", queryset=lines))
        )


class WriteProductSerializer(serializers.ModelSerializer):
    units_sold = serializers.IntegerField()

    class Meta:
        model = Product
        fields = ["id", "sku", "name", "description", "category", "price", "stock", "units_sold", "discontinued"]


class WriteProductsView(generics.ListAPIView):
    """Full-text search of the catalog, computed from the write model: a vector per row, units sold summed."""

    serializer_class = WriteProductSerializer
    permission_classes = []
    pagination_class = _Page

    def get_queryset(self):
        query = SearchQuery(self.request.query_params.get("search", ""), search_type="websearch", config="english")
        vector = (
            SearchVector("name", weight="A", config="english")
            + SearchVector("category", weight="B", config="english")
            + SearchVector("description", weight="C", config="english")
        )
        sold = (
            OrderLine.objects.filter(product=OuterRef("pk"))
            .exclude(order__status="cancelled")
            .values("product")
            .annotate(total=Sum("quantity"))
            .values("total")
        )
        return (
            Product.objects.annotate(vector=vector)
            .filter(vector=query)
            .annotate(
                rank=SearchRank(F("vector"), query),
                units_sold=Coalesce(Subquery(sold, output_field=IntegerField()), Value(0)),
            )
            .order_by("-rank", "name", "id")
        )


class WriteDailySalesView(generics.ListAPIView):
    """Orders, items and revenue per day, aggregated from orders and their lines (staff)."""

    permission_classes = [IsAdminUser]
    pagination_class = _Page

    class OutputSerializer(serializers.Serializer):
        date = serializers.DateField()
        orders_placed = serializers.IntegerField()
        items_sold = serializers.IntegerField()
        revenue = serializers.DecimalField(max_digits=16, decimal_places=2)
        orders_cancelled = serializers.IntegerField()
        revenue_cancelled = serializers.DecimalField(max_digits=16, decimal_places=2)

    serializer_class = OutputSerializer

    def get_queryset(self):
        params = self.request.query_params
        items = OrderLine.objects.filter(order=OuterRef("pk")).values("order").annotate(n=Sum("quantity")).values("n")
        money = DecimalField(max_digits=16, decimal_places=2)
        cancelled = Q(status="cancelled")
        return (
            Order.objects.filter(placed_at__date__gte=params["date_after"], placed_at__date__lte=params["date_before"])
            .annotate(date=TruncDate("placed_at"), items=Subquery(items, output_field=IntegerField()))
            .values("date")
            .annotate(
                orders_placed=Count("pk"),
                items_sold=Sum("items"),
                revenue=Sum("total", output_field=money),
                orders_cancelled=Count("pk", filter=cancelled),
                revenue_cancelled=Coalesce(Sum("total", filter=cancelled, output_field=money), Value(0, money)),
            )
            .order_by("-date")
        )


# --- The baselines of reads over HTTP: the read models' rows in plain tables ------------------


class PlainProductSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlainProduct
        fields = ["id", "sku", "name", "description", "category", "price", "stock_available", "units_sold"]
        fields += ["status", "updated_at"]


class PlainProductView(generics.RetrieveAPIView):
    """A product of the catalog. Public."""

    queryset = PlainProduct.objects.all()
    serializer_class = PlainProductSerializer
    permission_classes = [AllowAny]


class PlainProductsView(generics.ListAPIView):
    """The catalog by name, a page at a time. Public."""

    queryset = PlainProduct.objects.all()
    serializer_class = PlainProductSerializer
    permission_classes = [AllowAny]
    pagination_class = _Page


class PlainOrderSummarySerializer(serializers.ModelSerializer):
    # The query API's own line serializer: its prices come out with two decimals, whatever the JSON holds.
    lines = OrderLineSerializer(many=True)

    class Meta:
        model = PlainOrderSummary
        fields = ["id", "customer_id", "customer_name", "customer_email", "status", "item_count", "total"]
        fields += ["currency", "lines", "placed_at", "paid_at", "shipped_at", "cancelled_at", "cancellation_reason"]


class PlainOrdersView(generics.ListAPIView):
    """The signed-in user's orders, newest first."""

    serializer_class = PlainOrderSummarySerializer
    permission_classes = [IsAuthenticated]
    pagination_class = _NewestFirst

    def get_queryset(self):
        return PlainOrderSummary.objects.filter(user=self.request.user)
