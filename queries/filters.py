"""Filters, search and ordering of the query lists.

Every filter validates its input through a form field, so a malformed value
is a 400 with the field's message, never a database error; unknown query
parameters and unknown ordering fields are ignored.
"""

from datetime import UTC, datetime

import django_filters as filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connections
from django.db.models import F, Q
from django_filters.fields import IsoDateTimeField
from rest_framework.filters import OrderingFilter

from commands.domain.orders import OrderStatus
from queries.models import DailySales, OrderSummary, ProductCatalog

MAX_SEARCH_LENGTH = 200
PRICE_DIGITS = {"max_digits": 12, "decimal_places": 2}
TOTAL_DIGITS = {"max_digits": 14, "decimal_places": 2}


def utc_datetime(value: datetime) -> datetime:
    """Return `value` in UTC, which the databases store; raise ValueError if it has no UTC equivalent.

    Converting here also spares PostgreSQL offsets it refuses: Python accepts up
    to ±23:59, PostgreSQL ±15:59.
    """
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError as error:  # 0001-01-01T00:00+01:00 has none
        raise ValueError("out of range") from error


class UtcDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        value = super().to_python(value)
        try:
            return None if value is None else utc_datetime(value)
        except ValueError as error:
            raise forms.ValidationError("Enter a date and time within years 1 to 9999.", code="invalid") from error


class UtcDateTimeFilter(filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class ProductFilter(filters.FilterSet):
    search = filters.CharFilter(
        method="search_catalog",
        max_length=MAX_SEARCH_LENGTH,
        label="Words to look for in the name, SKU, category and description (web search syntax on PostgreSQL); "
        "results come best match first unless `ordering` is given.",
    )
    category = filters.CharFilter(max_length=100)
    min_price = filters.NumberFilter(field_name="price", lookup_expr="gte", label="Price at least", **PRICE_DIGITS)
    max_price = filters.NumberFilter(field_name="price", lookup_expr="lte", label="Price at most", **PRICE_DIGITS)
    in_stock = filters.BooleanFilter(method="filter_in_stock", label="Has stock available (true) or none (false)")
    status = filters.ChoiceFilter(choices=ProductCatalog.Status.choices)

    class Meta:
        model = ProductCatalog
        fields = ["search", "category", "min_price", "max_price", "in_stock", "status"]

    def filter_in_stock(self, queryset, name, value: bool):
        return queryset.filter(stock_available__gt=0) if value else queryset.filter(stock_available__lte=0)

    def search_catalog(self, queryset, name, value: str):
        words = value.strip()
        if not words:
            return queryset
        if connections[queryset.db].vendor != "postgresql":
            # SQLite has no full-text search: a plain substring match will do for the embedded default.
            return queryset.filter(
                Q(name__icontains=words)
                | Q(sku__icontains=words)
                | Q(category__icontains=words)
                | Q(description__icontains=words)
            )
        # websearch_to_tsquery accepts any text (quotes, "or", "-word") without syntax errors.
        query = SearchQuery(words, search_type="websearch", config="english")
        return (
            queryset.filter(search_vector=query)
            .annotate(search_rank=SearchRank(F("search_vector"), query))
            .order_by("-search_rank", "name", "product_id")
        )


class OrderFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=OrderStatus.choices)
    customer = filters.UUIDFilter(field_name="customer_id", label="The customer's id")
    placed_after = UtcDateTimeFilter(field_name="placed_at", lookup_expr="gte", label="Placed at or after")
    placed_before = UtcDateTimeFilter(field_name="placed_at", lookup_expr="lte", label="Placed at or before")
    min_total = filters.NumberFilter(field_name="total", lookup_expr="gte", label="Total at least", **TOTAL_DIGITS)
    max_total = filters.NumberFilter(field_name="total", lookup_expr="lte", label="Total at most", **TOTAL_DIGITS)

    class Meta:
        model = OrderSummary
        fields = ["status", "customer", "placed_after", "placed_before", "min_total", "max_total"]


class DailySalesFilter(filters.FilterSet):
    date_after = filters.DateFilter(field_name="date", lookup_expr="gte", label="On or after this day")
    date_before = filters.DateFilter(field_name="date", lookup_expr="lte", label="On or before this day")

    class Meta:
        model = DailySales
        fields = ["date_after", "date_before"]


class StableOrderingFilter(OrderingFilter):
    """`?ordering=` over the view's `ordering_fields`, completed by the primary key.

    The tie-breaker gives rows with equal values (prices, totals) one fixed
    order, so a page never repeats or skips a row that sorted equal to another.
    """

    def get_schema_operation_parameters(self, view):
        fields = ", ".join(view.ordering_fields)
        (parameter,) = super().get_schema_operation_parameters(view)
        parameter["description"] = (
            f"Comma-separated fields to sort by, each optionally prefixed with `-` for descending: {fields}. "
            "Other fields are ignored."
        )
        return [parameter]

    def get_ordering(self, request, queryset, view):
        ordering = super().get_ordering(request, queryset, view)
        if not ordering:
            return ordering
        pk = queryset.model._meta.pk.name
        if pk not in {field.lstrip("-") for field in ordering}:
            ordering = [*ordering, pk]
        return ordering
