"""The query API: read-only viewsets over the read models, each a queryset, a serializer, filters and permissions.

Every read goes to the replica the request is pinned to (core.routers),
through `self.read_database`; nothing here reads the write side's tables.
"""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from projections.registry import registry
from projections.status import follower_statuses
from queries.caching import CachedListMixin
from queries.consistency import ConsistentReadMixin
from queries.filters import DailySalesFilter, OrderFilter, ProductFilter, StableOrderingFilter
from queries.models import CustomerOrderHistory, DailySales, OrderSummary, ProductCatalog
from queries.openapi import ERRORS, MIN_POSITION, RESPONSE_HEADERS, query_schema
from queries.pagination import OrderCursorPagination, PagePagination
from queries.past import AS_OF_HELP, AS_OF_PARAMETER, PastStatesMixin
from queries.permissions import (
    AllowAny,
    IsAdminUser,
    IsAuthenticated,
    customers_visible_to,
    orders_visible_to,
)
from queries.serializers import (
    CustomerSerializer,
    DailySalesSerializer,
    OrderPastStateSerializer,
    OrderSerializer,
    ProductSerializer,
    ProjectionStatusDetailSerializer,
    ProjectionStatusSerializer,
    QueryErrorSerializer,
)
from queries.throttles import QueryAnonThrottle, QueryUserThrottle


class QueryViewSet(ConsistentReadMixin, viewsets.ReadOnlyModelViewSet):
    throttle_classes = [QueryAnonThrottle, QueryUserThrottle]
    filter_backends = [DjangoFilterBackend, StableOrderingFilter]
    pagination_class = PagePagination
    lookup_url_kwarg = "id"
    # Any segment reaches the view, so a malformed id is the API's JSON 404, not Django's page.
    lookup_value_regex = "[^/]+"

    def get_queryset(self):
        return super().get_queryset().using(self.read_database)


AS_OF = OpenApiParameter(AS_OF_PARAMETER, str, OpenApiParameter.QUERY, description=AS_OF_HELP)


@query_schema(ProductSerializer, cached=True)
class ProductViewSet(PastStatesMixin, CachedListMixin, QueryViewSet):
    """The catalog: price, category, stock available, units sold and status. Public."""

    queryset = ProductCatalog.objects.defer("search_vector")
    serializer_class = ProductSerializer
    filterset_class = ProductFilter
    ordering_fields = ["name", "price", "units_sold"]  # each served by an index
    permission_classes = [AllowAny]
    lookup_field = "product_id"
    projections = ("product_catalog",)
    cache_family = "products"
    aggregate = "product"

    def cache_visibility(self, request) -> str:
        return "public"  # everyone sees the same catalog

    @extend_schema(parameters=[AS_OF])
    def retrieve(self, request, *args, **kwargs):
        """A product, now or as it was at `as_of`."""
        return super().retrieve(request, *args, **kwargs)


@query_schema(OrderSerializer, list_errors=(400,))
class OrderViewSet(PastStatesMixin, QueryViewSet):
    """Order summaries with their customer and lines, newest first: a customer's own, or all for staff."""

    queryset = OrderSummary.objects.all()
    serializer_class = OrderSerializer
    filterset_class = OrderFilter
    pagination_class = OrderCursorPagination
    ordering = ("-placed_at", "-order_id")
    ordering_fields = ["placed_at", "total"]
    permission_classes = [IsAuthenticated]
    lookup_field = "order_id"
    aggregate = "order"
    history_serializer_class = OrderPastStateSerializer

    projections = ("order_summary", "customer_history")

    def projections_behind(self):
        if self.request.user.is_staff:
            return ("order_summary",)
        # Whose orders are whose comes from the customer history: it must be as recent.
        return self.projections

    def get_queryset(self):
        return orders_visible_to(self.request.user, super().get_queryset())

    @extend_schema(parameters=[AS_OF])
    def retrieve(self, request, *args, **kwargs):
        """An order, now or as it was at `as_of`."""
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        operation_id="queries_orders_history",
        parameters=[*MIN_POSITION, *RESPONSE_HEADERS],
        responses={
            200: OrderPastStateSerializer(many=True),
            **{
                code: OpenApiResponse(QueryErrorSerializer, description=ERRORS[code])
                for code in (400, 401, 404, 429, 503)
            },
        },
    )
    @action(detail=True, pagination_class=None, filter_backends=[])
    def history(self, request, *args, **kwargs):
        """The order after each of its events, oldest first, computed from the event log."""
        return self.history_response()


@query_schema(CustomerSerializer)
class CustomerViewSet(QueryViewSet):
    """Per customer: order count, lifetime value, last order. Staff see all; a customer sees their own."""

    queryset = CustomerOrderHistory.objects.all()
    serializer_class = CustomerSerializer
    ordering_fields = ["name", "order_count", "lifetime_value", "last_order_at"]
    permission_classes = [IsAuthenticated]
    lookup_field = "customer_id"
    projections = ("customer_history",)

    def get_queryset(self):
        return customers_visible_to(self.request.user, super().get_queryset())


@query_schema(DailySalesSerializer, staff_only=True, cached=True)
class DailySalesViewSet(CachedListMixin, QueryViewSet):
    """Per day (UTC): orders placed, items sold, revenue, cancellations. Staff only."""

    queryset = DailySales.objects.all()
    serializer_class = DailySalesSerializer
    filterset_class = DailySalesFilter
    ordering_fields = ["date", "orders_placed", "items_sold", "revenue", "orders_cancelled"]
    permission_classes = [IsAdminUser]
    lookup_field = "date"
    lookup_url_kwarg = "date"
    projections = ("daily_sales",)
    cache_family = "sales"


@query_schema(
    ProjectionStatusSerializer,
    detail_serializer=ProjectionStatusDetailSerializer,
    lookup=OpenApiParameter("name", str, OpenApiParameter.PATH, enum=list(registry())),
    staff_only=True,
)
class ProjectionStatusViewSet(ConsistentReadMixin, viewsets.ViewSet):
    """Each projection and subscriber: position, lag in events and seconds, state, last error. Staff only.

    The list's read position is the lowest of all; a detail's is that follower's own.
    """

    permission_classes = [IsAdminUser]
    throttle_classes = [QueryAnonThrottle, QueryUserThrottle]
    lookup_field = "name"
    lookup_value_regex = "[^/]+"

    def projections_behind(self):
        name = self.kwargs.get("name")
        if name is not None and name not in registry():
            raise NotFound(f"No projection or subscriber is named {name!r}.")
        return self.projections_awaited(self.kwargs)

    @classmethod
    def projections_awaited(cls, url_kwargs):
        name = url_kwargs.get("name")
        return (name,) if name in registry() else tuple(registry())

    def list(self, request):
        statuses = follower_statuses(self.read_database)
        self.read_position = min(status.position for status in statuses)
        return Response(ProjectionStatusSerializer(statuses, many=True).data)

    def retrieve(self, request, name=None):
        status = next(status for status in follower_statuses(self.read_database) if status.name == name)
        self.read_position = status.position
        return Response(ProjectionStatusDetailSerializer(status).data)
